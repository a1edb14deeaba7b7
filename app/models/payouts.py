from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdType, UTCDateTime, created_column, id_column


class PayoutStatus(StrEnum):
    approved = "approved"
    """A director approved paying the initiative's money to its IBAN."""
    exported = "exported"
    """In a SEPA file handed to the finance department."""
    paid = "paid"
    """The bank paid it; the ledger moved the money from the initiative to the payout account."""


_STATUSES = ", ".join(f"'{status}'" for status in PayoutStatus)


class PayoutBatch(Base):
    """One SEPA credit-transfer file (pain.001) with the payouts in it, kept so it can be fetched again."""

    __tablename__ = "payout_batches"
    __table_args__ = (
        CheckConstraint("total_cents > 0", name="total_positive"),
        CheckConstraint("payment_count > 0", name="count_positive"),
    )

    id: Mapped[int] = id_column()
    message_id: Mapped[str] = mapped_column(String(35), unique=True)
    created_at: Mapped[datetime] = created_column()
    created_by_staff_id: Mapped[int] = mapped_column(IdType, ForeignKey("staff_members.id"))
    payment_count: Mapped[int] = mapped_column(Integer)
    total_cents: Mapped[int] = mapped_column(BigInteger)
    sepa_xml: Mapped[str] = mapped_column(Text)


class Payout(Base):
    """Paying a funded initiative's money to the IBAN its initiator gave; one per initiative."""

    __tablename__ = "payouts"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint(f"status IN ({_STATUSES})", name="status"),
    )

    id: Mapped[int] = id_column()
    initiative_id: Mapped[int] = mapped_column(IdType, ForeignKey("initiatives.id"), unique=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    iban: Mapped[str] = mapped_column(String(34))
    account_holder: Mapped[str] = mapped_column(String(70))
    status: Mapped[str] = mapped_column(String(10), default=PayoutStatus.approved, index=True)
    approved_by_staff_id: Mapped[int] = mapped_column(IdType, ForeignKey("staff_members.id"))
    approved_at: Mapped[datetime] = created_column()
    batch_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("payout_batches.id"), index=True)
    exported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paid_by_staff_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("staff_members.id"))
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_to_end_id: Mapped[str] = mapped_column(String(35), unique=True)
    """The SEPA EndToEndId, also in the CSV, so finance can match the bank statement to the payout."""
