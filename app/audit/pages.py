"""The audit log for administrators: filter, page through, and download as CSV or JSON.

Looking at the log is itself logged (`audit.viewed`, `audit.exported`). Downloads stream in batches, so
their memory stays bounded however long the log is; they hold the events up to the moment the download
was asked for.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse

from app.audit import repository
from app.audit.exports import attachment, csv_lines, json_document
from app.audit.repository import AuditFilter, InvalidAuditFilter
from app.audit.service import record
from app.kit.clock import AMSTERDAM
from app.staff.deps import StaffContext, require_admin
from app.templating import render
from app.web.forms import error_message

router = APIRouter(include_in_schema=False)

NO_STORE = {"Cache-Control": "no-store"}
FILTER_FIELDS = ("actor", "action", "subject_type", "subject_id", "from", "to")
CSV_HEADER = (
    "id",
    "created_at",
    "actor",
    "actor_name",
    "actor_email",
    "action",
    "subject_type",
    "subject_id",
    "changes",
)


def _raw_inputs(request: Request) -> dict[str, str]:
    """What was typed, to show again in the form (cut short: a 10 000-character value is not shown whole)."""
    return {name: request.query_params.get(name, "")[:200] for name in FILTER_FIELDS}


def _parse(request: Request) -> tuple[AuditFilter, int]:
    params = request.query_params
    return repository.parse_filter(params), repository.parse_page(params)


@router.get("/staff/audit")
def audit_page(request: Request, staff: StaffContext = Depends(require_admin)) -> Response:
    inputs = _raw_inputs(request)
    try:
        found, number = _parse(request)
    except InvalidAuditFilter as error:
        failed = {"inputs": inputs, "rows": [], "error": error_message(request, error), "links": {}}
        return render(request, "staff/audit/list.html", failed, status_code=error.status, headers=NO_STORE)
    db = request.app.state.db
    with db.write() as session:
        record(
            session,
            actor=staff.actor,
            action="audit.viewed",
            subject_type="audit_log",
            subject_id="-",
            after={**found.as_params(), "page": number},
        )
    with db.read() as session:
        rows, has_next = repository.page(session, found, number)
    query = found.as_params()
    links = {
        "previous": _link("/staff/audit", {**query, "page": str(number - 1)}) if number > 1 else "",
        "next": _link("/staff/audit", {**query, "page": str(number + 1)}) if has_next else "",
        "csv": _link("/staff/audit.csv", query),
        "json": _link("/staff/audit.json", query),
    }
    context: dict[str, Any] = {
        "inputs": inputs,
        "rows": rows,
        "error": None,
        "links": links,
        "number": number,
    }
    return render(request, "staff/audit/list.html", context, headers=NO_STORE)


def _link(path: str, params: dict[str, str]) -> str:
    return f"{path}?{urlencode(params)}" if params else path


def _start_export(request: Request, staff: StaffContext, kind: str) -> tuple[AuditFilter, int]:
    """Check the filter and record the download; the export holds the events up to this moment."""
    found = repository.parse_filter(request.query_params)
    with request.app.state.db.write() as session:
        up_to = repository.last_id(session)
        record(
            session,
            actor=staff.actor,
            action="audit.exported",
            subject_type="audit_log",
            subject_id="-",
            after={**found.as_params(), "format": kind, "up_to_id": up_to},
        )
    return found, up_to


def _events(request: Request, found: AuditFilter, up_to: int) -> Iterator[repository.Row]:
    for batch in repository.batches(request.app.state.db, found, up_to):
        yield from batch


@router.get("/staff/audit.csv")
def audit_csv(request: Request, staff: StaffContext = Depends(require_admin)) -> Response:
    found, up_to = _start_export(request, staff, "csv")
    rows = (
        (
            row.id,
            row.created_at.astimezone(AMSTERDAM).isoformat(),
            row.actor,
            row.actor_name,
            row.actor_email,
            row.action,
            row.subject_type,
            row.subject_id,
            "; ".join(change.as_text() for change in row.changes),
        )
        for row in _events(request, found, up_to)
    )
    return StreamingResponse(
        csv_lines(CSV_HEADER, rows), media_type="text/csv; charset=utf-8", headers=attachment("auditlog.csv")
    )


@router.get("/staff/audit.json")
def audit_json(request: Request, staff: StaffContext = Depends(require_admin)) -> Response:
    found, up_to = _start_export(request, staff, "json")
    head = {"filter": found.as_params(), "up_to_id": up_to}
    items = (row.as_dict() for row in _events(request, found, up_to))
    return StreamingResponse(
        json_document(head, "events", items),
        media_type="application/json",
        headers=attachment("auditlog.json"),
    )
