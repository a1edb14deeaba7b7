from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdType, UTCDateTime, created_column, id_column


class NewsKind(StrEnum):
    post = "post"
    """Written by a neighbourhood director."""
    update = "update"
    """Posted by an initiator on their initiative."""
    published = "published"
    funded = "funded"
    completed = "completed"


_KINDS = ", ".join(f"'{kind}'" for kind in NewsKind)


class NewsItem(Base):
    """A news item for an area: a buurt's news also shows its wijk's and the gemeente's."""

    __tablename__ = "news_items"
    __table_args__ = (CheckConstraint(f"kind IN ({_KINDS})", name="kind"),)

    id: Mapped[int] = id_column()
    area_id: Mapped[int] = mapped_column(IdType, ForeignKey("areas.id"), index=True)
    initiative_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("initiatives.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    title: Mapped[str] = mapped_column(String(160))
    body: Mapped[str] = mapped_column(Text, default="")
    """Markdown; rendered sanitised."""
    author_name: Mapped[str] = mapped_column(String(120), default="")
    published_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    """Shown from this moment; a later moment schedules the item."""
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    image_filename: Mapped[str | None] = mapped_column(String(80))
    """A re-encoded JPEG under MEDIA_DIR (see app.initiatives.photos)."""
    image_alt: Mapped[str] = mapped_column(String(200), default="", server_default="")
    author_staff_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("staff_members.id"), index=True)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = created_column()
    """Last change (edit, hide, show): the feeds' `updated` date and what their ETag follows."""
