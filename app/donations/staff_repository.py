"""Queries for the administrators' payments page: refunds not through yet, Stripe events that went wrong,
the latest donations with totals, and the Stripe clearing account. One write: making a refund due now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from app.audit.service import record
from app.errors import NotFound
from app.ledger.service import STRIPE_CLEARING
from app.models import (
    Donation,
    DonationRefund,
    DonationStatus,
    Initiative,
    LedgerAccount,
    RefundStatus,
    StripeEvent,
)
from app.models.base import utcnow

LATEST_DONATIONS = 50
MAX_LISTED = 200
STUCK_AFTER = timedelta(minutes=1)
"""An event not processed this long after it came in is shown (processing is normally immediate)."""
TOTALLED = (DonationStatus.paid, DonationStatus.refunding, DonationStatus.refunded)


class RefundNotFound(NotFound):
    slug = "refund-not-found"
    message = "Deze terugbetaling bestaat niet."
    message_en = "This refund does not exist."


@dataclass(frozen=True)
class RefundLine:
    id: int
    donation_public_id: str
    donation_id: int
    initiative_id: int
    initiative_title: str
    amount_cents: int
    status: str
    failures: int
    last_error: str
    next_attempt_at: datetime | None
    stripe_refund_id: str | None
    created_at: datetime


@dataclass(frozen=True)
class EventLine:
    event_id: str
    type: str
    received_at: datetime
    deliveries: int
    attempts: int
    processed_at: datetime | None
    outcome: str


@dataclass(frozen=True)
class DonationLine:
    id: int
    public_id: str
    initiative_id: int
    initiative_title: str
    amount_cents: int
    status: str
    anonymous: bool
    created_at: datetime
    paid_at: datetime | None
    closed_at: datetime | None


@dataclass(frozen=True)
class Total:
    status: str
    count: int
    cents: int


def open_refunds(session: Session) -> list[RefundLine]:
    """Refunds Stripe has not confirmed yet (requested, pending or failed), the ones waiting longest first."""
    rows = session.execute(
        select(DonationRefund, Donation.public_id, Donation.initiative_id, Initiative.title)
        .join(Donation, Donation.id == DonationRefund.donation_id)
        .join(Initiative, Initiative.id == Donation.initiative_id)
        .where(DonationRefund.status != RefundStatus.succeeded)
        .order_by(DonationRefund.created_at, DonationRefund.id)
        .limit(MAX_LISTED)
    ).all()
    return [
        RefundLine(
            id=refund.id,
            donation_public_id=public_id,
            donation_id=refund.donation_id,
            initiative_id=initiative_id,
            initiative_title=title,
            amount_cents=refund.amount_cents,
            status=refund.status,
            failures=refund.failures,
            last_error=refund.last_error,
            next_attempt_at=refund.next_attempt_at,
            stripe_refund_id=refund.stripe_refund_id,
            created_at=refund.created_at,
        )
        for refund, public_id, initiative_id, title in rows
    ]


def troubled_events(session: Session, *, now: datetime | None = None) -> list[EventLine]:
    """Stripe events whose processing failed or was refused, and events still unprocessed after a minute."""
    cutoff = (now or utcnow()) - STUCK_AFTER
    rows = session.execute(
        select(StripeEvent)
        .where(
            or_(
                StripeEvent.outcome.startswith("error"),
                StripeEvent.outcome.startswith("refused"),
                (StripeEvent.processed_at.is_(None) & (StripeEvent.received_at <= cutoff)),
            )
        )
        .order_by(StripeEvent.received_at.desc(), StripeEvent.id.desc())
        .limit(MAX_LISTED)
    ).scalars()
    return [
        EventLine(
            event_id=row.event_id,
            type=row.type,
            received_at=row.received_at,
            deliveries=row.deliveries,
            attempts=row.attempts,
            processed_at=row.processed_at,
            outcome=row.outcome,
        )
        for row in rows
    ]


def latest_donations(session: Session, limit: int = LATEST_DONATIONS) -> list[DonationLine]:
    rows = session.execute(
        select(Donation, Initiative.title)
        .join(Initiative, Initiative.id == Donation.initiative_id)
        .order_by(Donation.created_at.desc(), Donation.id.desc())
        .limit(limit)
    ).all()
    return [
        DonationLine(
            id=donation.id,
            public_id=donation.public_id,
            initiative_id=donation.initiative_id,
            initiative_title=title,
            amount_cents=donation.amount_cents,
            status=donation.status,
            anonymous=not donation.donor_name,
            created_at=donation.created_at,
            paid_at=donation.paid_at,
            closed_at=donation.closed_at,
        )
        for donation, title in rows
    ]


def totals(session: Session) -> list[Total]:
    """Count and sum of the donations that are paid, being refunded, and refunded (each status once)."""
    found = {
        status: (int(count), int(cents or 0))
        for status, count, cents in session.execute(
            select(Donation.status, func.count(), func.sum(Donation.amount_cents))
            .where(Donation.status.in_(TOTALLED))
            .group_by(Donation.status)
        ).all()
    }
    return [Total(status, *found.get(status, (0, 0))) for status in TOTALLED]


def clearing_balance(session: Session) -> int | None:
    """The Stripe clearing account's balance (negative: money that came in through Stripe and is still
    with us), or None before the first donation opened it."""
    balance = session.execute(
        select(LedgerAccount.balance_cents).where(LedgerAccount.system_key == STRIPE_CLEARING)
    ).scalar_one_or_none()
    return None if balance is None else int(balance)


def make_due_now(session: Session, refund_id: int, *, actor: str, now: datetime | None = None) -> str:
    """An administrator asks to try a refund again now: it becomes due (recorded in the audit log).
    Returns the refund's status; a refund that already succeeded is left as it is."""
    now = now or utcnow()
    refund = session.get(DonationRefund, refund_id, with_for_update=True)
    if refund is None:
        raise RefundNotFound()
    if refund.status == RefundStatus.succeeded:
        return refund.status
    session.execute(update(DonationRefund).where(DonationRefund.id == refund_id).values(next_attempt_at=now))
    donation = session.get(Donation, refund.donation_id)
    record(
        session,
        actor=actor,
        action="donation.refund_retry",
        subject_type="donation_refund",
        subject_id=refund_id,
        before={
            "status": refund.status,
            "failures": refund.failures,
            "last_error": refund.last_error,
            "next_attempt_at": refund.next_attempt_at,
        },
        after={
            "donation": donation.public_id if donation is not None else None,
            "amount_cents": refund.amount_cents,
            "next_attempt_at": now,
        },
    )
    return refund.status
