"""Back-office payouts (`/staff/payouts`).

Directors list and approve payouts for funded initiatives in their own wijken (404 outside them).
Exporting the SEPA file, downloading it (XML or CSV) and marking payouts paid is for administrators only
(403 for directors): a file holds payouts of every wijk, and paying is the finance department's step.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from app.errors import AppError
from app.kit.clock import today
from app.payouts import repository, service
from app.payouts.errors import BadFilter, PayoutNotFound
from app.payouts.sepa import payouts_csv
from app.staff.deps import StaffContext, require_admin, require_staff
from app.templating import render
from app.web.forms import error_message, read_form
from app.web.session import clear_flash, read_flash, set_flash

router = APIRouter(include_in_schema=False)

NO_STORE = {"Cache-Control": "no-store"}
Id = Annotated[int, Path(ge=1, le=2_147_483_647)]
LIST = "/staff/payouts"


# ------------------------------------------------------------------------------------------------ list


def _list_page(
    request: Request, staff: StaffContext, status: str = "", error: AppError | None = None
) -> Response:
    if status not in repository.FILTERS:
        error, status = error or BadFilter(), ""
    with request.app.state.db.read() as session:
        lines = repository.payout_lines(session, staff.scope, status)
        batches = repository.batch_lines(session) if staff.is_admin else []
        to_export = repository.count_to_export(session) if staff.is_admin else 0
    flash = read_flash(request)
    response = render(
        request,
        "staff/payouts/list.html",
        {
            "lines": lines,
            "batches": batches,
            "status": status,
            "filters": repository.FILTERS,
            "to_export": to_export,
            "mask": service.mask_iban,
            "flash": flash,
            "error": error_message(request, error) if error is not None else None,
        },
        status_code=error.status if error is not None else 200,
        headers=NO_STORE,
    )
    clear_flash(request, response)
    return response


@router.get(LIST)
def payouts_list(
    request: Request, status: str = "", staff: StaffContext = Depends(require_staff)
) -> Response:
    return _list_page(request, staff, status[:20])


def _done(request: Request, location: str, **flash: Any) -> Response:
    response = RedirectResponse(location, status_code=303, headers=NO_STORE)
    set_flash(request, response, **flash)
    return response


# ---------------------------------------------------------------------------------------------- detail


def _detail_page(
    request: Request, staff: StaffContext, initiative_id: int, error: AppError | None = None
) -> Response:
    with request.app.state.db.read() as session:
        line = repository.payout_line(session, initiative_id)
    if line is None:
        raise PayoutNotFound()
    staff.scope.require(line.area_id)
    flash = read_flash(request)
    response = render(
        request,
        "staff/payouts/detail.html",
        {
            "line": line,
            "payable": line.initiative_status in repository.PAYABLE,
            "iban": service.format_iban(line.iban),
            "flash": flash,
            "error": error_message(request, error) if error is not None else None,
        },
        status_code=error.status if error is not None else 200,
        headers=NO_STORE,
    )
    clear_flash(request, response)
    return response


@router.get("/staff/payouts/initiatives/{initiative_id}")
def payout_detail(
    initiative_id: Id, request: Request, staff: StaffContext = Depends(require_staff)
) -> Response:
    return _detail_page(request, staff, initiative_id)


@router.post("/staff/payouts/initiatives/{initiative_id}/approve")
async def approve(
    initiative_id: Id, request: Request, staff: StaffContext = Depends(require_staff)
) -> Response:
    await read_form(request)
    return await run_in_threadpool(_approve, request, staff, initiative_id)


def _approve(request: Request, staff: StaffContext, initiative_id: int) -> Response:
    try:
        payout = request.app.state.db.run_write(
            lambda s: service.approve(
                s, staff.scope, initiative_id, staff_id=staff.member.id, actor=staff.actor
            )
        )
    except AppError as error:
        if error.status == 404:
            raise
        return _detail_page(request, staff, initiative_id, error)
    return _done(
        request, f"/staff/payouts/initiatives/{initiative_id}", done="approved", cents=payout.amount_cents
    )


# ------------------------------------------------------------------------------- export and downloads


@router.post("/staff/payouts/export")
async def export(request: Request, staff: StaffContext = Depends(require_admin)) -> Response:
    await read_form(request)
    return await run_in_threadpool(_export, request, staff)


def _export(request: Request, staff: StaffContext) -> Response:
    settings = request.app.state.settings
    try:
        batch = request.app.state.db.run_write(
            lambda s: service.export(s, settings, staff_id=staff.member.id, actor=staff.actor, today=today())
        )
    except AppError as error:
        return _list_page(request, staff, error=error)
    return _done(
        request, LIST, done="exported", batch=batch.id, count=batch.payment_count, cents=batch.total_cents
    )


def _download(body: str, media_type: str, filename: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={
            **NO_STORE,
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/staff/payouts/batches/{batch_id}.xml")
def batch_xml(batch_id: Id, request: Request, staff: StaffContext = Depends(require_admin)) -> Response:
    with request.app.state.db.read() as session:
        batch = service.batch(session, batch_id)
    return _download(batch.sepa_xml, "application/xml", f"buurtkas-uitbetalingen-{batch.id}.xml")


@router.get("/staff/payouts/batches/{batch_id}.csv")
def batch_csv(batch_id: Id, request: Request, staff: StaffContext = Depends(require_admin)) -> Response:
    with request.app.state.db.read() as session:
        batch = service.batch(session, batch_id)
        rows = repository.file_rows(session, batch_id=batch.id)
    return _download(payouts_csv(rows), "text/csv; charset=utf-8", f"buurtkas-uitbetalingen-{batch.id}.csv")


# ------------------------------------------------------------------------------------------- mark paid


@router.post("/staff/payouts/batches/{batch_id}/paid")
async def batch_paid(
    batch_id: Id, request: Request, staff: StaffContext = Depends(require_admin)
) -> Response:
    await read_form(request)
    return await run_in_threadpool(_batch_paid, request, staff, batch_id)


def _batch_paid(request: Request, staff: StaffContext, batch_id: int) -> Response:
    settings = request.app.state.settings
    try:
        outcome = request.app.state.db.run_write(
            lambda s: service.mark_batch_paid(
                s, settings, batch_id, staff_id=staff.member.id, actor=staff.actor
            )
        )
    except AppError as error:
        if error.status == 404:
            raise
        return _list_page(request, staff, error=error)
    return _done(
        request, LIST, done="paid", count=outcome.paid, already=outcome.already, cents=outcome.total_cents
    )


@router.post("/staff/payouts/{payout_id}/paid")
async def payout_paid(
    payout_id: Id, request: Request, staff: StaffContext = Depends(require_admin)
) -> Response:
    await read_form(request)
    return await run_in_threadpool(_payout_paid, request, staff, payout_id)


def _payout_paid(request: Request, staff: StaffContext, payout_id: int) -> Response:
    settings = request.app.state.settings
    try:
        outcome = request.app.state.db.run_write(
            lambda s: service.mark_paid(
                s, settings, staff.scope, payout_id, staff_id=staff.member.id, actor=staff.actor
            )
        )
    except AppError as error:
        if error.status == 404:
            raise
        return _list_page(request, staff, error=error)
    return _done(
        request, LIST, done="paid", count=outcome.paid, already=outcome.already, cents=outcome.total_cents
    )
