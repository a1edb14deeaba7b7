from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdType, UTCDateTime, created_column, id_column


class Pledge(Base):
    """Value given from a voucher to an initiative. Final, unless the initiative ends unfunded."""

    __tablename__ = "pledges"
    __table_args__ = (CheckConstraint("amount_cents > 0", name="amount_positive"),)

    id: Mapped[int] = id_column()
    voucher_id: Mapped[int] = mapped_column(IdType, ForeignKey("vouchers.id"), index=True)
    initiative_id: Mapped[int] = mapped_column(IdType, ForeignKey("initiatives.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    """In euro cents."""
    created_at: Mapped[datetime] = created_column()
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """Set when the initiative ended unfunded and the value went back to the voucher or the pool."""
