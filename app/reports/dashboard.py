"""The back-office dashboard: per voucher period and per wijk/buurt, within the staff member's scope.

Definitions (the page and both exports use exactly these numbers):
- households with a voucher: distinct households in the area that got a voucher in the period (a reissued
  voucher counts once), as on the public results page;
- households that used it: of those, the households with at least one pledge from a voucher of this
  period that was not returned;
- share used: used * 100 // with a voucher (rounded down, so 100% means every household);
- money pledged: the sum of the pledges that were not returned, from vouchers of this period, counted in
  the area of the household that gave (not the area of the initiative that received it);
- initiatives by state: the current status of the initiatives that belong to the area or its buurten (all
  periods together; an initiative for a whole wijk counts for the wijk, not for one of its buurten, and one
  for the whole gemeente only in the gemeente's total).

A director sees their wijken and buurten only: the "gemeente" total is the total over their wijken
(and, with gemeente-wide rights, initiatives for the whole gemeente). Any other area answers 404.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.errors import InvalidInput, NotFound
from app.models import Area, AreaKind, Household, Initiative, InitiativeStatus, Pledge, Voucher, VoucherPeriod
from app.staff.scope import Scope

STATUSES: tuple[str, ...] = tuple(InitiativeStatus)


class PeriodNotFound(NotFound):
    slug = "period-not-found"
    message = "Deze periode bestaat niet."
    message_en = "This period does not exist."


class InvalidDashboardQuery(InvalidInput):
    slug = "invalid-dashboard-query"
    title = "Keuze klopt niet"
    title_en = "Choice not valid"


@dataclass
class Figures:
    """One area (or the total) in one period."""

    code: str
    name: str
    kind: str
    households: int = 0
    used: int = 0
    pledged_cents: int = 0
    initiatives: Counter[str] = field(default_factory=Counter)

    @property
    def share_percent(self) -> int:
        return self.used * 100 // self.households if self.households else 0

    def add(self, other: Figures) -> None:
        self.households += other.households
        self.used += other.used
        self.pledged_cents += other.pledged_cents

    def as_dict(self) -> dict[str, Any]:
        return {
            "area_code": self.code,
            "area_name": self.name,
            "area_kind": self.kind,
            "households_with_voucher": self.households,
            "households_used": self.used,
            "share_used_percent": self.share_percent,
            "pledged_cents": self.pledged_cents,
            "initiatives": {status: self.initiatives.get(status, 0) for status in STATUSES},
        }


@dataclass(frozen=True)
class TrendPoint:
    period_id: int
    period_name: str
    households: int
    used: int
    pledged_cents: int

    @property
    def share_percent(self) -> int:
        return self.used * 100 // self.households if self.households else 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "period_id": self.period_id,
            "period_name": self.period_name,
            "households_with_voucher": self.households,
            "households_used": self.used,
            "share_used_percent": self.share_percent,
            "pledged_cents": self.pledged_cents,
        }


@dataclass
class Dashboard:
    periods: list[VoucherPeriod]
    """Newest first, for the period picker."""
    period: VoucherPeriod | None
    area_code: str
    """The chosen area's code; for a director's whole scope, the gemeente's code."""
    whole_scope: bool
    """A director's gemeente view: the total over their own wijken only."""
    areas: list[tuple[str, str, str]]
    """(code, name, kind) the staff member may choose, for the area picker."""
    total: Figures
    rows: list[Figures]
    trend: list[TrendPoint]

    def as_dict(self) -> dict[str, Any]:
        period = self.period
        return {
            "period": (
                {
                    "id": period.id,
                    "name": period.name,
                    "starts_on": period.starts_on.isoformat(),
                    "ends_on": period.ends_on.isoformat(),
                }
                if period is not None
                else None
            ),
            "area": {
                "code": self.total.code,
                "name": self.total.name,
                "kind": self.total.kind,
                "limited_to_your_wijken": self.whole_scope,
            },
            "money_counted_by": "household area",
            "total": self.total.as_dict(),
            "rows": [row.as_dict() for row in self.rows],
            "trend": [point.as_dict() for point in self.trend],
        }


def parse_period(value: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    if not value.isdigit() or len(value) > 12:
        raise InvalidDashboardQuery("Kies een periode uit de lijst.", "Choose a period from the list.")
    return int(value)


def parse_area(value: str) -> str:
    value = value.strip().upper()
    if value and not re.fullmatch(r"[A-Z0-9]{1,10}", value):
        raise InvalidDashboardQuery("Kies een gebied uit de lijst.", "Choose an area from the list.")
    return value


def _subtree(areas: list[Area], root: Area | None, scope: Scope) -> tuple[list[Area], set[int]]:
    """The rows to show (wijken with their buurten, or buurten) and every area id counted in the total."""
    children: dict[int | None, list[Area]] = {}
    for area in areas:
        children.setdefault(area.parent_id, []).append(area)
    for found in children.values():
        found.sort(key=lambda a: a.name)
    counted: set[int] = set()
    rows: list[Area] = []
    if root is None or root.kind == AreaKind.gemeente:
        gemeenten = [a for a in areas if a.kind == AreaKind.gemeente]
        for gemeente in gemeenten:
            if scope.allows(gemeente.id):
                counted.add(gemeente.id)
            for wijk in children.get(gemeente.id, []):
                if not scope.allows(wijk.id):
                    continue
                rows.append(wijk)
                counted.add(wijk.id)
                for buurt in children.get(wijk.id, []):
                    if scope.allows(buurt.id):
                        rows.append(buurt)
                        counted.add(buurt.id)
    elif root.kind == AreaKind.wijk:
        counted.add(root.id)
        for buurt in children.get(root.id, []):
            if scope.allows(buurt.id):
                rows.append(buurt)
                counted.add(buurt.id)
    else:
        rows.append(root)
        counted.add(root.id)
    return rows, counted


def build(session: Session, scope: Scope, *, period_id: int | None, area_code: str) -> Dashboard:
    periods = list(
        session.scalars(
            select(VoucherPeriod).order_by(VoucherPeriod.starts_on.desc(), VoucherPeriod.id.desc())
        )
    )
    period = next((p for p in periods if period_id is None or p.id == period_id), None)
    if period is None and period_id is not None:
        raise PeriodNotFound()
    areas = list(session.scalars(select(Area)))
    by_code = {area.code: area for area in areas}
    root = by_code.get(area_code) if area_code else None
    if area_code and root is None:
        raise NotFound("Dit gebied bestaat niet.", "This area does not exist.")
    if root is not None and root.kind != AreaKind.gemeente:
        scope.require(root.id)
    gemeente = next((a for a in areas if a.kind == AreaKind.gemeente), None)
    if root is None:
        root = gemeente
    rows_areas, counted = _subtree(areas, root, scope)
    buurt_ids = sorted(a.id for a in rows_areas if a.kind == AreaKind.buurt)

    issued, giving = _per_period_buurt(session, buurt_ids)
    statuses = _initiatives(session, scope, counted)

    figures: dict[int, Figures] = {}
    for area in rows_areas:
        figures[area.id] = Figures(
            area.code, area.name, area.kind, initiatives=statuses.get(area.id, Counter())
        )
    total = Figures(
        root.code if root else "",
        root.name if root else "",
        root.kind if root else AreaKind.gemeente,
        initiatives=sum((statuses.get(area_id, Counter()) for area_id in counted), Counter()),
    )
    for area in rows_areas:
        if area.kind != AreaKind.buurt:
            continue
        row = figures[area.id]
        parent = figures.get(area.parent_id) if area.parent_id is not None else None
        if parent is not None:  # a wijk's row adds up its buurten
            parent.initiatives = parent.initiatives + row.initiatives
        if period is None:
            continue
        row.households = issued.get((period.id, area.id), 0)
        row.used, row.pledged_cents = giving.get((period.id, area.id), (0, 0))
        total.add(row)
        if parent is not None:
            parent.add(row)
    trend = []
    for each in reversed(periods):
        point = TrendPoint(
            each.id,
            each.name,
            sum(issued.get((each.id, b), 0) for b in buurt_ids),
            sum(giving.get((each.id, b), (0, 0))[0] for b in buurt_ids),
            sum(giving.get((each.id, b), (0, 0))[1] for b in buurt_ids),
        )
        trend.append(point)
    choices = _choices(areas, scope)
    return Dashboard(
        periods=periods,
        period=period,
        area_code=total.code,
        whole_scope=not scope.is_admin and total.kind == AreaKind.gemeente,
        areas=choices,
        total=total,
        rows=[figures[area.id] for area in rows_areas],
        trend=trend,
    )


def _choices(areas: list[Area], scope: Scope) -> list[tuple[str, str, str]]:
    """The gemeente first (for a director: the total over their wijken), then each wijk with its buurten."""
    codes = {area.id: area.code for area in areas}

    def key(area: Area) -> tuple[int, str, int, str]:
        if area.kind == AreaKind.gemeente:
            return (0, "", 0, area.code)
        wijk = area.code if area.kind == AreaKind.wijk else codes.get(area.parent_id or 0, "")
        return (1, wijk, int(area.kind == AreaKind.buurt), area.code)

    pickable = [a for a in areas if a.kind == AreaKind.gemeente or scope.allows(a.id)]
    return [(area.code, area.name, area.kind) for area in sorted(pickable, key=key)]


def _per_period_buurt(
    session: Session, buurt_ids: list[int]
) -> tuple[dict[tuple[int, int], int], dict[tuple[int, int], tuple[int, int]]]:
    """Households with a voucher, and (households that gave, cents given), per (period, buurt)."""
    if not buurt_ids:
        return {}, {}
    issued_rows = session.execute(
        select(Voucher.period_id, Household.buurt_id, func.count(func.distinct(Voucher.household_id)))
        .join(Household, Household.id == Voucher.household_id)
        .where(Household.buurt_id.in_(buurt_ids))
        .group_by(Voucher.period_id, Household.buurt_id)
    )
    issued = {(int(p), int(b)): int(n) for p, b, n in issued_rows}
    giving_rows = session.execute(
        select(
            Voucher.period_id,
            Household.buurt_id,
            func.count(func.distinct(Voucher.household_id)),
            func.coalesce(func.sum(Pledge.amount_cents), 0),
        )
        .select_from(Pledge)
        .join(Voucher, Voucher.id == Pledge.voucher_id)
        .join(Household, Household.id == Voucher.household_id)
        .where(Household.buurt_id.in_(buurt_ids), Pledge.returned_at.is_(None))
        .group_by(Voucher.period_id, Household.buurt_id)
    )
    giving = {(int(p), int(b)): (int(n), int(c)) for p, b, n, c in giving_rows}
    return issued, giving


def _initiatives(session: Session, scope: Scope, area_ids: set[int]) -> dict[int, Counter[str]]:
    """Initiatives per status, per area they belong to (drafts included: they are work in progress)."""
    if not area_ids:
        return {}
    rows = session.execute(
        select(Initiative.area_id, Initiative.status, func.count())
        .where(scope.clause(Initiative.area_id), Initiative.area_id.in_(sorted(area_ids)))
        .group_by(Initiative.area_id, Initiative.status)
    )
    found: dict[int, Counter[str]] = {}
    for area_id, status, count in rows:
        found.setdefault(int(area_id), Counter())[str(status)] += int(count)
    return found


CSV_HEADER = (
    "section",
    "period",
    "area_code",
    "area_name",
    "area_kind",
    "households_with_voucher",
    "households_used",
    "share_used_percent",
    "pledged_cents",
    *(f"initiatives_{status}" for status in STATUSES),
)


def csv_rows(dashboard: Dashboard) -> list[list[object]]:
    """The same figures as the page: the total and each row for the chosen period, then the trend."""
    period_name = dashboard.period.name if dashboard.period else ""
    rows: list[list[object]] = []
    for section, item in [("total", dashboard.total), *(("area", row) for row in dashboard.rows)]:
        rows.append(
            [
                section,
                period_name,
                item.code,
                item.name,
                item.kind,
                item.households,
                item.used,
                item.share_percent,
                item.pledged_cents,
                *(item.initiatives.get(status, 0) for status in STATUSES),
            ]
        )
    for point in dashboard.trend:
        rows.append(
            [
                "trend",
                point.period_name,
                dashboard.total.code,
                dashboard.total.name,
                dashboard.total.kind,
                point.households,
                point.used,
                point.share_percent,
                point.pledged_cents,
                *("" for _ in STATUSES),
            ]
        )
    return rows
