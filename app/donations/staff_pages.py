"""The back office's view of donations (`/staff/payments`, administrators only): refunds that are not
through yet (with "try again now"), Stripe events that went wrong or are stuck, and the latest donations
with their totals and the Stripe clearing account.

A director gets 403 on every route here, also on a forged form post: the dependency refuses first.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from app.donations import staff_repository as repository
from app.donations.refunds import process_refunds
from app.errors import AppError, Conflict
from app.models import DonationRefund, RefundStatus
from app.staff.deps import StaffContext, require_admin
from app.templating import render
from app.web.forms import error_message, read_form
from app.web.session import clear_flash, read_flash, set_flash

router = APIRouter(include_in_schema=False)

NO_STORE = {"Cache-Control": "no-store"}
PAGE = "/staff/payments"
Id = Annotated[int, Path(ge=1, le=2_147_483_647)]


class StripeOff(Conflict):
    slug = "stripe-off"
    title = "Stripe staat uit"
    title_en = "Stripe is switched off"
    message = (
        "Stripe is niet ingesteld (er is geen STRIPE_API_KEY), dus een terugbetaling kan nu niet worden"
        " verstuurd. Er is niets veranderd."
    )
    message_en = "Stripe is not configured (there is no STRIPE_API_KEY), so a refund cannot be sent now."


def _page(request: Request, error: AppError | None = None) -> Response:
    with request.app.state.db.read() as session:
        context: dict[str, Any] = {
            "refunds": repository.open_refunds(session),
            "events": repository.troubled_events(session),
            "donations": repository.latest_donations(session),
            "totals": repository.totals(session),
            "balance": repository.clearing_balance(session),
        }
    flash = read_flash(request)
    context.update(
        stripe_on=request.app.state.stripe is not None,
        flash=flash if flash.get("retried") else {},
        error=error_message(request, error) if error is not None else None,
        latest_limit=repository.LATEST_DONATIONS,
    )
    response = render(
        request,
        "staff/payments/list.html",
        context,
        status_code=error.status if error is not None else 200,
        headers=NO_STORE,
    )
    clear_flash(request, response)
    return response


@router.get(PAGE)
def payments_page(request: Request, staff: StaffContext = Depends(require_admin)) -> Response:
    return _page(request)


@router.post("/staff/payments/refunds/{refund_id}/retry")
async def retry_refund(
    refund_id: Id, request: Request, staff: StaffContext = Depends(require_admin)
) -> Response:
    await read_form(request)
    return await run_in_threadpool(_retry, request, staff, refund_id)


def _retry(request: Request, staff: StaffContext, refund_id: int) -> Response:
    """Make the refund due now (audited), send it to Stripe at once, and show what Stripe answered."""
    db, gateway = request.app.state.db, request.app.state.stripe
    try:
        if gateway is None:
            raise StripeOff()
        before = db.run_write(lambda s: repository.make_due_now(s, refund_id, actor=staff.actor))
    except AppError as error:
        if error.status == 404:
            raise
        return _page(request, error)
    if before == RefundStatus.succeeded:
        return _done(request, retried="already", refund=refund_id)
    process_refunds(db, gateway, only=refund_id)
    with db.read() as session:
        refund = session.get(DonationRefund, refund_id)
        status, last_error = (refund.status, refund.last_error) if refund is not None else ("", "")
    return _done(request, retried=status or "failed", refund=refund_id, error=last_error[:300])


def _done(request: Request, **flash: Any) -> Response:
    response = RedirectResponse(PAGE, status_code=303, headers=NO_STORE)
    set_flash(request, response, **flash)
    return response
