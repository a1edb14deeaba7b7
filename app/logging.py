"""Structured logs: JSON in production, readable in development; ids, never personal data or codes."""

from __future__ import annotations

import logging
import sys

import structlog

from app.config import Environment, Settings


class _CurrentStdout:
    """Writes to whatever `sys.stdout` is at the time of writing, not when a logger was first used.

    Loggers are cached on first use; a file captured then may be closed later (tests swap stdout per test),
    and a log line from a background mail send must never fail because of that."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


def configure_logging(settings: Settings) -> None:
    renderer = (
        structlog.processors.JSONRenderer()
        if settings.environment == Environment.production
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.PrintLoggerFactory(_CurrentStdout()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
