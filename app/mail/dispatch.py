"""Sending right after a request committed, without making the visitor wait.

A route that wrote to the outbox (and whose transaction has committed) attaches the send to its response:

    from app.mail.dispatch import schedule_send

    response = RedirectResponse(url, status_code=303)
    response.background = schedule_send(request)
    return response

Starlette runs the task after the response has been sent, in the worker thread pool. One send at a time per
process: a request that asks while a send is running only asks that one to look once more, so a burst
of requests costs one SMTP connection, not one each. Nothing raised here reaches the request; errors are
logged. Whatever is not sent now (mail off, server down, process stopped) stays in the outbox for
`buurtkas tick` or `buurtkas mail send`.
"""

from __future__ import annotations

import threading
from contextlib import suppress
from typing import Any

import structlog
from starlette.background import BackgroundTask
from starlette.requests import Request

from app.config import Settings
from app.db import Database
from app.mail.sender import send_due

log = structlog.get_logger()
_STATE_NAME = "mail_dispatcher"
_create_lock = threading.Lock()


class MailDispatcher:
    """Runs `send_due` once at a time per process, once more if asked while running."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self._lock = threading.Lock()
        self._running = False
        self._again = False

    def run(self) -> None:
        with self._lock:
            if self._running:
                self._again = True
                return
            self._running = True
        try:
            while True:
                try:
                    send_due(self.db, self.settings)
                except Exception:  # a broken database or a bug must not reach the request that asked
                    with suppress(Exception):
                        log.exception("mail.dispatch_failed")
                    return
                with self._lock:
                    if not self._again:
                        return
                    self._again = False
        finally:
            with self._lock:
                self._running = False


def dispatcher(state: Any) -> MailDispatcher:
    """The process's dispatcher, kept on `app.state` (made on first use)."""
    found = getattr(state, _STATE_NAME, None)
    if found is None:
        with _create_lock:
            found = getattr(state, _STATE_NAME, None)
            if found is None:
                found = MailDispatcher(state.db, state.settings)
                setattr(state, _STATE_NAME, found)
    return found  # type: ignore[no-any-return]


def schedule_send(request_or_app_state: Request | Any) -> BackgroundTask:
    """A task for `response.background` that sends what is due once the response has gone out.

    Call it only after the transaction that wrote to the outbox has committed."""
    state = (
        request_or_app_state.app.state if isinstance(request_or_app_state, Request) else request_or_app_state
    )
    return BackgroundTask(dispatcher(state).run)
