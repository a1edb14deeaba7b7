from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdType, UTCDateTime, created_column, id_column


class DonationStatus(StrEnum):
    open = "open"
    """Created; the donor is on Stripe's payment page (or left it)."""
    paid = "paid"
    """Stripe confirmed the payment; the money is on the initiative's account."""
    failed = "failed"
    """Stripe reported the payment failed (a later success still counts)."""
    expired = "expired"
    """The payment page expired unpaid (a later success still counts)."""
    refunding = "refunding"
    """The initiative ended unfunded: the money goes back to the donor (see the refund row)."""
    refunded = "refunded"
    """Stripe confirmed the refund; the ledger moved the money back to the Stripe clearing account."""


class RefundStatus(StrEnum):
    requested = "requested"
    """To be sent to Stripe (again, after a failure, at `next_attempt_at`)."""
    pending = "pending"
    """Stripe accepted the refund and has not confirmed it yet."""
    succeeded = "succeeded"
    failed = "failed"
    """Stripe or the bank refused it; retried at `next_attempt_at`, shown to administrators."""


def _in(name: str, values: type[StrEnum]) -> str:
    return f"{name} IN ({', '.join(repr(v.value) for v in values)})"


class Donation(Base):
    """Money a donor adds to an initiative through Stripe; it counts only after Stripe confirms it."""

    __tablename__ = "donations"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint(_in("status", DonationStatus), name="status"),
    )

    id: Mapped[int] = id_column()
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    """Random; names the donation in Stripe's metadata and in the donor's return address."""
    initiative_id: Mapped[int] = mapped_column(IdType, ForeignKey("initiatives.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    """In euro cents."""
    donor_name: Mapped[str] = mapped_column(String(70), default="")
    """Shown on the initiative; empty: anonymous."""
    email: Mapped[str | None] = mapped_column(String(254))
    """For the receipt (and a refund notice); never shown."""
    locale: Mapped[str] = mapped_column(String(5), default="nl")
    status: Mapped[str] = mapped_column(String(10), default=DonationStatus.open, index=True)
    checkout_session_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = created_column()
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """When it failed, expired or was refunded."""


class DonationRefund(Base):
    """Giving a paid donation back through Stripe because its initiative ended unfunded; one per donation."""

    __tablename__ = "donation_refunds"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint(_in("status", RefundStatus), name="status"),
    )

    id: Mapped[int] = id_column()
    donation_id: Mapped[int] = mapped_column(IdType, ForeignKey("donations.id"), unique=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10), default=RefundStatus.requested, index=True)
    stripe_refund_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    """Stripe refunds created so far (a new one only after Stripe reported the previous one failed)."""
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    created_at: Mapped[datetime] = created_column()
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class StripeEvent(Base):
    """The webhook inbox: every Stripe event, stored once (unique event id) before it is processed."""

    __tablename__ = "stripe_events"

    id: Mapped[int] = id_column()
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(100))
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = created_column()
    deliveries: Mapped[int] = mapped_column(Integer, default=1)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    outcome: Mapped[str] = mapped_column(String(200), default="")
    """What processing did: booked, ignored and why, or the error that will be retried."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class StripeSignature(Base):
    """Webhook signatures seen recently: the exact same signed request twice is a replay and is refused.
    (Stripe signs every delivery anew, retries included.) Rows older than the tolerance are purged."""

    __tablename__ = "stripe_signatures"

    signature: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = created_column()
