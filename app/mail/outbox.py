"""Writing e-mail to the outbox. Sending happens after commit (`app.mail.sender`), so a slow or broken mail
server never blocks or breaks the request that caused the message."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
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
