"""Settings, read once from the environment and `.env`."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.embed.origins import parse_origins

DEV_SECRET_KEY = "dev-only-secret-key-change-me-0123456789"
SMTP_SCHEMES = ("smtp", "smtp+starttls", "smtps")


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class VoucherScope(StrEnum):
    """Where a voucher may be given: anywhere in the gemeente, or only in its own wijk or buurt."""

    gemeente = "gemeente"
    wijk = "wijk"
    buurt = "buurt"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    environment: Environment = Environment.development
    database_url: str = Field(default=f"sqlite:///{Path('var/buurtkas.db').absolute()}")
    secret_key: str = ""
    base_url: str = "http://127.0.0.1:8000"
    municipality_name: str = "Almelo"
    media_dir: Path = Field(default=Path("var/media").absolute())
    """Where initiative photos are stored (served under /media/)."""
    print_dir: Path = Field(default=Path("var/print").absolute())
    """Where print batches (voucher codes in plain text, mode 0600) are written when a period is opened in
    the back office; never served over HTTP."""

    letters_logo_path: Path | None = None
    """The municipality's logo on the voucher letters (PNG or JPEG); empty: a neutral default."""

    voucher_scope: VoucherScope = VoucherScope.gemeente
    default_voucher_value_cents: int = Field(default=750, gt=0)
    initiative_min_target_cents: int = Field(default=5_000, gt=0)
    initiative_max_target_cents: int = Field(default=250_000, gt=0)
    min_pledge_cents: int = Field(default=100, gt=0)
    initiative_min_organisers: int = Field(default=1, ge=0, le=5)
    """Co-organisers (besides the initiator) an initiative needs before it can be submitted."""

    # Failed voucher-code attempts (unknown codes) allowed per window, per client and in total.
    code_failures_per_client: int = Field(default=20, gt=0)
    code_failures_total: int = Field(default=2_000, gt=0)
    code_failure_window_seconds: int = Field(default=600, gt=0)

    # Staff sign-in: failures in a row before an account is locked, and for how long; failures per client
    # address and in total per 10 minutes (across all accounts).
    staff_lockout_failures: int = Field(default=5, gt=0)
    staff_lockout_minutes: int = Field(default=15, gt=0)
    staff_failures_per_client: int = Field(default=20, gt=0)
    staff_failures_total: int = Field(default=500, gt=0)

    # The municipality's own account, from which payouts are paid (the debtor in the SEPA file).
    payout_debtor_name: str = ""
    payout_debtor_iban: str = ""
    payout_debtor_bic: str = ""

    db_pool_size: int = Field(default=10, gt=0)
    db_max_overflow: int = Field(default=10, ge=0)
    # Threads per process that run the (synchronous) route handlers. Fewer threads than clients keeps
    # the database from thrashing on the hot initiative row: 64 clients queue in the app, not in locks.
    worker_threads: int = Field(default=8, gt=0, le=256)
    sqlite_busy_timeout_ms: int = Field(default=15_000, gt=0)

    stripe_api_key: str = ""
    """Empty: donations are switched off (the button is hidden, the routes answer 404)."""
    stripe_webhook_secret: str = ""
    stripe_api_base: str = ""
    """Where the Stripe SDK sends its requests; empty: Stripe itself. Tests point it at a local fake."""
    stripe_webhook_tolerance_seconds: int = Field(default=300, gt=0)
    donation_min_cents: int = Field(default=100, gt=0)
    donation_max_cents: int = Field(default=50_000, gt=0)
    smtp_url: str = ""
    """`smtp://user:pass@host:port`, `smtp+starttls://…` or `smtps://…`; empty: mail stays in the outbox."""
    mail_from: str = "Buurtkas <noreply@buurtkas.localhost>"
    metrics_token: str = ""
    """Bearer token for GET /metrics (Prometheus `authorization: credentials`); empty: /metrics answers 404
    in production and is open in development and test."""
    retention_days: int = Field(default=365, ge=0, le=36_500)
    """Days after an initiative closed before `buurtkas retention run` removes its initiator's, co-organisers'
    and donors' personal data."""
    embed_cache_seconds: float = Field(default=15, ge=0, le=3_600)
    """How long a rendered widget is reused by one app process (0: render every request)."""
    embed_allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Sites that may frame /embed/* and read the public API over CORS: scheme://host[:port], comma separated."""

    @field_validator("embed_allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            return parse_origins(str(part) for part in value)
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url_form(cls, value: str) -> str:
        value = value.strip()
        if value:
            parts = urlsplit(value)
            if parts.scheme not in SMTP_SCHEMES or not parts.hostname:
                raise ValueError(
                    "SMTP_URL must look like smtp://user:pass@host:port, smtp+starttls://… or smtps://…"
                )
            parts.port  # noqa: B018  # raises ValueError on a port that is not a number 0-65535
        return value

    @model_validator(mode="after")
    def _secrets_present(self) -> Settings:
        if not self.secret_key:
            if self.environment == Environment.production:
                raise ValueError(
                    "SECRET_KEY is not set. Production refuses to start without it: set SECRET_KEY to a long "
                    "random value (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)."
                )
            self.secret_key = DEV_SECRET_KEY
        elif self.environment == Environment.production and len(self.secret_key) < 32:
            raise ValueError("SECRET_KEY must be at least 32 characters in production.")
        if self.stripe_api_key and not self.stripe_webhook_secret:
            raise ValueError(
                "STRIPE_API_KEY is set but STRIPE_WEBHOOK_SECRET is not: without it no payment can be"
                " confirmed. Set the endpoint's signing secret (whsec_…) from Stripe's dashboard."
            )
        if self.donation_min_cents > self.donation_max_cents:
            raise ValueError("DONATION_MIN_CENTS is larger than DONATION_MAX_CENTS.")
        if self.initiative_min_target_cents > self.initiative_max_target_cents:
            raise ValueError("INITIATIVE_MIN_TARGET_CENTS is larger than INITIATIVE_MAX_TARGET_CENTS.")
        return self

    @property
    def donations_enabled(self) -> bool:
        return bool(self.stripe_api_key)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
