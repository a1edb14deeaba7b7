"""Importing the CBS area hierarchy: gemeente → wijk → buurt."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from app.areas import repository
from app.audit.service import record
from app.kit.csvfile import CsvError, Problems, read_rows
from app.models import Area, AreaKind

COLUMNS = ("code", "name", "kind", "parent_code")
CODE_PATTERNS = {
    AreaKind.gemeente: re.compile(r"^GM\d{4}$"),
    AreaKind.wijk: re.compile(r"^WK\d{6}$"),
    AreaKind.buurt: re.compile(r"^BU\d{8}$"),
}
PARENT_KIND = {AreaKind.wijk: AreaKind.gemeente, AreaKind.buurt: AreaKind.wijk}


@dataclass
class AreaImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


def code_digits(code: str) -> str:
    return code[2:]


def import_areas(session: Session, path: Path, *, actor: str) -> AreaImportResult:
    """Create or update areas from CSV (`code,name,kind,parent_code`); all rows valid or nothing changes."""
    problems = Problems()
    rows: dict[str, tuple[int, str, AreaKind, str]] = {}
    for line, row in read_rows(path, COLUMNS):
        code, name, kind_text, parent_code = (
            row["code"].upper(),
            row["name"],
            row["kind"].lower(),
            row["parent_code"].upper(),
        )
        if kind_text not in AreaKind.__members__:
            problems.add(line, f"kind {kind_text!r} is not one of gemeente, wijk, buurt")
            continue
        kind = AreaKind(kind_text)
        if not CODE_PATTERNS[kind].match(code):
            problems.add(line, f"code {code!r} is not a CBS {kind} code (like {_example(kind)})")
            continue
        if not name or len(name) > 120:
            problems.add(line, "name is empty or longer than 120 characters")
            continue
        if code in rows:
            problems.add(line, f"code {code} appears twice (first on line {rows[code][0]})")
            continue
        if kind == AreaKind.gemeente and parent_code:
            problems.add(line, "a gemeente has no parent_code")
            continue
        if kind != AreaKind.gemeente and not parent_code:
            problems.add(line, f"a {kind} needs a parent_code")
            continue
        rows[code] = (line, name, kind, parent_code)
    if not rows and not problems.items:
        raise CsvError(["the file holds no areas; nothing was changed"])

    existing = repository.codes_to_ids(session)
    for code, (line, _name, kind, parent_code) in rows.items():
        if code in existing and existing[code][1] != kind:
            problems.add(line, f"{code} already exists as a {existing[code][1]}, not a {kind}")
        if kind == AreaKind.gemeente:
            continue
        parent_kind = rows[parent_code][2] if parent_code in rows else existing.get(parent_code, (0, None))[1]
        if parent_kind is None:
            problems.add(
                line, f"parent_code {parent_code} is not a known area (not in the file, not imported)"
            )
        elif parent_kind != PARENT_KIND[kind]:
            problems.add(
                line,
                f"the parent of a {kind} must be a {PARENT_KIND[kind]}, {parent_code} is a {parent_kind}",
            )
        elif not code_digits(code).startswith(code_digits(parent_code)):
            problems.add(
                line,
                f"{code} does not lie under {parent_code} (its digits must start with {parent_code[2:]})",
            )
    problems.raise_if_any()

    result = AreaImportResult()
    current = {area.code: area for area, _ in repository.all_areas(session)}
    ids = {code: area_id for code, (area_id, _kind) in existing.items()}
    for kind in (AreaKind.gemeente, AreaKind.wijk, AreaKind.buurt):
        for code, (_line, name, row_kind, parent_code) in rows.items():
            if row_kind != kind:
                continue
            parent_id = ids[parent_code] if parent_code else None
            area = current.get(code)
            if area is None:
                ids[code] = session.execute(
                    insert(Area)
                    .values(code=code, name=name, kind=kind, parent_id=parent_id)
                    .returning(Area.id)
                ).scalar_one()
                result.created += 1
            elif (area.name, area.parent_id) != (name, parent_id):
                before = {"name": area.name, "parent_id": area.parent_id}
                session.execute(update(Area).where(Area.id == area.id).values(name=name, parent_id=parent_id))
                record(
                    session,
                    actor=actor,
                    action="area.updated",
                    subject_type="area",
                    subject_id=code,
                    before=before,
                    after={"name": name, "parent_id": parent_id},
                )
                result.updated += 1
            else:
                result.unchanged += 1
    record(
        session,
        actor=actor,
        action="areas.imported",
        subject_type="areas",
        subject_id=path.name,
        after={"created": result.created, "updated": result.updated, "unchanged": result.unchanged},
    )
    return result


def _example(kind: AreaKind) -> str:
    return {"gemeente": "GM0141", "wijk": "WK014101", "buurt": "BU01410101"}[kind]
