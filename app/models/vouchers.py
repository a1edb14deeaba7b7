from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdType, UTCDateTime, created_column, id_column


class VoucherStatus(StrEnum):
    active = "active"
    replaced = "replaced"
    expired = "expired"


class PeriodStatus(StrEnum):
    open = "open"
    closed = "closed"


class VoucherPeriod(Base):
    """A half year in which every active household gets one voucher. Frozen once open; end only extends."""

    __tablename__ = "voucher_periods"
    __table_args__ = (
        CheckConstraint("value_cents > 0", name="value_positive"),
        CheckConstraint("ends_on >= starts_on", name="ends_after_start"),
        CheckConstraint("status IN ('open', 'closed')", name="status"),
    )

    id: Mapped[int] = id_column()
    name: Mapped[str] = mapped_column(String(80), unique=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    """Last day on which the vouchers can be given; what is left expires after it."""
    value_cents: Mapped[int] = mapped_column(BigInteger)
    """Face value of each voucher, in euro cents."""
    status: Mapped[str] = mapped_column(String(10), default=PeriodStatus.open)
    opened_at: Mapped[datetime] = created_column()
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Voucher(Base):
    """A household's voucher for one period. Its balance lives in the ledger; its code only as a keyed hash."""

    __tablename__ = "vouchers"
    __table_args__ = (
        # `is_current` is TRUE for the live voucher and NULL once replaced: NULLs never collide in a
        # unique constraint, so this allows one live voucher per household and period on both databases.
        UniqueConstraint("period_id", "household_id", "is_current"),
        CheckConstraint("status IN ('active', 'replaced', 'expired')", name="status"),
        CheckConstraint("is_current IS NULL OR is_current", name="is_current_true_or_null"),
    )

    id: Mapped[int] = id_column()
    period_id: Mapped[int] = mapped_column(IdType, ForeignKey("voucher_periods.id"), index=True)
    household_id: Mapped[int] = mapped_column(IdType, ForeignKey("households.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(10), default=VoucherStatus.active)
    is_current: Mapped[bool | None] = mapped_column(Boolean, default=True)
    replaced_by_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("vouchers.id"))
    issued_at: Mapped[datetime] = created_column()
