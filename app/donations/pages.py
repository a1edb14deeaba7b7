"""The donor's pages: the donate form, and the page Stripe sends the donor back to. No JavaScript: the donor
pays on Stripe's own payment page (hosted Checkout), and the status page refreshes itself while it waits."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.config import Settings
from app.donations import repository, service
from app.errors import AppError, InvalidInput
from app.initiatives import repository as initiatives
from app.initiatives.errors import InitiativeNotFound
from app.initiatives.repository import InitiativeCard
from app.initiatives.states import PUBLIC
from app.kit.money import parse_euros
from app.models import DonationStatus
from app.models.base import utcnow
from app.templating import render
from app.web.forms import error_message, field, read_form
from app.web.headers import CSP
from app.web.session import locale_of

router = APIRouter(include_in_schema=False)

InitiativeId = Annotated[int, Path(ge=1, le=2**62)]
QUICK_EUROS = ("5", "10", "25")
"""The quick choices on the form, in whole euros."""
STRIPE_CHECKOUT = "https://checkout.stripe.com"
REFRESH_SECONDS = 5
REFRESH_FOR = timedelta(minutes=15)
"""The status page stops refreshing itself after this (the "Vernieuwen" link stays)."""
STATUS_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
PUBLIC_ID = re.compile(r"[A-Za-z0-9_-]{10,32}")
"""What `secrets.token_urlsafe` makes; anything else is refused before it reaches the database (PostgreSQL
refuses NUL bytes in text with an error)."""
FIELDS = {"amount_cents": "amount", "donor_name": "donor_name", "email": "email"}
"""The service's field names → the form's."""


class AmountUnreadable(InvalidInput):
    slug = "amount-unreadable"
    message = "Vul een bedrag in euro in, zoals 12,50."
    message_en = "Enter an amount in euros, such as 12.50."


class AmountMissing(InvalidInput):
    slug = "amount-missing"
    message = "Kies een bedrag of vul zelf een bedrag in."
    message_en = "Choose an amount or enter one yourself."


@dataclass(frozen=True)
class DonateForm:
    """What the donor chose or typed, kept as typed so a form with an error shows it again."""

    choice: str = ""
    other: str = ""
    donor_name: str = ""
    email: str = ""

    def amount_cents(self) -> int:
        """A typed amount wins over a quick choice (without JavaScript the two cannot be tied together)."""
        if self.other:
            try:
                return parse_euros(self.other)
            except ValueError:
                raise AmountUnreadable(field="amount_cents") from None
        if self.choice in QUICK_EUROS:
            return int(self.choice) * 100
        raise AmountMissing(field="amount_cents")


def checkout_csp(settings: Settings) -> str:
    """The site's CSP, with Stripe's payment page added to form-action: browsers apply form-action to the
    redirect that follows the post, so without it the 303 to Stripe would be blocked."""
    origins = [STRIPE_CHECKOUT]
    if settings.stripe_api_base:  # a test or proxy Stripe serves its payment page itself
        parts = urlsplit(settings.stripe_api_base)
        origins.append(f"{parts.scheme}://{parts.netloc}")
    return CSP.replace("form-action 'self'", "form-action 'self' " + " ".join(origins))


def _accepting(session: Session, initiative_id: int) -> InitiativeCard:
    card = initiatives.card(session, initiative_id, statuses=list(PUBLIC))
    if card is None:
        raise InitiativeNotFound()
    if card.status not in service.ACCEPTING:
        raise service.NotAccepting()
    return card


def _require_donations(request: Request) -> None:
    if request.app.state.stripe is None:
        raise service.DonationsOff()


def _form_page(
    request: Request,
    initiative_id: int,
    values: DonateForm,
    *,
    errors: dict[str, str] | None = None,
    problem: str = "",
    cancelled: bool = False,
    status: int = 200,
) -> Response:
    settings = request.app.state.settings
    with request.app.state.db.read() as session:
        card = _accepting(session, initiative_id)
    context: dict[str, Any] = {
        "initiative": card,
        "values": values,
        "errors": errors or {},
        "problem": problem,
        "cancelled": cancelled,
        "quick_euros": QUICK_EUROS,
        "min_cents": settings.donation_min_cents,
        "max_cents": settings.donation_max_cents,
    }
    headers = {"Cache-Control": "no-store", "Content-Security-Policy": checkout_csp(settings)}
    return render(request, "donations/donate.html", context, status_code=status, headers=headers)


@router.get("/initiatives/{initiative_id}/donate", response_class=HTMLResponse)
def donate_form(initiative_id: InitiativeId, request: Request, cancelled: str = "") -> Response:
    _require_donations(request)
    return _form_page(request, initiative_id, DonateForm(), cancelled=cancelled == "1")


@router.post("/initiatives/{initiative_id}/donate", response_class=HTMLResponse)
async def donate(initiative_id: InitiativeId, request: Request) -> Response:
    """Record an open donation and send the donor to Stripe's payment page; nothing counts until Stripe
    confirms the payment."""
    _require_donations(request)
    form = await read_form(request)
    values = DonateForm(
        choice=field(form, "amount", 10),
        other=field(form, "amount_other", 40),
        donor_name=field(form, "donor_name", 200),
        email=field(form, "email", 320),
    )
    return await run_in_threadpool(_donate, request, initiative_id, values)


def _donate(request: Request, initiative_id: int, values: DonateForm) -> Response:
    state = request.app.state
    with state.db.read() as session:
        _accepting(session, initiative_id)
    try:
        _public_id, checkout = service.start_donation(
            state.db,
            state.stripe,
            initiative_id,
            service.DonationRequest(
                amount_cents=values.amount_cents(),
                donor_name=values.donor_name,
                email=values.email or None,
                locale=locale_of(request),
            ),
        )
    except InvalidInput as error:
        where = FIELDS.get(str(error.extra.get("field")), "amount")
        message = error_message(request, error)
        return _form_page(request, initiative_id, values, errors={where: message}, status=error.status)
    except service.PaymentUnavailable as error:
        message = error_message(request, error)
        return _form_page(request, initiative_id, values, problem=message, status=error.status)
    return RedirectResponse(checkout.url, status_code=303, headers={"Cache-Control": "no-store"})


@router.get("/donations/{public_id}", response_class=HTMLResponse)
def donation_status(public_id: str, request: Request, auto: str = "") -> Response:
    """Where Stripe sends the donor back: what became of the donation. The link is the donor's only key to
    it, so it is neither cached nor sent on as a referrer."""
    try:
        if not PUBLIC_ID.fullmatch(public_id):
            raise service.DonationNotFound()
        with request.app.state.db.read() as session:
            donation = repository.view(session, service.get_by_public_id(session, public_id))
    except AppError as error:
        error.headers.update(STATUS_HEADERS)
        raise
    waiting = donation.status == DonationStatus.open
    refresh = waiting and auto != "0" and utcnow() - donation.created_at < REFRESH_FOR
    context = {
        "donation": donation,
        "refresh": refresh,
        "refresh_seconds": REFRESH_SECONDS,
        "auto": auto != "0",
    }
    return render(request, "donations/status.html", context, headers=STATUS_HEADERS)
