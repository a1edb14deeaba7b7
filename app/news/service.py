"""Writing news items (the back office and the automatic items build on this)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session

from app.models import NewsItem, NewsKind
from app.models.base import utcnow


def post_news(
    session: Session,
    *,
    area_id: int,
    kind: NewsKind,
    title: str,
    body: str,
    author_name: str = "",
    initiative_id: int | None = None,
    published_at: datetime | None = None,
) -> int:
    """Add a news item for an area; it shows from `published_at` (default: now)."""
    return session.execute(
        insert(NewsItem)
        .values(
            area_id=area_id,
            initiative_id=initiative_id,
            kind=kind,
            title=title.strip()[:160],
            body=body,
            author_name=author_name.strip()[:120],
            published_at=published_at or utcnow(),
            hidden=False,
            created_at=utcnow(),
        )
        .returning(NewsItem.id)
    ).scalar_one()
