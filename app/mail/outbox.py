"""Writing e-mail to the outbox. Sending happens after commit (`app.mail.sender`), so a slow or broken mail
server never blocks or breaks the request that caused the message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, insert, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.i18n import LOCALES, gettext, use_locale
from app.models import OutboxMessage, OutboxStatus
from app.models.base import utcnow
from app.templating import render_text


def enqueue(
    session: Session, settings: Settings, *, kind: str, to: str, locale: str, context: dict[str, Any]
) -> int:
    """Render `templates/emails/{kind}.txt` and `.html` in `locale` and add them to the outbox.

    The subject is the template's `subject` block rendered on its own (the templates extend
    `emails/base.*`). Returns the message id."""
    locale = locale if locale in LOCALES else "nl"
    context = {"municipality": settings.municipality_name, "base_url": settings.base_url, **context}
    text_body = render_text(f"emails/{kind}.txt", locale, **context)
    html_body = render_text(f"emails/{kind}.html", locale, **context)
    subject = _subject(kind, locale, context)
    return session.execute(
        insert(OutboxMessage)
        .values(
            kind=kind,
            to_address=to,
            subject=subject[:200],
            text_body=text_body,
            html_body=html_body,
            status=OutboxStatus.pending,
            attempts=0,
            next_attempt_at=utcnow(),
            last_error="",
            created_at=utcnow(),
        )
        .returning(OutboxMessage.id)
    ).scalar_one()


def _subject(kind: str, locale: str, context: dict[str, Any]) -> str:
    from app.templating import environment

    with use_locale(locale):
        template = environment().get_template(f"emails/{kind}.txt")
        block = template.blocks.get("subject")
        if block is None:
            return gettext("Bericht van Buurtkas")
        ctx = template.new_context({"locale": locale, **context})
        return "".join(block(ctx)).strip()


@dataclass(frozen=True)
class StatusCounts:
    pending: int
    due: int
    """Pending messages whose next attempt has come."""
    sent: int
    failed: int


def status_counts(session: Session, *, now: datetime | None = None) -> StatusCounts:
    """How many messages the outbox holds per status."""
    due = case((OutboxMessage.next_attempt_at <= (now or utcnow()), 1), else_=0)
    rows = session.execute(
        select(OutboxMessage.status, func.count(), func.coalesce(func.sum(due), 0)).group_by(
            OutboxMessage.status
        )
    ).all()
    counts = {status: (int(count), int(due_count)) for status, count, due_count in rows}
    pending, due_now = counts.get(OutboxStatus.pending, (0, 0))
    return StatusCounts(
        pending=pending,
        due=due_now,
        sent=counts.get(OutboxStatus.sent, (0, 0))[0],
        failed=counts.get(OutboxStatus.failed, (0, 0))[0],
    )
