"""POST /api/v1/vouchers/check."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.kit.clock import end_of_day, today
from app.kit.http import MAX_JSON_BYTES, client_address, problem
from app.vouchers import service
from app.vouchers.schemas import VoucherCheckIn, VoucherCheckOut

router = APIRouter(prefix="/api/v1", tags=["vouchers"], max_body_size=MAX_JSON_BYTES)


@router.post(
    "/vouchers/check",
    response_model=VoucherCheckOut,
    summary="Balance and status of a voucher code",
    responses={
        400: problem("The body is not JSON in UTF-8"),
        404: problem("Unknown code"),
        413: problem("The body is larger than 256 KiB (not read)"),
        422: problem("Malformed code or body"),
        429: problem("Too many failed attempts from this client or in total"),
    },
)
def check_voucher(body: VoucherCheckIn, request: Request) -> VoucherCheckOut:
    with request.app.state.db.read() as session:
        voucher = service.lookup_counting_failures(
            session, body.code, limiter=request.app.state.code_limiter, client=client_address(request)
        )
    status = service.effective_status(voucher, today())
    return VoucherCheckOut(
        balance_cents=voucher.balance_cents if status == "active" else 0,
        status=status,  # type: ignore[arg-type]
        expires_at=end_of_day(voucher.ends_on),
        period=voucher.period_name,
        buurt_code=voucher.buurt_code,
    )
