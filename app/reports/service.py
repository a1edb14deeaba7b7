"""The results of a voucher period: vouchers used, money given and initiatives funded, per wijk and buurt."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from app.areas import repository as areas
from app.models import VoucherPeriod
from app.reports import repository

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@dataclass
class AreaResult:
    code: str
    name: str
    kind: str
    households: int = 0
    gave: int = 0
    given_cents: int = 0
    funded: int = 0
    buurten: list[AreaResult] = field(default_factory=list)

    @property
    def share_percent(self) -> int:
        """Share of households that gave (rounded down, so 100 means every one)."""
        return self.gave * 100 // self.households if self.households else 0

    def add(self, other: AreaResult) -> None:
        self.households += other.households
        self.gave += other.gave
        self.given_cents += other.given_cents
        self.funded += other.funded


@dataclass
class PeriodResults:
    period: VoucherPeriod
    total: AreaResult
    wijken: list[AreaResult]


def period_results(session: Session, period: VoucherPeriod) -> PeriodResults:
    """Results of `period`, summed from buurten up to wijken and the gemeente."""
    households = repository.households_per_buurt(session, period.id)
    giving = repository.giving_per_buurt(session, period.id)
    since = datetime.combine(period.starts_on, time.min, tzinfo=AMSTERDAM)
    until = datetime.combine(period.ends_on, time.max, tzinfo=AMSTERDAM)
    funded = repository.funded_per_area(session, since, until)

    total = AreaResult(code="", name="", kind="gemeente")
    wijken: dict[int, AreaResult] = {}
    buurt_rows: list[tuple[int | None, AreaResult]] = []
    for area, _parent_code in areas.all_areas(session):
        result = AreaResult(code=area.code, name=area.name, kind=area.kind, funded=funded.get(area.id, 0))
        if area.kind == "gemeente":
            total.code, total.name, total.funded = area.code, area.name, total.funded + result.funded
        elif area.kind == "wijk":
            wijken[area.id] = result
        else:
            result.households = households.get(area.id, 0)
            result.gave, result.given_cents = giving.get(area.id, (0, 0))
            buurt_rows.append((area.parent_id, result))
    for wijk in wijken.values():  # initiatives for a whole wijk count for the wijk, and so for the total
        total.funded += wijk.funded
    for parent_id, buurt in buurt_rows:
        parent = wijken.get(parent_id) if parent_id is not None else None
        if parent is not None:
            parent.buurten.append(buurt)
            parent.add(buurt)
        total.add(buurt)
    ordered = sorted(wijken.values(), key=lambda w: w.name)
    for wijk in ordered:
        wijk.buurten.sort(key=lambda b: b.name)
    return PeriodResults(period=period, total=total, wijken=ordered)
