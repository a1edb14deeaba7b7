"""Structured logs: JSON in production, readable in development; ids, never personal data or codes.

Log calls name ids (`account_id=…`, `message_id=…`), never an address, name, code or token. As a second line
of defence `redact` runs over every event before it is rendered: whatever looks like a voucher code, an
e-mail address, an IBAN or a token (a long random-looking word) is replaced, in any field, in exception
texts too, and fields whose name says they hold such data (`email`, `code`, `iban`, `name`, …) are dropped
to a placeholder whatever they hold. The same rules apply to the standard-library records of uvicorn and
SQLAlchemy (whose error messages may quote the parameters of a query).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any, TextIO

import structlog

from app.config import Environment, Settings

CODE = "[code]"
EMAIL = "[e-mail]"
IBAN = "[iban]"
TOKEN = "[token]"
REDACTED = "[redacted]"

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
# Voucher codes as shown (K7QM-2XHD-9RTW-F5) or typed (any case, dashes or spaces or nothing between groups).
_CODE = re.compile(
    r"(?<![0-9A-Za-z])[0-9A-Za-z]{4}(?:[- ]?[0-9A-Za-z]{4}){2}[- ]?[0-9A-Za-z]{2}(?![0-9A-Za-z])"
)
# IBAN: country, check digits, 11 to 30 more letters/digits, in groups of four or not.
_IBAN = re.compile(
    r"(?<![0-9A-Za-z])[A-Za-z]{2}[0-9]{2}(?: ?[0-9A-Za-z]{4}){2,7}(?: ?[0-9A-Za-z]{1,3})?(?![0-9A-Za-z])"
)
# Tokens: a long run of URL-safe characters with letters and digits in it (session, link and CSRF tokens,
# secrets, hashes). Stripe's object ids (evt_…, pi_…) are not secret and are what an operator looks up.
_TOKEN = re.compile(r"(?<![0-9A-Za-z_\-])[0-9A-Za-z_\-]{20,}(?![0-9A-Za-z_\-])")
_STRIPE_ID = re.compile(
    r"^(?:evt|pi|cs|ch|re|py|pm|cus|txn|po|in|sub|price|prod|whe)_(?:test_|live_)?[0-9A-Za-z]+$"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+\S+")
_SENSITIVE_KEYS = frozenset(
    {
        "email",
        "e_mail",
        "to",
        "to_address",
        "address",
        "code",
        "voucher_code",
        "iban",
        "payout_iban",
        "account_holder",
        "payout_account_holder",
        "name",
        "display_name",
        "donor_name",
        "initiator_name",
        "password",
        "token",
        "secret",
        "authorization",
        "cookie",
        "postcode",
    }
)


def _code_like(match: re.Match[str]) -> str:
    from app.kit.codes import MalformedCode, normalize_code

    text = match.group(0)
    if any(char.isdigit() for char in text):
        return CODE
    try:
        normalize_code(text)
    except MalformedCode:
        return text
    return CODE


def _token_like(match: re.Match[str]) -> str:
    text = match.group(0)
    if _STRIPE_ID.match(text):
        return text
    if any(char.isdigit() for char in text) and any(char.isalpha() for char in text):
        return TOKEN
    return text


def redact_text(text: str) -> str:
    """`text` with every code, e-mail address, IBAN and token in it replaced by a placeholder."""
    text = _BEARER.sub(lambda m: f"{m.group(1)} {TOKEN}", text)
    text = _EMAIL.sub(EMAIL, text)
    text = _IBAN.sub(IBAN, text)
    text = _CODE.sub(_code_like, text)
    return _TOKEN.sub(_token_like, text)


def redact_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {key: _redact_field(str(key), item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(item) for item in value]
    return redact_text(str(value))


def _redact_field(key: str, value: Any) -> Any:
    if key.lower() in _SENSITIVE_KEYS and value not in (None, ""):
        return REDACTED
    return redact_value(value)


def redact(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: no code, e-mail address, IBAN or token leaves the process in a log line."""
    for key in list(event_dict):
        if key in ("timestamp", "level"):
            continue
        event_dict[key] = _redact_field(key, event_dict[key])
    return event_dict


def _redact_arg(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact_text(value if isinstance(value, str) else str(value))


class RedactingFilter(logging.Filter):
    """The same for standard-library records (uvicorn's errors, SQLAlchemy's messages, tracebacks)."""

    def filter(self, record: logging.LogRecord) -> bool:
        # the arguments are cleaned one by one, so formatters that read them (uvicorn's access log) still work
        record.msg = redact_text(record.msg) if isinstance(record.msg, str) else redact_text(str(record.msg))
        if isinstance(record.args, Mapping):
            record.args = {key: _redact_arg(value) for key, value in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(value) for value in record.args)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True


_FILTER = RedactingFilter()
STDLIB_LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "sqlalchemy", "alembic")


def install_stdlib_filter() -> None:
    """Put the redacting filter on the handlers that exist now (uvicorn has set its own up by then)."""
    for name in STDLIB_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
        for handler in logger.handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)


class _CurrentStdout:
    """Writes to whatever `sys.stdout` is at the time of writing, not when a logger was first used.

    Loggers are cached on first use; a file captured then may be closed later (tests swap stdout per test),
    and a log line from a background mail send must never fail because of that."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


class _CurrentStderr(_CurrentStdout):
    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def processors(json: bool) -> list[Callable[..., Any]]:
    renderer: Callable[..., Any] = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    )
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        # tracebacks become text before `redact`, so an exception's message is cleaned like any field
        structlog.processors.format_exc_info,
        redact,
        renderer,
    ]


def configure_logging(settings: Settings) -> None:
    structlog.configure(
        processors=processors(settings.environment == Environment.production),
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.PrintLoggerFactory(_CurrentStdout()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
    install_stdlib_filter()


def configure_cli_logging(stream: TextIO | None = None) -> None:
    """The commands: readable lines on stderr (stdout stays the command's answer), redacted the same way."""
    structlog.configure(
        processors=processors(json=False),
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.PrintLoggerFactory(stream or _CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    install_stdlib_filter()
