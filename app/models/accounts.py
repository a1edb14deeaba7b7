from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdType, UTCDateTime, created_column, id_column


class Account(Base):
    """An initiator's account: only what is needed to sign in and to be reached."""

    __tablename__ = "accounts"

    id: Mapped[int] = id_column()
    email: Mapped[str] = mapped_column(String(254), unique=True)
    """Normalised (lower-case domain and local part)."""
    display_name: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    """argon2; empty for accounts that only sign in with a magic link."""
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    locale: Mapped[str] = mapped_column(String(5), default="nl")
    created_at: Mapped[datetime] = created_column()


class AccountSession(Base):
    """A signed-in browser. The cookie holds a random token; only its hash is stored."""

    __tablename__ = "account_sessions"

    id: Mapped[int] = id_column()
    account_id: Mapped[int] = mapped_column(IdType, ForeignKey("accounts.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = created_column()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TokenPurpose(StrEnum):
    verify = "verify"
    login = "login"
    reset = "reset"


_PURPOSES = ", ".join(f"'{p}'" for p in TokenPurpose)


class AccountToken(Base):
    """A one-time link sent by e-mail (verify the address, sign in, reset the password); hash only."""

    __tablename__ = "account_tokens"
    __table_args__ = (CheckConstraint(f"purpose IN ({_PURPOSES})", name="purpose"),)

    id: Mapped[int] = id_column()
    account_id: Mapped[int] = mapped_column(IdType, ForeignKey("accounts.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(10))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = created_column()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
