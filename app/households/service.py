"""Importing the municipality's address list; re-import is an idempotent upsert on the address key."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Table, func, select, update
from sqlalchemy.orm import Session

from app.areas import repository as areas
from app.audit.service import record
from app.db import rowcount, upsert_insert
from app.kit.csvfile import CsvError, Problems, read_rows
from app.kit.postcode import normalize_postcode
from app.models import AreaKind, Household
from app.models.base import utcnow

COLUMNS = (
    "address_id",
    "postcode",
    "huisnummer",
    "huisletter",
    "toevoeging",
    "straat",
    "woonplaats",
    "buurtcode",
)
_BATCH = 5_000
_ADDRESS_ID = re.compile(r"^\d{16}$")
_HUISLETTER = re.compile(r"^[A-Za-z]?$")
_TOEVOEGING = re.compile(r"^[A-Za-z0-9]{0,4}$")


@dataclass
class HouseholdImportResult:
    rows: int = 0
    created: int = 0
    deactivated: int = 0
    active: int = 0


def import_households(
    session: Session, path: Path, *, actor: str, deactivate_missing: bool = True
) -> HouseholdImportResult:
    """Upsert every address in the file; active addresses not in the file become inactive (never deleted)."""
    buurten = {
        code: area_id
        for code, (area_id, kind) in areas.codes_to_ids(session).items()
        if kind == AreaKind.buurt
    }
    problems = Problems()
    seen: dict[tuple[object, ...], int] = {}
    seen_address_ids: dict[str, int] = {}
    import_id = str(uuid.uuid4())
    before = session.scalar(select(func.count()).select_from(Household)) or 0
    now = utcnow()
    batch: list[dict[str, object]] = []
    rows = 0
    for line, row in read_rows(path, COLUMNS):
        parsed = _parse_row(line, row, buurten, problems)
        if parsed is None:
            continue
        key = (parsed["postcode"], parsed["huisnummer"], parsed["huisletter"], parsed["toevoeging"])
        if key in seen:
            problems.add(line, f"the same address as line {seen[key]}")
            continue
        seen[key] = line
        address_id = parsed["address_id"]
        if isinstance(address_id, str):
            if address_id in seen_address_ids:
                problems.add(line, f"address_id {address_id} also on line {seen_address_ids[address_id]}")
                continue
            seen_address_ids[address_id] = line
        rows += 1
        batch.append(dict(parsed, last_import_id=import_id, active=True, created_at=now))
        if len(batch) >= _BATCH:
            if not problems.items:  # keep validating the rest, but write nothing more once a row failed
                _upsert(session, batch)
            batch = []
    problems.raise_if_any()  # the caller's transaction rolls back whatever was written
    if rows == 0:
        raise CsvError(["the file holds no addresses; nothing was changed"])
    _upsert(session, batch)

    result = HouseholdImportResult(rows=rows)
    result.created = (session.scalar(select(func.count()).select_from(Household)) or 0) - before
    if deactivate_missing:
        result.deactivated = rowcount(
            session.execute(
                update(Household)
                .where(Household.active.is_(True), Household.last_import_id != import_id)
                .values(active=False, deactivated_at=now)
            )
        )
    result.active = (
        session.scalar(select(func.count()).select_from(Household).where(Household.active.is_(True))) or 0
    )
    record(
        session,
        actor=actor,
        action="households.imported",
        subject_type="households",
        subject_id=path.name,
        after={"rows": result.rows, "created": result.created, "deactivated": result.deactivated},
    )
    return result


def _upsert(session: Session, batch: list[dict[str, object]]) -> None:
    if not batch:
        return
    table: Table = Household.__table__  # type: ignore[assignment]
    insert = upsert_insert(session)
    statement = insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=["postcode", "huisnummer", "huisletter", "toevoeging"],
        set_={
            "address_id": statement.excluded.address_id,
            "straat": statement.excluded.straat,
            "woonplaats": statement.excluded.woonplaats,
            "buurt_id": statement.excluded.buurt_id,
            "last_import_id": statement.excluded.last_import_id,
            "active": True,
            "deactivated_at": None,
        },
    )
    session.execute(statement, batch)


def _parse_row(
    line: int, row: dict[str, str], buurten: dict[str, int], problems: Problems
) -> dict[str, object] | None:
    postcode = normalize_postcode(row["postcode"])
    if postcode is None:
        problems.add(line, f"postcode {row['postcode']!r} is not a Dutch postcode like 7607AB")
        return None
    try:
        huisnummer = int(row["huisnummer"])
    except ValueError:
        huisnummer = 0
    if not 1 <= huisnummer <= 99_999:
        problems.add(line, f"huisnummer {row['huisnummer']!r} is not a number from 1 to 99999")
        return None
    if not _HUISLETTER.match(row["huisletter"]):
        problems.add(line, f"huisletter {row['huisletter']!r} must be one letter or empty")
        return None
    if not _TOEVOEGING.match(row["toevoeging"]):
        problems.add(line, f"toevoeging {row['toevoeging']!r} must be at most 4 letters or digits")
        return None
    address_id = row["address_id"] or None
    if address_id is not None and not _ADDRESS_ID.match(address_id):
        problems.add(line, f"address_id {address_id!r} must be 16 digits (BAG nummeraanduiding) or empty")
        return None
    for column, limit in (("straat", 120), ("woonplaats", 80)):
        if not row[column] or len(row[column]) > limit:
            problems.add(line, f"{column} is empty or longer than {limit} characters")
            return None
    buurt_id = buurten.get(row["buurtcode"].upper())
    if buurt_id is None:
        problems.add(line, f"buurtcode {row['buurtcode']!r} is not an imported buurt")
        return None
    return {
        "address_id": address_id,
        "postcode": postcode,
        "huisnummer": huisnummer,
        "huisletter": row["huisletter"].upper(),
        "toevoeging": row["toevoeging"].upper(),
        "straat": row["straat"],
        "woonplaats": row["woonplaats"],
        "buurt_id": buurt_id,
    }
