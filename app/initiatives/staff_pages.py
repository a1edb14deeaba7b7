"""Back-office pages for initiatives (`/staff/initiatives`): the moderation queue and a filterable list, one
initiative with everything a moderator needs, the decisions (approve, send back, reject, stop), creating an
initiative on behalf of a resident who is not online, paper vouchers handed in at the wijkcentrum, and the
payout account of an initiative without an owner account.

Everything is limited to the staff member's scope: an initiative outside it answers 404 on every route,
before the posted form is looked at (after the CSRF check). Rules live in `app.initiatives.moderation`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from app.areas import repository as areas
from app.errors import AppError
from app.initiatives import moderation, repository
from app.initiatives import staff_repository as queries
from app.initiatives.aftercare_pages import paper_voucher_results
from app.initiatives.categories import CATEGORIES, STATUSES
from app.initiatives.errors import InitiativeInvalid
from app.initiatives.initiator_pages import (
    BUDGET_ROWS,
    ORGANISER_ROWS,
    parse_initiative_form,
    read_form_large,
)
from app.initiatives.uploads import MAX_PHOTOS
from app.kit.clock import today
from app.mail.dispatch import schedule_send
from app.models import AreaKind, InitiativeStatus
from app.staff.deps import StaffContext, require_staff
from app.staff.scope import areas_in_scope
from app.templating import render
from app.web.forms import error_message, field, read_form
from app.web.session import clear_flash, locale_of, read_flash, set_flash

router = APIRouter(include_in_schema=False)

NO_STORE = {"Cache-Control": "no-store"}
PAGE_SIZE = 25
REASON_READ = 20_000
"""Reasons are read up to this length so that a too long one is refused (422), not silently cut."""
ACTION_FORM_BYTES = 64_000


# ------------------------------------------------------------------------------------------ the list


@router.get("/staff/initiatives")
def initiatives(request: Request, staff: StaffContext = Depends(require_staff)) -> Response:
    params = request.query_params
    status = params.get("status", "").strip()[:20]
    area_code = params.get("area", "").strip().upper()[:12]
    text = params.get("q", "").strip()[:120]
    page_text = params.get("page", "1").strip()[:6]
    page = int(page_text) if page_text.isdigit() and int(page_text) > 0 else 1
    errors: list[str] = []
    english = locale_of(request) == "en"
    with request.app.state.db.read() as session:
        area_options = areas_in_scope(session, staff.scope)
        by_code = {area.code: area for area in area_options}
        area_ids = None
        if area_code:
            chosen = by_code.get(area_code)
            if chosen is None:
                errors.append(
                    "This area does not exist or is outside your wijken."
                    if english
                    else "Dit gebied bestaat niet of valt buiten uw wijken."
                )
            else:
                area_ids = areas.descendant_ids(session, chosen.id)
        if status and status not in STATUSES:
            errors.append("Choose a status from the list." if english else "Kies een status uit de lijst.")
        queue = queries.queue(session, staff.scope)
        rows: list[queries.StaffRow] = []
        total = 0
        if not errors:
            rows, total = queries.search(
                session,
                staff.scope,
                queries.StaffFilter(status=status or None, area_ids=area_ids, text=text),
                limit=PAGE_SIZE,
                offset=(page - 1) * PAGE_SIZE,
            )
    kept = {"status": status, "area": area_code, "q": text}

    def link(number: int) -> str:
        query = {key: value for key, value in kept.items() if value}
        if number > 1:
            query["page"] = str(number)
        return "/staff/initiatives" + (f"?{urlencode(query)}" if query else "") + "#all"

    last_page = max(1, -(-total // PAGE_SIZE))
    context = {
        "queue": queue,
        "rows": rows,
        "total": total,
        "page": page,
        "first_index": (page - 1) * PAGE_SIZE + 1,
        "previous_link": link(page - 1) if page > 1 else None,
        "next_link": link(page + 1) if page < last_page else None,
        "last_page": last_page,
        "inputs": kept,
        "area_options": area_options,
        "statuses": STATUSES,
        "errors": errors,
    }
    return render(
        request,
        "staff/initiatives/list.html",
        context,
        status_code=422 if errors else 200,
        headers=NO_STORE,
    )


# ------------------------------------------------------------------------------------ create on behalf


def _empty_raw() -> dict[str, Any]:
    return {
        "title": "",
        "summary": "",
        "description": "",
        "category": "",
        "area": "",
        "target": "",
        "deadline": "",
        "initiator_name": "",
        "lines": [("", "")] * BUDGET_ROWS,
        "organisers": [("", "")] * ORGANISER_ROWS,
        "save_as": "submitted",
    }


def _form_page(
    request: Request, staff: StaffContext, raw: dict[str, Any], *, error: str | None = None, status: int = 200
) -> Response:
    with request.app.state.db.read() as session:
        area_options = areas_in_scope(session, staff.scope)
    settings = request.app.state.settings
    context = {
        "raw": raw,
        "error": error,
        "area_options": area_options,
        "buurt_kind": AreaKind.buurt,
        "categories": CATEGORIES,
        "min_target_cents": settings.initiative_min_target_cents,
        "max_target_cents": settings.initiative_max_target_cents,
        "min_organisers": settings.initiative_min_organisers,
    }
    return render(request, "staff/initiatives/form.html", context, status_code=status, headers=NO_STORE)


def _typed(form: FormData, save_as: str) -> dict[str, Any]:
    raw: dict[str, Any] = {k: field(form, k, 20_000) for k in ("title", "summary", "description")}
    raw.update({k: field(form, k, 120) for k in ("category", "area", "target", "deadline", "initiator_name")})
    raw["lines"] = [
        (field(form, f"line_text_{i}", 200), field(form, f"line_amount_{i}", 20)) for i in range(BUDGET_ROWS)
    ]
    raw["organisers"] = [
        (field(form, f"organiser_name_{i}", 120), field(form, f"organiser_email_{i}", 254))
        for i in range(ORGANISER_ROWS)
    ]
    raw["save_as"] = save_as
    return raw


@router.get("/staff/initiatives/new")
def new_form(request: Request, staff: StaffContext = Depends(require_staff)) -> Response:
    return _form_page(request, staff, _empty_raw())


@router.post("/staff/initiatives/new")
async def create(request: Request, staff: StaffContext = Depends(require_staff)) -> Response:
    form = await read_form_large(request)
    save_as = field(form, "save_as", 20)
    settings = request.app.state.settings
    raw: dict[str, Any] = {}

    def work() -> int:
        nonlocal raw
        data, organisers, raw = parse_initiative_form(form)
        raw["save_as"] = save_as
        if save_as not in ("submitted", "published"):
            raise InitiativeInvalid(
                "Kies of het initiatief in de wachtrij komt of meteen gepubliceerd wordt.",
                "Choose whether the initiative goes into the queue or is published at once.",
            )
        return request.app.state.db.run_write(  # type: ignore[no-any-return]
            lambda session: moderation.create_on_behalf(
                session,
                data,
                organisers,
                scope=staff.scope,
                staff_id=staff.member.id,
                actor=staff.actor,
                publish=save_as == "published",
                settings=settings,
                today=today(),
            )
        )

    try:
        created = await run_in_threadpool(work)
    except AppError as error:
        if not raw:  # the form did not even parse: show what was typed
            raw = _typed(form, save_as)
        return await run_in_threadpool(
            _form_page, request, staff, raw, error=error_message(request, error), status=error.status
        )
    return _done(request, created, "created_published" if save_as == "published" else "created")


# ------------------------------------------------------------------------------------------ one initiative


@router.get("/staff/initiatives/{initiative_id}")
def detail(initiative_id: int, request: Request, staff: StaffContext = Depends(require_staff)) -> Response:
    flash = read_flash(request)
    response = _detail_page(request, staff, initiative_id, notice=flash.get("notice"))
    clear_flash(request, response)
    return response


def _detail_page(
    request: Request,
    staff: StaffContext,
    initiative_id: int,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
    typed: dict[str, str] | None = None,
    paper_results: list[tuple[str, int, str]] | None = None,
) -> Response:
    with request.app.state.db.read() as session:
        initiative = moderation.in_scope(session, staff.scope, initiative_id)
        pledge_count, pledge_cents = queries.open_pledges(session, initiative_id)
        context = {
            "initiative": initiative,
            "area": queries.area_of(session, initiative.area_id),
            "budget_lines": repository.budget_lines(session, initiative_id),
            "photos": repository.photos(session, initiative_id),
            "organisers": queries.organisers(session, initiative_id),
            "owner_email": queries.owner_email(session, initiative.owner_account_id),
            "created_by": queries.staff_name(session, initiative.created_by_staff_id),
            "history": queries.history(session, initiative_id),
            "moderations": [m.slug for m in moderation.allowed_moderations(initiative.status)],
            "open_pledges": pledge_count,
            "open_pledge_cents": pledge_cents,
            "can_enter_vouchers": initiative.status == InitiativeStatus.published,
            "can_set_payout": initiative.owner_account_id is None
            and initiative.status in (InitiativeStatus.funded, InitiativeStatus.completed),
            "max_reason": moderation.MAX_REASON,
            "max_photos": MAX_PHOTOS,
            "notice": notice,
            "error": error,
            "typed": typed or {},
            "paper_results": paper_results,
        }
    return render(request, "staff/initiatives/detail.html", context, status_code=status, headers=NO_STORE)


def _done(request: Request, initiative_id: int, notice: str) -> Response:
    response = RedirectResponse(f"/staff/initiatives/{initiative_id}", status_code=303, headers=NO_STORE)
    set_flash(request, response, notice=notice)
    response.background = schedule_send(request)  # a decision may have queued a mail to the initiator
    return response


def _run(
    request: Request,
    staff: StaffContext,
    initiative_id: int,
    work: Callable[[Session], object],
    notice: str,
    typed: dict[str, str] | None = None,
) -> Response:
    """One change in one transaction; a refusal shows the page again with the message (404 stays 404)."""
    try:
        request.app.state.db.run_write(work)
    except AppError as error:
        if error.status in (404, 429):
            raise
        return _detail_page(
            request,
            staff,
            initiative_id,
            error=error_message(request, error),
            status=error.status,
            typed=typed,
        )
    return _done(request, initiative_id, notice)


async def _moderate(
    request: Request, staff: StaffContext, initiative_id: int, slug: str, name: str
) -> Response:
    form = await read_form(request, max_bytes=ACTION_FORM_BYTES)
    reason = field(form, name, REASON_READ) if name else ""
    settings = request.app.state.settings

    def work(session: Session) -> None:
        moderation.moderate(
            session,
            staff.scope,
            initiative_id,
            slug,
            reason=reason,
            actor=staff.actor,
            settings=settings,
            today=today(),
        )

    typed = {slug: reason[:REASON_READ]} if name else None
    return await run_in_threadpool(_run, request, staff, initiative_id, work, slug, typed)


@router.post("/staff/initiatives/{initiative_id}/approve")
async def approve(
    initiative_id: int, request: Request, staff: StaffContext = Depends(require_staff)
) -> Response:
    return await _moderate(request, staff, initiative_id, "approve", "")


@router.post("/staff/initiatives/{initiative_id}/request-changes")
async def request_changes(
    initiative_id: int, request: Request, staff: StaffContext = Depends(require_staff)
) -> Response:
    return await _moderate(request, staff, initiative_id, "request-changes", "message")


@router.post("/staff/initiatives/{initiative_id}/reject")
async def reject(
    initiative_id: int, request: Request, staff: StaffContext = Depends(require_staff)
) -> Response:
    return await _moderate(request, staff, initiative_id, "reject", "reason")


@router.post("/staff/initiatives/{initiative_id}/cancel")
async def cancel(
    initiative_id: int, request: Request, staff: StaffContext = Depends(require_staff)
) -> Response:
    return await _moderate(request, staff, initiative_id, "cancel", "reason")


@router.post("/staff/initiatives/{initiative_id}/payout-account")
async def payout_account(
    initiative_id: int, request: Request, staff: StaffContext = Depends(require_staff)
) -> Response:
    form = await read_form(request)
    iban, holder = field(form, "iban", 60), field(form, "holder", 200)

    def work(session: Session) -> None:
        moderation.set_payout_account(
            session, staff.scope, initiative_id, actor=staff.actor, iban=iban, holder=holder
        )

    typed = {"iban": iban, "holder": holder}
    return await run_in_threadpool(_run, request, staff, initiative_id, work, "payout_account", typed)


@router.post("/staff/initiatives/{initiative_id}/paper-vouchers")
async def paper_vouchers(
    initiative_id: int, request: Request, staff: StaffContext = Depends(require_staff)
) -> Response:
    form = await read_form(request, max_bytes=16_000)
    codes_text = field(form, "codes", 4_000)
    return await run_in_threadpool(_paper_vouchers, request, staff, initiative_id, codes_text)


def _paper_vouchers(request: Request, staff: StaffContext, initiative_id: int, codes_text: str) -> Response:
    state = request.app.state
    try:
        results = paper_voucher_results(
            request,
            lambda session, client: moderation.paper_vouchers(
                session,
                staff.scope,
                initiative_id,
                codes_text,
                actor=staff.actor,
                settings=state.settings,
                limiter=state.code_limiter,
                client=client,
                today=today(),
            ),
        )
    except AppError as error:
        if error.status in (404, 429):
            raise
        return _detail_page(
            request, staff, initiative_id, error=error_message(request, error), status=error.status
        )
    return _detail_page(request, staff, initiative_id, paper_results=results)
