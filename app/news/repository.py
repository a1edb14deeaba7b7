"""Queries on news items."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Area, NewsItem


def latest(
    session: Session, *, area_ids: Sequence[int] | None, now: datetime, limit: int
) -> list[tuple[NewsItem, str]]:
    """Visible items (published, not hidden) for these areas, newest first, with their area's name."""
    statement = (
        select(NewsItem, Area.name)
        .join(Area, Area.id == NewsItem.area_id)
        .where(NewsItem.hidden.is_(False), NewsItem.published_at <= now)
        .order_by(NewsItem.published_at.desc(), NewsItem.id.desc())
        .limit(limit)
    )
    if area_ids is not None:
        statement = statement.where(NewsItem.area_id.in_(area_ids))
    return [(item, str(name)) for item, name in session.execute(statement)]


def for_initiative(
    session: Session, initiative_id: int, *, now: datetime, limit: int
) -> list[tuple[NewsItem, str]]:
    """Visible items about one initiative (its updates and completion report), newest first."""
    statement = (
        select(NewsItem, Area.name)
        .join(Area, Area.id == NewsItem.area_id)
        .where(
            NewsItem.initiative_id == initiative_id, NewsItem.hidden.is_(False), NewsItem.published_at <= now
        )
        .order_by(NewsItem.published_at.desc(), NewsItem.id.desc())
        .limit(limit)
    )
    return [(item, str(name)) for item, name in session.execute(statement)]
