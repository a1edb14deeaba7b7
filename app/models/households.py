from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdType, UTCDateTime, created_column, id_column


class Household(Base):
    """One residential address. No names are stored, only the address and its buurt."""

    __tablename__ = "households"
    __table_args__ = (UniqueConstraint("postcode", "huisnummer", "huisletter", "toevoeging"),)

    id: Mapped[int] = id_column()
    address_id: Mapped[str | None] = mapped_column(String(16), unique=True)
    """BAG nummeraanduiding-id (16 digits), when the municipality supplies it."""
    postcode: Mapped[str] = mapped_column(String(6))
    huisnummer: Mapped[int] = mapped_column(Integer)
    huisletter: Mapped[str] = mapped_column(String(1), default="")
    toevoeging: Mapped[str] = mapped_column(String(4), default="")
    straat: Mapped[str] = mapped_column(String(120))
    woonplaats: Mapped[str] = mapped_column(String(80))
    buurt_id: Mapped[int] = mapped_column(IdType, ForeignKey("areas.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_import_id: Mapped[str | None] = mapped_column(String(36))
    """The import run that last saw this address; addresses not seen by a full import are deactivated."""
    created_at: Mapped[datetime] = created_column()
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
