"""Queries for the donor's pages: who gave to an initiative, and one donation with its initiative."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Donation, DonationStatus, Initiative

MAX_NAMES = 30
"""Names listed on an initiative page; donors past this are counted ("en 12 anderen")."""


@dataclass(frozen=True)
class Donors:
    """Paid donations of one initiative as the public sees them."""

    donated_cents: int
    """In euro cents: what donors added (the initiative's ledger-kept figure)."""
    names: list[str]
    """Names donors chose to show, first donor first, each once; at most MAX_NAMES."""
    more_named: int
    """Named donors past MAX_NAMES."""
    anonymous: int
    """Paid donations without a name."""

    @property
    def any(self) -> bool:
        return bool(self.names or self.anonymous)


def donors(session: Session, initiative_id: int) -> Donors:
    donated = session.execute(
        select(Initiative.donated_cents).where(Initiative.id == initiative_id)
    ).scalar_one_or_none()
    paid = (Donation.initiative_id == initiative_id, Donation.status == DonationStatus.paid)
    first_paid = func.min(Donation.paid_at)
    named = session.execute(
        select(Donation.donor_name)
        .where(*paid, Donation.donor_name != "")
        .group_by(Donation.donor_name)
        .order_by(first_paid, Donation.donor_name)
        .limit(MAX_NAMES + 1)
    ).scalars()
    names = list(named)
    more_named = 0
    if len(names) > MAX_NAMES:
        more_named = int(
            session.execute(
                select(func.count(func.distinct(Donation.donor_name))).where(*paid, Donation.donor_name != "")
            ).scalar_one()
            - MAX_NAMES
        )
        names = names[:MAX_NAMES]
    anonymous = session.execute(
        select(func.count()).select_from(Donation).where(*paid, Donation.donor_name == "")
    ).scalar_one()
    return Donors(
        donated_cents=int(donated or 0), names=names, more_named=more_named, anonymous=int(anonymous)
    )


@dataclass(frozen=True)
class DonationView:
    """What the donor's status page shows; never the e-mail address or Stripe's ids."""

    public_id: str
    initiative_id: int
    initiative_title: str
    initiative_status: str
    amount_cents: int
    donor_name: str
    status: str
    created_at: datetime
    paid_at: datetime | None


def view(session: Session, donation: Donation) -> DonationView:
    title, status = session.execute(
        select(Initiative.title, Initiative.status).where(Initiative.id == donation.initiative_id)
    ).one()
    return DonationView(
        public_id=donation.public_id,
        initiative_id=donation.initiative_id,
        initiative_title=str(title),
        initiative_status=str(status),
        amount_cents=donation.amount_cents,
        donor_name=donation.donor_name,
        status=str(donation.status),
        created_at=donation.created_at,
        paid_at=donation.paid_at,
    )
