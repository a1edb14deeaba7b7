"""What a staff member may see and act on.

An administrator acts everywhere. A wijkregisseur acts within the wijken granted to them and their buurten,
and on gemeente-wide items only when granted. Every back-office query filters with `Scope.clause` and every
single item is fetched through `Scope.require`, which answers 404 (not 403) outside the scope: a director
cannot even learn that another wijk's item exists.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.errors import NotFound
from app.models import Area, AreaKind, StaffArea, StaffMember, StaffRole


@dataclass(frozen=True)
class Scope:
    staff_id: int
    is_admin: bool
    wijk_ids: frozenset[int]
    area_ids: frozenset[int]
    """Wijken, their buurten, and the gemeente when gemeente-wide items are granted."""
    gemeente_wide: bool

    def allows(self, area_id: int | None) -> bool:
        return self.is_admin or (area_id is not None and area_id in self.area_ids)

    def clause(self, column: ColumnElement[int] | InstrumentedAttribute[int]) -> ColumnElement[bool]:
        """A WHERE condition on an area-id column: true for administrators."""
        if self.is_admin:
            return true()
        return column.in_(sorted(self.area_ids))

    def require(self, area_id: int | None) -> None:
        """Refuse with 404 an item outside the scope."""
        if not self.allows(area_id):
            raise NotFound(
                "Dit bestaat niet of valt buiten uw wijken.", "This does not exist or is outside your wijken."
            )


def scope_of(session: Session, staff: StaffMember) -> Scope:
    if staff.role == StaffRole.admin:
        return Scope(staff.id, True, frozenset(), frozenset(), True)
    wijk_ids = frozenset(session.scalars(select(StaffArea.area_id).where(StaffArea.staff_id == staff.id)))
    buurt_ids = (
        frozenset(
            session.scalars(
                select(Area.id).where(Area.parent_id.in_(sorted(wijk_ids)), Area.kind == AreaKind.buurt)
            )
        )
        if wijk_ids
        else frozenset()
    )
    gemeente_ids = (
        frozenset(session.scalars(select(Area.id).where(Area.kind == AreaKind.gemeente)))
        if staff.gemeente_wide
        else frozenset()
    )
    return Scope(staff.id, False, wijk_ids, wijk_ids | buurt_ids | gemeente_ids, staff.gemeente_wide)


def areas_in_scope(session: Session, scope: Scope) -> list[Area]:
    """The areas a staff member can pick (for forms and filters), gemeente first, then by code."""
    rows = session.scalars(select(Area).where(scope.clause(Area.id)).order_by(Area.code)).all()
    codes = {area.id: area.code for area in rows}
    codes.update(
        (area_id, code)
        for area_id, code in session.execute(select(Area.id, Area.code).where(Area.kind == AreaKind.wijk))
    )

    def key(area: Area) -> tuple[int, str, int, str]:
        if area.kind == AreaKind.gemeente:
            return (0, "", 0, area.code)
        wijk = area.code if area.kind == AreaKind.wijk else codes.get(area.parent_id or 0, "")
        return (1, wijk, int(area.kind == AreaKind.buurt), area.code)

    return sorted(rows, key=key)
