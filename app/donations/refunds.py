"""Giving donations back when their initiative ends unfunded.

The ending transaction marks every paid donation `refunding` and adds a refund row (`queue_refunds`), so no
paid donation of an ended initiative is ever forgotten. `process_refunds` (the tick, the CLI, an
administrator's "try again") sends them to Stripe outside any database transaction, each with an idempotency
key, and `apply_refund_result` books what Stripe answered: only a refund Stripe confirmed moves money back
to the Stripe clearing account. Failures wait longer each time and stay visible in the back office.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

import structlog
from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from app.audit.service import record
from app.config import Settings
from app.db import Database, rowcount
from app.donations import receipts
from app.donations.gateway import GatewayError, RefundResult, StripeGateway
from app.ledger import service as ledger
from app.models import Donation, DonationRefund, DonationStatus, RefundStatus
from app.models.base import utcnow

log = structlog.get_logger(__name__)

POLL_PENDING_AFTER = timedelta(minutes=15)
"""A refund Stripe has not confirmed is looked up again after this long (webhooks usually come first)."""
MAX_BACKOFF = timedelta(hours=24)


def backoff(failures: int) -> timedelta:
    """5, 10, 20, 40 … minutes, at most a day."""
    return min(timedelta(minutes=5) * 2 ** max(failures - 1, 0), MAX_BACKOFF)


def refund_key(refund_id: int, attempt: int) -> str:
    """The idempotency key (and Stripe metadata) of one refund attempt: a retry after a timeout gets the same
    Stripe refund back; a new attempt after Stripe reported a failure gets a new one."""
    return f"buurtkas-refund-{refund_id}-{attempt}"


def queue_refunds(session: Session, initiative_id: int, *, now: datetime | None = None) -> int:
    """Mark every paid donation of an initiative that ended unfunded for refunding, in the caller's
    transaction. Returns how many were queued."""
    now = now or utcnow()
    rows = session.execute(
        update(Donation)
        .where(Donation.initiative_id == initiative_id, Donation.status == DonationStatus.paid)
        .values(status=DonationStatus.refunding)
        .returning(Donation.id, Donation.amount_cents)
    ).all()
    for donation_id, amount_cents in rows:
        session.execute(
            insert(DonationRefund).values(
                donation_id=donation_id,
                amount_cents=amount_cents,
                status=RefundStatus.requested,
                attempt=1,
                failures=0,
                last_error="",
                next_attempt_at=now,
                created_at=now,
            )
        )
    return len(rows)


@dataclass
class RefundReport:
    sent: int = 0
    succeeded: int = 0
    pending: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"refunds: {self.sent} sent to Stripe, {self.succeeded} confirmed, {self.pending} pending,"
            f" {self.failed} failed (retried later)"
        )


@dataclass(frozen=True)
class _Due:
    refund_id: int
    attempt: int
    status: str
    stripe_refund_id: str | None
    payment_intent_id: str
    amount_cents: int


def _due(session: Session, now: datetime, only: int | None) -> list[_Due]:
    statement = (
        select(
            DonationRefund.id,
            DonationRefund.attempt,
            DonationRefund.status,
            DonationRefund.stripe_refund_id,
            Donation.payment_intent_id,
            DonationRefund.amount_cents,
        )
        .join(Donation, Donation.id == DonationRefund.donation_id)
        .where(
            DonationRefund.status != RefundStatus.succeeded,
            Donation.payment_intent_id.is_not(None),
            or_(DonationRefund.next_attempt_at.is_(None), DonationRefund.next_attempt_at <= now),
        )
        .order_by(DonationRefund.next_attempt_at, DonationRefund.id)
        .limit(500)
    )
    if only is not None:
        statement = statement.where(DonationRefund.id == only)
    return [
        _Due(
            refund_id=row[0],
            attempt=row[1],
            status=row[2],
            stripe_refund_id=row[3],
            payment_intent_id=str(row[4]),
            amount_cents=row[5],
        )
        for row in session.execute(statement).all()
    ]


def process_refunds(
    db: Database, gateway: StripeGateway, *, now: datetime | None = None, only: int | None = None
) -> RefundReport:
    """Send due refunds to Stripe (or look up pending ones) and book the answers, one transaction each."""
    now = now or utcnow()
    report = RefundReport()
    with db.read() as session:
        due = _due(session, now, only)
    for item in due:
        try:
            if item.status == RefundStatus.pending and item.stripe_refund_id:
                result = gateway.retrieve_refund(item.stripe_refund_id)
            else:
                report.sent += 1
                result = gateway.create_refund(
                    payment_intent_id=item.payment_intent_id,
                    amount_cents=item.amount_cents,
                    key=refund_key(item.refund_id, item.attempt),
                )
        except GatewayError as exc:
            report.failed += 1
            report.errors.append(f"refund {item.refund_id}: {exc}")
            db.run_write(
                partial(
                    _note_failure, refund_id=item.refund_id, error=str(exc), answered=exc.answered, now=now
                )
            )
            continue
        outcome = db.run_write(
            partial(
                apply_refund_result,
                settings=db.settings,
                refund_id=item.refund_id,
                result=result,
                attempt=item.attempt,
                now=now,
            )
        )
        if outcome == RefundStatus.succeeded:
            report.succeeded += 1
        elif outcome == RefundStatus.pending:
            report.pending += 1
        elif outcome == RefundStatus.failed:
            report.failed += 1
    return report


def _note_failure(session: Session, *, refund_id: int, error: str, answered: bool, now: datetime) -> None:
    """Stripe could not be reached or refused the call: nothing was refunded; try again later. After an answer
    the next try is a new attempt (Stripe would replay its error for the same key); after a lost connection
    it repeats the same key, so a refund Stripe did make is not made twice."""
    refund = session.get(DonationRefund, refund_id, with_for_update=True)
    if refund is None or refund.status == RefundStatus.succeeded:
        return
    failures = refund.failures + 1
    session.execute(
        update(DonationRefund)
        .where(DonationRefund.id == refund_id)
        .values(
            failures=failures,
            attempt=refund.attempt + 1 if answered else refund.attempt,
            last_error=error[:500],
            next_attempt_at=now + backoff(failures),
        )
    )


def apply_refund_result(
    session: Session,
    settings: Settings,
    refund_id: int,
    result: RefundResult,
    *,
    attempt: int,
    now: datetime | None = None,
) -> str | None:
    """Book what Stripe says about refund attempt `attempt` of our refund `refund_id`, idempotently.

    Only `succeeded` moves money, once: the refund row changes to succeeded in a guarded UPDATE. Answers
    about an older attempt, or after success, change nothing. Returns the refund's status afterwards
    (None when the refund does not exist)."""
    now = now or utcnow()
    refund = session.get(DonationRefund, refund_id, with_for_update=True)
    if refund is None:
        return None
    if refund.status == RefundStatus.succeeded or attempt != refund.attempt:
        return refund.status
    if result.status == "succeeded":
        done = session.execute(
            update(DonationRefund)
            .where(DonationRefund.id == refund_id, DonationRefund.status != RefundStatus.succeeded)
            .values(
                status=RefundStatus.succeeded,
                stripe_refund_id=result.refund_id,
                succeeded_at=now,
                next_attempt_at=None,
                last_error="",
            )
        )
        if rowcount(done) != 1:
            return RefundStatus.succeeded
        donation = session.execute(
            select(Donation).where(Donation.id == refund.donation_id).with_for_update()
        ).scalar_one()
        ledger.return_donation(
            session,
            initiative_id=donation.initiative_id,
            donation_id=donation.id,
            amount_cents=refund.amount_cents,
        )
        session.execute(
            update(Donation)
            .where(Donation.id == donation.id)
            .values(status=DonationStatus.refunded, closed_at=now)
        )
        record(
            session,
            actor="stripe",
            action="donation.refunded",
            subject_type="initiative",
            subject_id=donation.initiative_id,
            after={
                "donation": donation.public_id,
                "amount_cents": refund.amount_cents,
                "refund": result.refund_id,
            },
        )
        receipts.refunded(session, settings, donation)
        return RefundStatus.succeeded
    if result.status in ("failed", "canceled"):
        failures = refund.failures + 1
        session.execute(
            update(DonationRefund)
            .where(DonationRefund.id == refund_id)
            .values(
                status=RefundStatus.failed,
                stripe_refund_id=result.refund_id,
                failures=failures,
                attempt=refund.attempt + 1,
                last_error=f"Stripe: {result.status} {result.failure_reason}".strip()[:500],
                next_attempt_at=now + backoff(failures),
            )
        )
        log.warning("refund.failed", refund=refund_id, reason=result.failure_reason)
        return RefundStatus.failed
    session.execute(
        update(DonationRefund)
        .where(DonationRefund.id == refund_id)
        .values(
            status=RefundStatus.pending,
            stripe_refund_id=result.refund_id,
            next_attempt_at=now + POLL_PENDING_AFTER,
        )
    )
    return RefundStatus.pending


def parse_refund_key(key: str) -> tuple[int, int] | None:
    """(refund id, attempt) from a `refund_key`, or None for anything else."""
    prefix = "buurtkas-refund-"
    if not key.startswith(prefix):
        return None
    parts = key[len(prefix) :].split("-")
    if len(parts) != 2 or not all(part.isdigit() and len(part) < 19 for part in parts):
        return None
    return int(parts[0]), int(parts[1])
