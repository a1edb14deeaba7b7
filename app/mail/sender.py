"""Sending the outbox: claim due messages, deliver them over SMTP, record the outcome.

Safe to run in several processes at once. A claim is a short transaction that takes due messages
(PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: the `BEGIN IMMEDIATE` write transaction serialises), counts
the attempt and moves `next_attempt_at` forward as a lease, so no other sender takes them while this one
delivers. A sender that dies mid-way leaves its messages to be taken again when the lease ends: delivery
is at least once, in practice once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from functools import partial
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import aiosmtplib
import structlog
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import Database, rowcount
from app.models import OutboxMessage, OutboxStatus
from app.models.base import utcnow

T = TypeVar("T")

log = structlog.get_logger()

SEND_TIMEOUT_SECONDS = 10.0
"""Connecting, and sending one message, each give up after this long."""
BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=12),
)
"""The wait after the 1st, 2nd, … failed attempt; the attempt after the last one is the final one."""
MAX_ATTEMPTS = len(BACKOFF) + 1
CLAIM_BATCH = 10
LEASE = timedelta(minutes=5)
"""Longer than a batch can take (CLAIM_BATCH × SEND_TIMEOUT_SECONDS plus connecting)."""
FORGET_ADDRESS_KINDS = frozenset({"receipt"})
"""Kinds whose address is blanked once sent or given up: households' addresses are not kept."""

_disabled_logged = threading.Event()


@dataclass
class SendReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    disabled: bool = False

    def summary(self) -> str:
        if self.disabled:
            return "mail: off (SMTP_URL is empty), messages stay in the outbox"
        return f"mail: {self.sent} sent, {self.retried} to retry, {self.failed} failed"


@dataclass(frozen=True)
class SmtpServer:
    hostname: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    start_tls: bool


def parse_smtp_url(url: str) -> SmtpServer:
    """`smtp://user:pass@host:port` (plain), `smtp+starttls://…` (STARTTLS, 587) or `smtps://…` (TLS, 465)."""
    parts = urlsplit(url)
    defaults = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
    if parts.scheme not in defaults or not parts.hostname:
        raise ValueError("SMTP_URL must look like smtp://user:pass@host:port, smtp+starttls://… or smtps://…")
    return SmtpServer(
        hostname=parts.hostname,
        port=parts.port or defaults[parts.scheme],
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        use_tls=parts.scheme == "smtps",
        start_tls=parts.scheme == "smtp+starttls",
    )


@dataclass(frozen=True)
class _Claimed:
    id: int
    kind: str
    to_address: str
    subject: str
    text_body: str
    html_body: str
    attempts: int


def send_due(db: Database, settings: Settings, *, limit: int = 50, now: datetime | None = None) -> SendReport:
    """Deliver up to `limit` pending messages that are due; failures are retried later, never raised.

    `now` is the moment to act at (tests move it forward to reach retries)."""
    report = SendReport()
    if not settings.smtp_url:
        report.disabled = True
        if not _disabled_logged.is_set():
            _disabled_logged.set()
            log.warning("mail.disabled", reason="SMTP_URL is empty; messages stay pending in the outbox")
        return report
    server = parse_smtp_url(settings.smtp_url)
    moment = now or utcnow()
    while limit > report.sent + report.retried + report.failed:
        room = limit - report.sent - report.retried - report.failed
        batch = db.run_write(partial(_claim, now=moment, limit=min(CLAIM_BATCH, room)))
        if not batch:
            break
        outcomes = _run_coroutine(_deliver(server, settings.mail_from, batch))
        reachable = False
        for message, error in zip(batch, outcomes, strict=True):
            finished = now or utcnow()
            if error is None:
                reachable = True
                db.run_write(partial(_mark_sent, message=message, now=finished))
                report.sent += 1
                log.info("mail.sent", message_id=message.id, kind=message.kind, attempts=message.attempts)
            else:
                given_up = db.run_write(partial(_mark_failed, message=message, error=error, now=finished))
                if given_up:
                    report.failed += 1
                    log.error("mail.failed", message_id=message.id, kind=message.kind, error=_kind_of(error))
                else:
                    report.retried += 1
                    log.warning(
                        "mail.retry",
                        message_id=message.id,
                        kind=message.kind,
                        attempts=message.attempts,
                        error=_kind_of(error),
                    )
        if not reachable:
            break  # the server is down or refuses everything: leave the rest for the next run
    return report


def _claim(session: Session, *, now: datetime, limit: int) -> list[_Claimed]:
    statement = (
        select(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.pending, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    claimed = []
    for row in session.execute(statement).scalars():
        row.attempts += 1
        row.next_attempt_at = now + LEASE
        claimed.append(
            _Claimed(
                row.id, row.kind, row.to_address, row.subject, row.text_body, row.html_body, row.attempts
            )
        )
    session.flush()
    return claimed


def _mark_sent(session: Session, message: _Claimed, now: datetime) -> None:
    values: dict[str, object] = {"status": OutboxStatus.sent, "sent_at": now, "last_error": ""}
    if message.kind in FORGET_ADDRESS_KINDS:
        values["to_address"] = ""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message.id, OutboxMessage.status == OutboxStatus.pending)
        .values(**values)
    )


def _mark_failed(session: Session, message: _Claimed, error: BaseException, now: datetime) -> bool:
    """Schedule the next attempt, or give up after the last; True when given up."""
    given_up = message.attempts >= MAX_ATTEMPTS
    values: dict[str, object] = {"last_error": _describe(error, message.to_address)}
    if given_up:
        values["status"] = OutboxStatus.failed
        if message.kind in FORGET_ADDRESS_KINDS:
            values["to_address"] = ""
    else:
        values["next_attempt_at"] = now + BACKOFF[message.attempts - 1]
    # Only while our claim holds: a sender that took the message over after our lease owns it now.
    changed = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message.id,
            OutboxMessage.status == OutboxStatus.pending,
            OutboxMessage.attempts == message.attempts,
        )
        .values(**values)
    )
    return given_up and rowcount(changed) == 1


def _describe(error: BaseException, address: str) -> str:
    """The error for `last_error`, without the recipient's address that SMTP replies often repeat."""
    text = f"{_kind_of(error)}: {error}"
    if address:
        text = text.replace(address, "<recipient>")
    return text[:500]


def _kind_of(error: BaseException) -> str:
    return type(error).__name__


def build_message(mail_from: str, message: _Claimed) -> EmailMessage:
    email = EmailMessage()
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "buurtkas.localhost"
    email["From"] = mail_from
    email["To"] = message.to_address
    email["Subject"] = message.subject
    email["Date"] = formatdate(usegmt=True)
    email["Message-ID"] = make_msgid(idstring=f"outbox{message.id}", domain=domain)
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(message.text_body)
    email.add_alternative(message.html_body, subtype="html")
    return email


async def _deliver(
    server: SmtpServer, mail_from: str, batch: Sequence[_Claimed]
) -> list[BaseException | None]:
    """Send each message over one connection (reconnecting after a broken one); None where it went out.

    When connecting (or logging in) fails, the rest of the batch fails with it: each message would only
    wait for the same timeout."""
    smtp = aiosmtplib.SMTP(
        hostname=server.hostname,
        port=server.port,
        username=server.username,
        password=server.password,
        use_tls=server.use_tls,
        start_tls=server.start_tls,
        timeout=SEND_TIMEOUT_SECONDS,
    )
    outcomes: list[BaseException | None] = []
    try:
        for message in batch:
            if not smtp.is_connected:
                try:
                    await asyncio.wait_for(smtp.connect(), SEND_TIMEOUT_SECONDS)
                except (aiosmtplib.SMTPException, OSError) as exc:  # OSError includes TimeoutError
                    smtp.close()
                    outcomes.extend(exc for _ in range(len(batch) - len(outcomes)))
                    break
            try:
                await asyncio.wait_for(
                    smtp.send_message(build_message(mail_from, message)), SEND_TIMEOUT_SECONDS
                )
            except (aiosmtplib.SMTPException, OSError) as exc:
                outcomes.append(exc)
                if isinstance(exc, OSError):  # disconnected or timed out mid-message: start afresh
                    smtp.close()
            else:
                outcomes.append(None)
    finally:
        if smtp.is_connected:
            try:
                await asyncio.wait_for(smtp.quit(), SEND_TIMEOUT_SECONDS)
            except (aiosmtplib.SMTPException, OSError):
                smtp.close()
    return outcomes


def _run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` to the end from synchronous code, also when this thread already has a running event
    loop (e.g. a caller inside an async framework): then it runs on a fresh loop in a short-lived thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
