"""Keyword-only factories that go through the real services and flush (the caller's transaction commits)."""

from __future__ import annotations

import csv
import tempfile
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from app.areas.service import import_areas
from app.config import Settings
from app.db import Database
from app.households.service import COLUMNS as HOUSEHOLD_COLUMNS
from app.households.service import import_households
from app.initiatives.service import NewInitiative, create_and_maybe_publish
from app.kit.clock import today as amsterdam_today
from app.models import Area
from app.vouchers.service import open_period

AREAS = [
    ("GM0141", "Almelo", "gemeente", ""),
    ("WK014110", "Binnenstad", "wijk", "GM0141"),
    ("BU01411000", "Centrum", "buurt", "WK014110"),
    ("BU01411001", "Binnenstad-Zuid", "buurt", "WK014110"),
    ("WK014118", "Schelfhorst", "wijk", "GM0141"),
    ("BU01411800", "Schelfhorst-Noord", "buurt", "WK014118"),
]
BUURTEN = ["BU01411000", "BU01411001", "BU01411800"]


def write_csv(
    path: Path, header: list[str] | tuple[str, ...], rows: list[tuple[Any, ...]] | list[list[Any]]
) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def household_rows(count: int, *, start: int = 1, buurten: list[str] | None = None) -> list[tuple[Any, ...]]:
    buurten = buurten or BUURTEN
    return [
        (
            "",
            f"76{(n // 100) % 100:02d}AB",
            n % 100 + 1,
            "",
            "",
            "Grotestraat",
            "Almelo",
            buurten[n % len(buurten)],
        )
        for n in range(start, start + count)
    ]


def load_areas(session: Session, tmp: Path) -> None:
    import_areas(
        session, write_csv(tmp / "areas.csv", ["code", "name", "kind", "parent_code"], AREAS), actor="test"
    )


def load_households(session: Session, tmp: Path, *, count: int, start: int = 1) -> None:
    path = write_csv(tmp / "households.csv", HOUSEHOLD_COLUMNS, household_rows(count, start=start))
    import_households(session, path, actor="test", deactivate_missing=False)


def area_id(session: Session, code: str) -> int:
    return session.execute(select(Area.id).where(Area.code == code)).scalar_one()


def issue_period(
    session: Session,
    *,
    name: str = "Voorjaar 2027",
    value_cents: int = 750,
    today: date | None = None,
    starts_on: date | None = None,
    ends_on: date | None = None,
) -> dict[int, str]:
    """Open (or top up) a period; returns household id → code for the vouchers issued now."""
    day = today or amsterdam_today()
    codes: dict[int, str] = {}

    def sink(household: Row[Any], code: str) -> None:
        codes[household.id] = code

    open_period(
        session,
        name=name,
        starts_on=starts_on or day - timedelta(days=1),
        ends_on=ends_on or day + timedelta(days=90),
        value_cents=value_cents,
        actor="test",
        today=day,
        sink=sink,
    )
    return codes


def make_initiative(
    session: Session,
    settings: Settings,
    *,
    area_code: str = "BU01411000",
    target_cents: int = 5_000,
    publish: bool = True,
    deadline: date | None = None,
    title: str = "Nieuwe bankjes in het park",
    today: date | None = None,
) -> int:
    day = today or amsterdam_today()
    return create_and_maybe_publish(
        session,
        NewInitiative(
            title=title,
            area_code=area_code,
            target_cents=target_cents,
            deadline=deadline or day + timedelta(days=30),
        ),
        publish=publish,
        settings=settings,
        actor="test",
        today=day,
    )


@dataclass
class World:
    codes: list[str]
    codes_by_household: dict[int, str]
    initiative_id: int
    settings: Settings
    extra: dict[str, Any] = field(default_factory=dict)


def build_world(
    db: Database, settings: Settings, *, households: int = 40, target_cents: int = 5_000
) -> World:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)

        def work(session: Session) -> World:
            load_areas(session, tmp)
            load_households(session, tmp, count=households)
            codes = issue_period(session)
            initiative_id = make_initiative(session, settings, target_cents=target_cents)
            return World(
                codes=list(codes.values()),
                codes_by_household=codes,
                initiative_id=initiative_id,
                settings=settings,
            )

        return db.run_write(work)
