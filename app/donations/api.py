"""POST /api/v1/initiatives/{id}/donations and POST /webhooks/stripe."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from app.donations import events, service
from app.donations.schemas import DonationIn, DonationOut
from app.errors import prefers_english
from app.kit.http import MAX_JSON_BYTES, problem

router = APIRouter(tags=["donations"])


@router.post(
    "/api/v1/initiatives/{initiative_id}/donations",
    status_code=201,
    response_model=DonationOut,
    summary="Start a donation: returns Stripe's payment page to send the donor to",
    max_body_size=MAX_JSON_BYTES,
    responses={
        400: problem("The body is not JSON in UTF-8"),
        404: problem("Unknown initiative, or donations are switched off"),
        409: problem("The initiative does not take donations now"),
        413: problem("The body is larger than 256 KiB (not read)"),
        422: problem("Bad input (amount outside the municipality's bounds, bad e-mail)"),
        503: problem("Stripe cannot be reached; nothing was charged"),
    },
)
def create_donation(
    body: DonationIn, request: Request, initiative_id: Annotated[int, Path(ge=1, le=2**62)]
) -> JSONResponse:
    state = request.app.state
    public_id, checkout = service.start_donation(
        state.db,
        state.stripe,
        initiative_id,
        service.DonationRequest(
            amount_cents=body.amount_cents,
            donor_name=body.donor_name,
            email=body.email,
            locale="en" if prefers_english(request) else "nl",
        ),
    )
    out = DonationOut(donation_id=public_id, checkout_url=checkout.url)
    return JSONResponse(out.model_dump(), status_code=201)


@router.post(
    "/webhooks/stripe",
    summary="Stripe's events (signed): payments, failures, refunds",
    responses={
        400: problem("Signature missing, forged, stale or replayed; or not a Stripe event"),
        404: problem("Donations are switched off"),
    },
)
async def stripe_webhook(request: Request) -> JSONResponse:
    state = request.app.state
    if state.stripe is None:
        raise service.DonationsOff()
    try:
        payload = await _read_limited(request, events.MAX_PAYLOAD_BYTES)
        outcome = await run_in_threadpool(
            events.receive, state.db, payload, request.headers.get("stripe-signature")
        )
    except events.BadWebhook as exc:
        return JSONResponse(
            {"type": "/problems/bad-webhook", "title": "Bad webhook", "status": 400, "detail": str(exc)},
            status_code=400,
            media_type="application/problem+json",
        )
    return JSONResponse({"received": True, "outcome": outcome})


async def _read_limited(request: Request, limit: int) -> bytes:
    """The raw body, refused (without reading it all) when it is larger than any Stripe event."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise events.BadWebhook("body too large")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise events.BadWebhook("body too large")
        chunks.append(chunk)
    return b"".join(chunks)
