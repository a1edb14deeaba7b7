"""E-mails to the initiator when their initiative changes: written to the outbox in the same transaction as
the change (so a mail is never sent for a change that rolled back), sent after commit."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from app.audit.service import record
from app.config import Settings
from app.i18n import gettext as _
from app.i18n import long_date, use_locale
from app.mail.outbox import enqueue
from app.models import Account, AuditEvent, Initiative, InitiativeStatus

NOTIFIED = frozenset(
    {
        InitiativeStatus.submitted,
        InitiativeStatus.changes_requested,
        InitiativeStatus.published,
        InitiativeStatus.rejected,
        InitiativeStatus.funded,
        InitiativeStatus.expired,
        InitiativeStatus.cancelled,
    }
)
REMINDER_DAYS = 7


def notify_owner(
    session: Session, settings: Settings, initiative_id: int, event: str, reason: str = ""
) -> bool:
    """Queue the mail for `event` (a status, or "deadline_soon") to the initiative's owner, if it has one."""
    row = session.execute(
        select(Initiative.title, Initiative.deadline, Account.email, Account.locale)
        .join(Account, Account.id == Initiative.owner_account_id)
        .where(Initiative.id == initiative_id)
    ).one_or_none()
    if row is None:
        return False
    title, deadline, email, locale = row
    with use_locale(locale):
        subject, paragraphs = _texts(event, title=title, reason=reason, deadline=deadline)
        public_url = f"{settings.base_url}/initiatives/{initiative_id}"
        if event == InitiativeStatus.published:
            paragraphs.append(public_url)
    enqueue(
        session,
        settings,
        kind="initiative_status",
        to=email,
        locale=locale,
        context={
            "subject": subject,
            "title": title,
            "paragraphs": paragraphs,
            "manage_url": f"{settings.base_url}/my/initiatives/{initiative_id}",
        },
    )
    return True


def N_(message: str) -> str:
    return message


# (subject, text) per event; Dutch source texts, translated when the mail is written.
_TEXTS: dict[str, tuple[str, str]] = {
    InitiativeStatus.submitted: (
        N_("Ingediend: %(title)s"),
        N_(
            "Uw initiatief “%(title)s” is ingediend. De wijkregisseur kijkt ernaar en laat u weten of het gepubliceerd kan worden."
        ),
    ),
    InitiativeStatus.changes_requested: (
        N_("Graag aanpassen: %(title)s"),
        N_("De wijkregisseur vraagt u om “%(title)s” aan te passen voordat het gepubliceerd wordt."),
    ),
    InitiativeStatus.published: (
        N_("Gepubliceerd: %(title)s"),
        N_(
            "Goed nieuws: “%(title)s” staat online. Bewoners kunnen nu hun voucher geven. Deel de link met uw buren:"
        ),
    ),
    InitiativeStatus.rejected: (
        N_("Niet goedgekeurd: %(title)s"),
        N_("De wijkregisseur heeft “%(title)s” niet goedgekeurd."),
    ),
    InitiativeStatus.funded: (
        N_("Doel gehaald: %(title)s"),
        N_(
            "Gefeliciteerd: “%(title)s” heeft het streefbedrag gehaald! Vul uw IBAN in voor de uitbetaling en ga aan de slag."
        ),
    ),
    InitiativeStatus.expired: (
        N_("Doel niet gehaald: %(title)s"),
        N_(
            "“%(title)s” heeft het streefbedrag niet gehaald voor de einddatum. Wat er gegeven is, gaat terug naar de vouchers."
        ),
    ),
    InitiativeStatus.cancelled: (
        N_("Gestopt: %(title)s"),
        N_("De gemeente heeft “%(title)s” gestopt. Wat er gegeven is, gaat terug naar de vouchers."),
    ),
    "payout_sent": (
        N_("Uitbetaald: %(title)s"),
        N_(
            "Het geld voor “%(title)s” is overgemaakt naar uw rekening. Veel plezier met het uitvoeren, en vertel daarna hoe het ging."
        ),
    ),
    "deadline_soon": (
        N_("Nog een week: %(title)s"),
        N_(
            "Nog een week tot de einddatum van “%(title)s” (%(date)s). Vraag uw buren om hun voucher te geven."
        ),
    ),
}
_WITH_REASON = frozenset(
    {InitiativeStatus.changes_requested, InitiativeStatus.rejected, InitiativeStatus.cancelled}
)


def _texts(event: str, *, title: str, reason: str, deadline: date | None) -> tuple[str, list[str]]:
    """Subject and paragraphs for `event`, in the current locale (templates escape them for HTML)."""
    subject, text = _TEXTS[event]
    values = {"title": title, "date": long_date(deadline) if deadline else ""}
    paragraphs = [_(text) % values]
    if reason and event in _WITH_REASON:
        paragraphs.append(reason)
    return _(subject) % values, paragraphs


def remind_deadlines(session: Session, settings: Settings, *, today: date) -> int:
    """Once per initiative: a week before its deadline, tell the owner how it stands."""
    due = today + timedelta(days=REMINDER_DAYS)
    reminded = (
        exists()
        .where(AuditEvent.action == "initiative.deadline_reminder")
        .where(AuditEvent.subject_type == "initiative")
        .where(AuditEvent.subject_id == Initiative.id.cast(AuditEvent.subject_id.type))
    )
    ids = session.scalars(
        select(Initiative.id).where(
            Initiative.status == InitiativeStatus.published,
            Initiative.deadline <= due,
            Initiative.deadline >= today,
            Initiative.owner_account_id.is_not(None),
            ~reminded,
        )
    ).all()
    for initiative_id in ids:
        notify_owner(session, settings, initiative_id, "deadline_soon")
        record(
            session,
            actor="tick",
            action="initiative.deadline_reminder",
            subject_type="initiative",
            subject_id=initiative_id,
        )
    return len(ids)
