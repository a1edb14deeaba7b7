from __future__ import annotations

from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdType, id_column


class AreaKind(StrEnum):
    gemeente = "gemeente"
    wijk = "wijk"
    buurt = "buurt"


class Area(Base):
    """A gemeente, wijk or buurt, identified by its CBS code (GM0141, WK014101, BU01410101)."""

    __tablename__ = "areas"
    __table_args__ = (CheckConstraint("kind IN ('gemeente', 'wijk', 'buurt')", name="kind"),)

    id: Mapped[int] = id_column()
    code: Mapped[str] = mapped_column(String(10), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(10))
    parent_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("areas.id"), index=True)
