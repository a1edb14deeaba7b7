"""Queries on news items."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from app.areas import repository as area_repository
from app.initiatives.states import PUBLIC
from app.models import Area, AreaKind, Initiative, NewsItem
from app.models.base import UTCDateTime
from app.staff.scope import Scope


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


# --- Feeds and the news page of an area ------------------------------------------------------------------


@dataclass(frozen=True)
class NewsEntry:
    """A visible item with what its link and byline need."""

    item: NewsItem
    area_name: str
    area_code: str
    initiative_public: bool
    """The item is about an initiative the public can see (its page exists)."""


def visible_entries(
    session: Session, *, area_ids: Sequence[int], now: datetime, limit: int, offset: int = 0
) -> list[NewsEntry]:
    """Visible items (not hidden, published_at ≤ now) of these areas, newest first (ties: newest id)."""
    statement = (
        select(NewsItem, Area.name, Area.code, Initiative.status)
        .join(Area, Area.id == NewsItem.area_id)
        .outerjoin(Initiative, Initiative.id == NewsItem.initiative_id)
        .where(NewsItem.area_id.in_(area_ids), NewsItem.hidden.is_(False), NewsItem.published_at <= now)
        .order_by(NewsItem.published_at.desc(), NewsItem.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return [
        NewsEntry(item, str(name), str(code), status is not None and status in PUBLIC)
        for item, name, code, status in session.execute(statement)
    ]


def last_change(session: Session, *, area_ids: Sequence[int], now: datetime) -> datetime | None:
    """The latest moment the visible news of these areas changed: an item posted, edited, hidden or restored
    (updated_at), or a scheduled item that came out (published_at). Hidden items count, so hiding the newest
    item moves this forward, never back (a feed's Last-Modified must not go back in time)."""
    changed = func.max(case((NewsItem.updated_at <= now, NewsItem.updated_at)), type_=UTCDateTime())
    came_out = func.max(
        case((and_(NewsItem.hidden.is_(False), NewsItem.published_at <= now), NewsItem.published_at)),
        type_=UTCDateTime(),
    )
    row = session.execute(select(changed, came_out).where(NewsItem.area_id.in_(area_ids))).one()
    moments = [moment for moment in row if moment is not None]
    return max(moments) if moments else None


# --- The back office ---------------------------------------------------------------------------------------

STAFF_PAGE_SIZE = 25


@dataclass(frozen=True)
class StaffNewsFilter:
    kind: str = ""
    area_id: int | None = None
    state: str = ""
    """`published`, `scheduled`, `hidden` or empty (all)."""
    initiative_id: int | None = None


@dataclass(frozen=True)
class StaffNewsRow:
    item: NewsItem
    area_name: str
    initiative_title: str | None


def _scope_area() -> ColumnElement[int]:
    """The area that decides who may act on an item: an initiative's item follows the initiative's area."""
    return func.coalesce(Initiative.area_id, NewsItem.area_id)


def staff_page(
    session: Session, scope: Scope, found: StaffNewsFilter, *, now: datetime, page: int
) -> tuple[list[StaffNewsRow], bool]:
    """One page of items in the staff member's scope (newest moment first) and whether more follow."""
    statement = (
        select(NewsItem, Area.name, Initiative.title)
        .join(Area, Area.id == NewsItem.area_id)
        .outerjoin(Initiative, Initiative.id == NewsItem.initiative_id)
        .where(scope.clause(_scope_area()))
        .order_by(NewsItem.published_at.desc(), NewsItem.id.desc())
        .offset((page - 1) * STAFF_PAGE_SIZE)
        .limit(STAFF_PAGE_SIZE + 1)
    )
    if found.kind:
        statement = statement.where(NewsItem.kind == found.kind)
    if found.area_id is not None:
        statement = statement.where(NewsItem.area_id == found.area_id)
    if found.initiative_id is not None:
        statement = statement.where(NewsItem.initiative_id == found.initiative_id)
    if found.state == "hidden":
        statement = statement.where(NewsItem.hidden.is_(True))
    elif found.state == "published":
        statement = statement.where(NewsItem.hidden.is_(False), NewsItem.published_at <= now)
    elif found.state == "scheduled":
        statement = statement.where(NewsItem.hidden.is_(False), NewsItem.published_at > now)
    rows = [
        StaffNewsRow(item, str(name), str(title) if title is not None else None)
        for item, name, title in session.execute(statement)
    ]
    return rows[:STAFF_PAGE_SIZE], len(rows) > STAFF_PAGE_SIZE


def get_with_scope_area(
    session: Session, news_id: int, *, for_update: bool = False
) -> tuple[NewsItem, int] | None:
    """The item and the area that decides its scope, or None."""
    statement = select(NewsItem).where(NewsItem.id == news_id)
    if for_update:
        statement = statement.with_for_update()
    item = session.execute(statement).scalar_one_or_none()
    if item is None:
        return None
    area_id = item.area_id
    if item.initiative_id is not None:
        area_id = (
            session.scalar(select(Initiative.area_id).where(Initiative.id == item.initiative_id)) or area_id
        )
    return item, area_id


def news_area_ids(session: Session, area_id: int, kind: str) -> list[int]:
    """The areas whose items an area's feed and news page show (see the module's docstring); the embedded
    news widget should show the same."""
    ids = [area_id] if kind == AreaKind.gemeente else area_repository.lineage_ids(session, area_id)
    if kind == AreaKind.wijk:
        ids += [child.id for child in area_repository.children(session, area_id)]
    return ids
