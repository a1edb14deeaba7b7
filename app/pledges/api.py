"""POST /api/v1/pledges."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from app.kit.clock import today
from app.kit.http import MAX_JSON_BYTES, client_address, problem
from app.kit.idempotency import request_fingerprint, run_idempotent
from app.pledges import service
from app.pledges.errors import VoucherChanged
from app.pledges.schemas import PledgeIn, PledgeInitiative, PledgeOut
from app.vouchers.errors import UnknownVoucher

router = APIRouter(prefix="/api/v1", tags=["pledges"], max_body_size=MAX_JSON_BYTES)


@router.post(
    "/pledges",
    status_code=201,
    response_model=PledgeOut,
    summary="Give voucher value to an initiative",
    responses={
        400: problem("The body is not JSON in UTF-8"),
        403: problem("Initiative outside the voucher's area (when the municipality restricts it)"),
        404: problem("Unknown code or initiative"),
        409: problem("Initiative not open or already funded; voucher empty, expired or replaced"),
        413: problem("The body is larger than 256 KiB (not read)"),
        422: problem("Bad input"),
        429: problem("Too many failed attempts"),
        503: problem("Busy; try again"),
    },
)
def create_pledge(
    body: PledgeIn,
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=255,
            # Documented, checked in run_idempotent (any printable text is taken; ASCII is what to send)
            json_schema_extra={"minLength": 1, "pattern": "^[!-~]([ -~]*[!-~])?$"},
        ),
    ] = None,
) -> JSONResponse:
    state = request.app.state
    client = client_address(request)
    day = today()

    def work(session: Session) -> tuple[int, dict[str, Any]]:
        state.code_limiter.check(client, session)
        result = service.create_pledge(
            session,
            code=body.code,
            initiative_id=body.initiative_id,
            amount_cents=body.amount_cents,
            settings=state.settings,
            today=day,
        )
        out = PledgeOut(
            id=result.id,
            amount_cents=result.amount_cents,
            voucher_balance_cents=result.voucher_balance_cents,
            initiative=PledgeInitiative(
                id=result.initiative_id,
                raised_cents=result.raised_cents,
                target_cents=result.target_cents,
                status=result.status,
            ),
        )
        return 201, out.model_dump()

    try:
        status, payload, replayed = run_idempotent(
            state.db,
            scope="pledges",
            key=idempotency_key,
            fingerprint=request_fingerprint(state.fingerprint_key, body.model_dump()),
            work=work,
            retry_on=(VoucherChanged,),
        )
    except UnknownVoucher:
        state.code_limiter.record_failure(client)
        raise
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return JSONResponse(payload, status_code=status, headers=headers)
