"""E-mails to a donor who left an address: a receipt when Stripe confirmed the payment, and a notice when the
money went back. Queued in the booking transaction, sent after commit by the outbox."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Settings
from app.mail.outbox import enqueue
from app.models import Donation, Initiative


def _send(session: Session, settings: Settings, donation: Donation, kind: str) -> None:
    if not donation.email:
        return
    title = session.execute(
        select(Initiative.title).where(Initiative.id == donation.initiative_id)
    ).scalar_one()
    enqueue(
        session,
        settings,
        kind=kind,
        to=donation.email,
        locale=donation.locale,
        context={
            "title": title,
            "amount_cents": donation.amount_cents,
            "donor_name": donation.donor_name,
            "initiative_url": f"{settings.base_url}/initiatives/{donation.initiative_id}",
            "donation_url": f"{settings.base_url}/donations/{donation.public_id}",
        },
    )


def paid(session: Session, settings: Settings, donation: Donation) -> None:
    _send(session, settings, donation, "donation_receipt")


def refunded(session: Session, settings: Settings, donation: Donation) -> None:
    _send(session, settings, donation, "donation_refunded")
