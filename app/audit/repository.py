"""Reading the audit log: one filter for the page and its exports, pages of 50, and batches for streaming.

Filters come from the address bar, so they are checked here and refused with a clear message (422):
actor exact (`staff:3`, `cli`), action by prefix (`payout.`), subject type and id exact, and a date range
in Amsterdam dates (both days included).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session

from app.errors import InvalidInput
from app.kit.clock import AMSTERDAM
from app.models import AuditEvent, StaffMember

PER_PAGE = 50
EXPORT_BATCH = 1000
MAX_PAGE = 100_000
FIRST_YEAR, LAST_YEAR = 1970, 2999  # beyond these a day has no moment in UTC to compare with
_STAFF_ACTOR = re.compile(r"staff:(\d{1,18})")


class InvalidAuditFilter(InvalidInput):
    slug = "invalid-audit-filter"
    title = "Filter klopt niet"
    title_en = "Filter not valid"


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""
    action: str = ""
    subject_type: str = ""
    subject_id: str = ""
    date_from: date | None = None
    date_to: date | None = None

    def as_params(self) -> dict[str, str]:
        """The filter as query parameters (empty ones left out), for links and the export's header."""
        names = {"date_from": "from", "date_to": "to"}
        return {
            names.get(key, key): value.isoformat() if isinstance(value, date) else value
            for key, value in asdict(self).items()
            if value
        }


def _text(params: Mapping[str, str], name: str, limit: int, label: str, label_en: str) -> str:
    value = params.get(name, "").strip()
    if len(value) > limit:
        raise InvalidAuditFilter(
            f"{label} is te lang (hoogstens {limit} tekens).",
            f"{label_en} is too long (at most {limit} characters).",
        )
    if any(ord(char) < 32 for char in value):
        raise InvalidAuditFilter(
            f"{label} bevat ongeldige tekens.", f"{label_en} contains invalid characters."
        )
    return value


def _day(params: Mapping[str, str], name: str, label: str, label_en: str) -> date | None:
    value = params.get(name, "").strip()
    if not value:
        return None
    try:
        if len(value) != 10:
            raise ValueError(value)
        day = date.fromisoformat(value)
        if not FIRST_YEAR <= day.year <= LAST_YEAR:
            raise ValueError(value)
        return day
    except ValueError:
        raise InvalidAuditFilter(
            f"{label} is geen datum. Schrijf de datum als JJJJ-MM-DD, bijvoorbeeld 2027-03-01.",
            f"{label_en} is not a date. Write the date as YYYY-MM-DD, for example 2027-03-01.",
        ) from None


def parse_filter(params: Mapping[str, str]) -> AuditFilter:
    found = AuditFilter(
        actor=_text(params, "actor", 80, "Wie", "Actor"),
        action=_text(params, "action", 80, "Actie", "Action"),
        subject_type=_text(params, "subject_type", 40, "Soort onderwerp", "Subject type"),
        subject_id=_text(params, "subject_id", 40, "Nummer onderwerp", "Subject id"),
        date_from=_day(params, "from", "Vanaf", "From"),
        date_to=_day(params, "to", "Tot en met", "Up to"),
    )
    if found.date_from and found.date_to and found.date_from > found.date_to:
        raise InvalidAuditFilter(
            "De begindatum ligt na de einddatum.", "The start date is after the end date."
        )
    return found


def parse_page(params: Mapping[str, str]) -> int:
    value = params.get("page", "").strip()
    if not value:
        return 1
    if not value.isdigit() or len(value) > 6 or not 1 <= int(value) <= MAX_PAGE:
        raise InvalidAuditFilter(
            f"De pagina moet een getal zijn van 1 tot en met {MAX_PAGE}.",
            f"The page must be a number from 1 to {MAX_PAGE}.",
        )
    return int(value)


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=AMSTERDAM)


def conditions(found: AuditFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if found.actor:
        where.append(AuditEvent.actor == found.actor)
    if found.action:
        where.append(AuditEvent.action.startswith(found.action, autoescape=True))
    if found.subject_type:
        where.append(AuditEvent.subject_type == found.subject_type)
    if found.subject_id:
        where.append(AuditEvent.subject_id == found.subject_id)
    if found.date_from:
        where.append(AuditEvent.created_at >= _start_of(found.date_from))
    if found.date_to:
        where.append(AuditEvent.created_at < _start_of(found.date_to + timedelta(days=1)))
    return where


def _query(found: AuditFilter) -> Select[Any]:
    return select(AuditEvent).where(*conditions(found)).order_by(AuditEvent.id.desc())


@dataclass(frozen=True)
class Change:
    key: str
    before: str
    after: str
    changed: bool

    def as_text(self) -> str:
        """`key: before -> after` when it changed, `key: value` otherwise (for the CSV)."""
        label = f"{self.key}: " if self.key else ""
        if self.before and self.after:
            return label + (f"{self.before} -> {self.after}" if self.changed else self.after)
        return label + (self.after if self.after else f"{self.before} ->")


@dataclass(frozen=True)
class Row:
    id: int
    created_at: datetime
    actor: str
    actor_name: str
    actor_email: str
    action: str
    subject_type: str
    subject_id: str
    changes: list[Change]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": self.created_at.astimezone(AMSTERDAM).isoformat(),
            "actor": self.actor,
            "actor_name": self.actor_name,
            "actor_email": self.actor_email,
            "action": self.action,
            "subject_type": self.subject_type,
            "subject_id": self.subject_id,
            "changes": [
                {"key": c.key, "before": c.before, "after": c.after, "changed": c.changed}
                for c in self.changes
            ],
        }


def _decode(raw: str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return {"": raw}
    return value if isinstance(value, dict) else {"": value}


def _shown(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(_shown(item) for item in value) or "–"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def changes(before: str | None, after: str | None) -> list[Change]:
    """The state before and after as `key: before → after`, keys in order; text, never markup."""
    old, new = _decode(before), _decode(after)
    keys = sorted(set(old or {}) | set(new or {}))
    result = []
    for key in keys:
        was = _shown(old.get(key)) if old is not None and key in old else ""
        now = _shown(new.get(key)) if new is not None and key in new else ""
        result.append(Change(key, was, now, old is not None and new is not None and was != now))
    return result


def _staff_names(session: Session, events: list[AuditEvent]) -> dict[str, tuple[str, str]]:
    ids = {int(m.group(1)) for e in events if (m := _STAFF_ACTOR.fullmatch(e.actor))}
    if not ids:
        return {}
    rows = session.execute(
        select(StaffMember.id, StaffMember.name, StaffMember.email).where(StaffMember.id.in_(sorted(ids)))
    )
    return {f"staff:{staff_id}": (name, email) for staff_id, name, email in rows}


def _rows(session: Session, events: list[AuditEvent]) -> list[Row]:
    names = _staff_names(session, events)
    return [
        Row(
            id=e.id,
            created_at=e.created_at,
            actor=e.actor,
            actor_name=names.get(e.actor, ("", ""))[0],
            actor_email=names.get(e.actor, ("", ""))[1],
            action=e.action,
            subject_type=e.subject_type,
            subject_id=e.subject_id,
            changes=changes(e.before, e.after),
        )
        for e in events
    ]


def page(session: Session, found: AuditFilter, number: int) -> tuple[list[Row], bool]:
    """Page `number` (from 1), newest first, and whether there is a next page."""
    events = list(session.scalars(_query(found).offset((number - 1) * PER_PAGE).limit(PER_PAGE + 1)))
    return _rows(session, events[:PER_PAGE]), len(events) > PER_PAGE


def last_id(session: Session) -> int:
    return int(session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1)) or 0)


def batches(db: Any, found: AuditFilter, up_to: int, size: int = EXPORT_BATCH) -> Iterator[list[Row]]:
    """Every matching event with id ≤ `up_to`, newest first, in batches (keyset on id): a short read
    session per batch, so a million rows never sit in memory or hold a connection for the whole download."""
    below = up_to + 1
    while True:
        with db.read() as session:
            events = list(session.scalars(_query(found).where(AuditEvent.id < below).limit(size)))
            if not events:
                return
            rows = _rows(session, events)
        yield rows
        below = events[-1].id
        if len(events) < size:
            return
