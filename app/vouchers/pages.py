"""The household's pages: the QR landing `/v/CODE`, the code form and the voucher with what it can support."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from app.areas import repository as areas
from app.config import VoucherScope
from app.errors import AppError
from app.initiatives import repository as initiatives
from app.initiatives.repository import InitiativeCard
from app.kit.clock import today
from app.kit.http import client_address
from app.models import InitiativeStatus
from app.pledges.service import within_scope
from app.templating import render
from app.vouchers import repository, service
from app.vouchers.repository import VoucherView
from app.web.forms import error_message, field, read_form, safe_next
from app.web.session import (
    clear_flash,
    forget_voucher,
    held_voucher_id,
    hold_voucher,
    locale_of,
    read_flash,
    set_flash,
)

router = APIRouter(include_in_schema=False)

NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@dataclass
class CardGroup:
    """Initiatives in one ring around the household: its buurt, its wijk, the gemeente, elsewhere."""

    ring: str
    area_name: str
    cards: list[InitiativeCard] = dataclasses.field(default_factory=list)


def accept_code(request: Request, code: str) -> int:
    """The id of the voucher with `code`, counting a wrong code against this client's attempts."""
    with request.app.state.db.read() as session:
        return service.lookup_counting_failures(
            session, code, limiter=request.app.state.code_limiter, client=client_address(request)
        ).id


@router.get("/v/{code}")
def qr_landing(code: str, request: Request) -> Response:
    """The QR target: takes the code once and redirects, so it leaves the address bar and history."""
    response = RedirectResponse("/voucher", status_code=303, headers=NO_STORE)
    try:
        hold_voucher(request, response, accept_code(request, code))
    except AppError as error:
        forget_voucher(response)
        set_flash(request, response, error=error.detail, error_en=error.detail_en, code=code[:40])
    return response


@router.get("/voucher", response_class=HTMLResponse)
def voucher_page(request: Request) -> Response:
    flash = read_flash(request)
    voucher_id = held_voucher_id(request)
    with request.app.state.db.read() as session:
        voucher = repository.find_by_id(session, voucher_id) if voucher_id is not None else None
        if voucher is None:
            english = locale_of(request) == "en"
            context: dict[str, object] = {
                "error": flash.get("error_en" if english else "error"),
                "code": flash.get("code", ""),
                "next": "",
            }
            response = render(request, "vouchers/enter.html", context, headers=NO_STORE)
        else:
            context = _voucher_context(session, request, voucher)
            response = render(request, "vouchers/show.html", context, headers=NO_STORE)
    clear_flash(request, response)
    return response


@router.post("/voucher", response_class=HTMLResponse)
async def enter_code(request: Request) -> Response:
    form = await read_form(request)
    code = field(form, "code", 60)
    next_path = safe_next(field(form, "next"), "/voucher")
    try:
        voucher_id = await _run(request, code)
    except AppError as error:
        return render(
            request,
            "vouchers/enter.html",
            {"error": error_message(request, error), "code": code, "next": field(form, "next")},
            status_code=error.status,
            headers={**NO_STORE, **error.headers},
        )
    response = RedirectResponse(next_path, status_code=303, headers=NO_STORE)
    hold_voucher(request, response, voucher_id)
    return response


@router.post("/voucher/forget")
async def forget(request: Request) -> Response:
    await read_form(request)
    response = RedirectResponse("/voucher", status_code=303, headers=NO_STORE)
    forget_voucher(response)
    return response


async def _run(request: Request, code: str) -> int:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(accept_code, request, code)


def _voucher_context(session: Session, request: Request, voucher: VoucherView) -> dict[str, object]:
    day = today()
    status = service.effective_status(voucher, day)
    lineage = areas.lineage_ids(session, voucher.buurt_id)
    names = areas.names(session, lineage)
    groups = group_cards(
        initiatives.cards(session, statuses=[InitiativeStatus.published]),
        lineage=lineage,
        names=names,
        scope=request.app.state.settings.voucher_scope,
        municipality=request.app.state.settings.municipality_name,
    )
    return {
        "voucher": voucher,
        "status": status,
        "spendable": status == "active" and voucher.balance_cents > 0,
        "groups": [group for group in groups if group.cards],
        "buurt_name": names.get(lineage[0], ""),
        "today": day,
    }


def group_cards(
    cards: list[InitiativeCard],
    *,
    lineage: list[int],
    names: dict[int, str],
    scope: VoucherScope,
    municipality: str,
) -> list[CardGroup]:
    """Open initiatives this voucher may support: its own buurt first, then its wijk, the gemeente, the rest."""
    buurt_id = lineage[0]
    wijk_id = lineage[1] if len(lineage) > 1 else None
    gemeente_id = lineage[-1]
    groups = {
        "buurt": CardGroup("buurt", names.get(buurt_id, "")),
        "wijk": CardGroup("wijk", names.get(wijk_id or 0, "")),
        "gemeente": CardGroup("gemeente", municipality),
        "elsewhere": CardGroup("elsewhere", municipality),
    }
    for card in cards:
        target = [card.area_id] + ([card.area_parent_id] if card.area_parent_id else [])
        if not within_scope(scope, lineage, target):
            continue
        if card.area_id == buurt_id:
            key = "buurt"
        elif wijk_id is not None and wijk_id in target:
            key = "wijk"
        elif card.area_id == gemeente_id:
            key = "gemeente"
        else:
            key = "elsewhere"
        groups[key].cards.append(card)
    return list(groups.values())
