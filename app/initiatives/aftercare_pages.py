"""The initiator's actions after publication (`/my/initiatives/{id}/...`): updates, paper vouchers, payout
account, completion report; and the printable poster with the initiative's QR code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.accounts.deps import require_account
from app.errors import AppError
from app.initiatives import aftercare, repository
from app.initiatives.errors import InitiativeNotFound
from app.initiatives.initiator_pages import overview_page
from app.initiatives.poster import poster_pdf
from app.initiatives.states import PUBLIC
from app.kit.clock import today
from app.kit.http import client_address
from app.models import Account
from app.web.forms import error_message, field, read_form
from app.web.session import locale_of

router = APIRouter(include_in_schema=False)


def _run(request: Request, account: Account, initiative_id: int, work: Callable[[Session], Any]) -> Response:
    try:
        request.app.state.db.run_write(work)
    except AppError as error:
        if error.status in (404, 429):
            raise
        return overview_page(
            request, account, initiative_id, error=error_message(request, error), status=error.status
        )
    return RedirectResponse(f"/my/initiatives/{initiative_id}", status_code=303)


@router.post("/my/initiatives/{initiative_id}/updates", response_class=HTMLResponse)
async def post_update(
    initiative_id: int, request: Request, account: Account = Depends(require_account)
) -> Response:
    form = await read_form(request, max_bytes=32_000)
    title, body = field(form, "title", 160), field(form, "body", 5_000)
    return await run_in_threadpool(
        _run,
        request,
        account,
        initiative_id,
        lambda s: aftercare.post_update(s, initiative_id, account_id=account.id, title=title, body=body),
    )


@router.post("/my/initiatives/{initiative_id}/payout", response_class=HTMLResponse)
async def payout_account(
    initiative_id: int, request: Request, account: Account = Depends(require_account)
) -> Response:
    form = await read_form(request)
    iban, holder = field(form, "iban", 60), field(form, "holder", 70)
    return await run_in_threadpool(
        _run,
        request,
        account,
        initiative_id,
        lambda s: aftercare.set_payout_account(
            s, initiative_id, account_id=account.id, iban=iban, holder=holder
        ),
    )


@router.post("/my/initiatives/{initiative_id}/complete", response_class=HTMLResponse)
async def complete(
    initiative_id: int, request: Request, account: Account = Depends(require_account)
) -> Response:
    form = await read_form(request, max_bytes=32_000)
    report = field(form, "report", 5_000)
    return await run_in_threadpool(
        _run,
        request,
        account,
        initiative_id,
        lambda s: aftercare.report_completion(
            s, initiative_id, account_id=account.id, report=report, today=today()
        ),
    )


@router.post("/my/initiatives/{initiative_id}/paper-vouchers", response_class=HTMLResponse)
async def paper_vouchers(
    initiative_id: int, request: Request, account: Account = Depends(require_account)
) -> Response:
    form = await read_form(request, max_bytes=16_000)
    codes_text = field(form, "codes", 4_000)
    return await run_in_threadpool(_paper_vouchers, request, account, initiative_id, codes_text)


def paper_voucher_results(
    request: Request, enter: Callable[[Session, str], aftercare.PaperVoucherBatch]
) -> list[tuple[str, int, str]]:
    """Run `enter(session, client)` in one write transaction, count its unknown codes against the client
    (after the commit: the limiter writes in its own transaction) and give each code's result in the page's
    language. An AppError from `enter` propagates; nothing was spent then."""
    state = request.app.state
    client = client_address(request)
    batch = state.db.run_write(lambda session: enter(session, client))
    for _ in range(batch.unknown):
        state.code_limiter.record_failure(client)
    english = locale_of(request) == "en"
    return [(r.masked_code, r.amount_cents, r.problem_en if english else r.problem_nl) for r in batch.results]


def _paper_vouchers(request: Request, account: Account, initiative_id: int, codes_text: str) -> Response:
    state = request.app.state
    try:
        codes = aftercare.split_codes(codes_text)
        results = paper_voucher_results(
            request,
            lambda session, client: aftercare.enter_paper_vouchers(
                session,
                initiative_id,
                codes,
                account_id=account.id,
                settings=state.settings,
                limiter=state.code_limiter,
                client=client,
                today=today(),
            ),
        )
    except AppError as error:
        if error.status in (404, 429):
            raise
        return overview_page(
            request, account, initiative_id, error=error_message(request, error), status=error.status
        )
    return overview_page(request, account, initiative_id, paper_results=results)


@router.get("/initiatives/{initiative_id}/poster.pdf")
def poster(initiative_id: int, request: Request) -> Response:
    """An A5 poster for the street with the initiative's QR code (public: it only shows public facts)."""
    settings = request.app.state.settings
    with request.app.state.db.read() as session:
        card = repository.card(session, initiative_id, statuses=list(PUBLIC))
        if card is None:
            raise InitiativeNotFound()
    url = f"{settings.base_url}/initiatives/{initiative_id}"
    pdf = poster_pdf(card, url=url, municipality=settings.municipality_name, locale=locale_of(request))
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="buurtkas-initiatief-{initiative_id}.pdf"'},
    )
