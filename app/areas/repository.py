"""Queries on areas."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from app.models import Area


def all_areas(session: Session) -> list[tuple[Area, str | None]]:
    """Every area with its parent's code, gemeente first, then wijken, then buurten."""
    parent = aliased(Area)
    rows = session.execute(
        select(Area, parent.code).outerjoin(parent, parent.id == Area.parent_id).order_by(Area.code)
    ).all()
    order = {"gemeente": 0, "wijk": 1, "buurt": 2}
    return sorted(
        ((area, parent_code) for area, parent_code in rows), key=lambda r: (order[r[0].kind], r[0].code)
    )


def by_code(session: Session, code: str) -> Area | None:
    if "\x00" in code:  # no code has one, and PostgreSQL refuses NUL in text (a 500 otherwise)
        return None
    return session.execute(select(Area).where(Area.code == code)).scalar_one_or_none()


def codes_to_ids(session: Session) -> dict[str, tuple[int, str]]:
    """code → (id, kind) for every area."""
    return {
        code: (area_id, kind)
        for area_id, code, kind in session.execute(select(Area.id, Area.code, Area.kind))
    }


def lineage_ids(session: Session, area_id: int) -> list[int]:
    """The area and its ancestors, nearest first (buurt, wijk, gemeente)."""
    chain: list[int] = []
    current: int | None = area_id
    while current is not None and current not in chain:
        chain.append(current)
        current = session.execute(select(Area.parent_id).where(Area.id == current)).scalar_one_or_none()
    return chain


def descendant_ids(session: Session, area_id: int) -> list[int]:
    """The area and everything below it."""
    found = [area_id]
    frontier = [area_id]
    while frontier:
        frontier = list(session.scalars(select(Area.id).where(Area.parent_id.in_(frontier))))
        found.extend(frontier)
    return found


def names(session: Session, ids: list[int]) -> dict[int, str]:
    return {
        area_id: name for area_id, name in session.execute(select(Area.id, Area.name).where(Area.id.in_(ids)))
    }


def lineage(session: Session, area_id: int) -> list[Area]:
    """The area and its ancestors as rows, gemeente first (for breadcrumbs)."""
    ids = lineage_ids(session, area_id)
    found = {area.id: area for area in session.scalars(select(Area).where(Area.id.in_(ids)))}
    return [found[i] for i in reversed(ids) if i in found]


def children(session: Session, area_id: int) -> list[Area]:
    return list(session.scalars(select(Area).where(Area.parent_id == area_id).order_by(Area.name)))


def gemeente(session: Session) -> Area | None:
    return session.scalars(select(Area).where(Area.kind == "gemeente").order_by(Area.id).limit(1)).first()
