"""“Geef mijn voucher”: choose an amount, confirm, receipt. Works without JavaScript.

A double click, the back button or a reload never gives twice: the confirm form carries a one-time token
that is the pledge's idempotency key, so a repeated post shows the first receipt again.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.errors import AppError, InvalidInput, TooManyAttempts
from app.initiatives import repository as initiatives
from app.initiatives.errors import InitiativeNotFound
from app.initiatives.repository import InitiativeCard
from app.initiatives.states import PUBLIC
from app.kit.clock import today
from app.kit.http import IdPath
from app.kit.idempotency import request_fingerprint, run_idempotent
from app.kit.money import parse_euros
from app.kit.ratelimit import FailureLimiter
from app.mail.dispatch import schedule_send
from app.pledges import repository, service
from app.pledges.errors import ReceiptNotFound, TooManyReceiptMails, VoucherChanged
from app.templating import render
from app.vouchers import repository as vouchers
from app.vouchers.errors import UnknownVoucher
from app.vouchers.repository import VoucherView
from app.web.forms import error_message, field, read_form
from app.web.session import (
    clear_flash,
    held_voucher_id,
    locale_of,
    read_flash,
    receipt_pledge_id,
    set_flash,
    sign_receipt,
)

router = APIRouter(include_in_schema=False)
NO_STORE = {"Cache-Control": "no-store"}


class AmountUnreadable(InvalidInput):
    slug = "amount-unreadable"
    message = "Vul een bedrag in euro in, zoals 7,50."
    message_en = "Enter an amount in euros, such as 7.50."


class VoucherNotHeld(UnknownVoucher):
    message = "Vul eerst uw vouchercode in."
    message_en = "Enter your voucher code first."


def _initiative(session: Session, initiative_id: int) -> InitiativeCard:
    card = initiatives.card(session, initiative_id, statuses=list(PUBLIC))
    if card is None:
        raise InitiativeNotFound()
    return card


def _held_voucher(session: Session, request: Request) -> VoucherView | None:
    voucher_id = held_voucher_id(request)
    return vouchers.find_by_id(session, voucher_id) if voucher_id is not None else None


def _give_page(
    request: Request,
    initiative_id: int,
    *,
    amount_text: str | None = None,
    error: AppError | None = None,
) -> Response:
    """The amount form (or the code form when this browser holds no voucher)."""
    settings = request.app.state.settings
    day = today()
    with request.app.state.db.read() as session:
        card = _initiative(session, initiative_id)
        voucher = _held_voucher(session, request)
        context: dict[str, Any] = {"initiative": card, "voucher": voucher, "today": day}
        if voucher is None:
            context.update(code="", next=f"/initiatives/{initiative_id}/give", error=None)
            return render(request, "pledges/give.html", context, headers=NO_STORE)
        preview = None
        problem = error
        if problem is None:
            try:
                preview = service.preview_pledge(
                    session,
                    voucher=voucher,
                    initiative_id=initiative_id,
                    amount_cents=None,
                    settings=settings,
                    today=day,
                )
            except AppError as exc:
                problem = exc
    if amount_text is None:
        amount_text = _euros_text(preview.amount_cents, request) if preview else ""
    context.update(
        preview=preview,
        amount=amount_text,
        error=error_message(request, problem) if problem else None,
        blocked=problem is not None and error is None,
        min_pledge_cents=settings.min_pledge_cents,
    )
    status = error.status if error is not None else 200
    return render(request, "pledges/give.html", context, status_code=status, headers=NO_STORE)


def _euros_text(cents: int, request: Request) -> str:
    separator = "." if locale_of(request) == "en" else ","
    return f"{cents // 100}{separator}{cents % 100:02d}"


@router.get("/initiatives/{initiative_id}/give", response_class=HTMLResponse)
def give_form(initiative_id: IdPath, request: Request) -> Response:
    return _give_page(request, initiative_id)


@router.post("/initiatives/{initiative_id}/give", response_class=HTMLResponse)
async def give_check(initiative_id: IdPath, request: Request) -> Response:
    """Check the chosen amount by the pledge rules and ask to confirm; nothing moves yet."""
    form = await read_form(request)
    amount_text = field(form, "amount", 20)
    return await run_in_threadpool(_check_amount, request, initiative_id, amount_text)


def _check_amount(request: Request, initiative_id: int, amount_text: str) -> Response:
    settings = request.app.state.settings
    day = today()
    try:
        try:
            amount_cents = parse_euros(amount_text)
        except ValueError:
            raise AmountUnreadable() from None
        with request.app.state.db.read() as session:
            card = _initiative(session, initiative_id)
            voucher = _held_voucher(session, request)
            if voucher is None:
                raise VoucherNotHeld()
            preview = service.preview_pledge(
                session,
                voucher=voucher,
                initiative_id=initiative_id,
                amount_cents=amount_cents,
                settings=settings,
                today=day,
            )
    except InitiativeNotFound:
        raise
    except AppError as error:
        return _give_page(request, initiative_id, amount_text=amount_text, error=error)
    context = {
        "initiative": card,
        "voucher": voucher,
        "preview": preview,
        "requested_cents": amount_cents,
        "token": secrets.token_urlsafe(18),
    }
    return render(request, "pledges/confirm.html", context, headers=NO_STORE)


@router.post("/initiatives/{initiative_id}/give/confirm", response_class=HTMLResponse)
async def give_confirm(initiative_id: IdPath, request: Request) -> Response:
    form = await read_form(request)
    amount_text = field(form, "amount_cents", 12)
    token = field(form, "token", 64)
    return await run_in_threadpool(_confirm, request, initiative_id, amount_text, token)


def _confirm(request: Request, initiative_id: int, amount_text: str, token: str) -> Response:
    state = request.app.state
    day = today()
    voucher_id = held_voucher_id(request)
    try:
        if not amount_text.isdigit() or len(token) < 16:
            raise AmountUnreadable()
        if voucher_id is None:
            raise VoucherNotHeld()
        amount_cents = int(amount_text)

        def work(session: Session) -> tuple[int, dict[str, Any]]:
            voucher = vouchers.find_by_id(session, voucher_id)
            if voucher is None:
                raise VoucherNotHeld()
            result = service.pledge_from_voucher(
                session,
                voucher=voucher,
                initiative_id=initiative_id,
                amount_cents=amount_cents,
                settings=state.settings,
                today=day,
            )
            return 201, {"pledge_id": result.id}

        _status, body, _replayed = run_idempotent(
            state.db,
            scope="pledge-form",
            key=token,
            fingerprint=request_fingerprint(
                state.fingerprint_key,
                {"voucher": voucher_id, "initiative": initiative_id, "amount": amount_cents},
            ),
            work=work,
            retry_on=(VoucherChanged,),
        )
    except InitiativeNotFound:
        raise
    except AppError as error:
        return _give_page(request, initiative_id, amount_text=_amount_back(amount_text, request), error=error)
    response = RedirectResponse(f"/receipts/{sign_receipt(request, body['pledge_id'])}", status_code=303)
    response.background = schedule_send(request)  # the gift that reaches the target queues a mail
    return response


def _amount_back(amount_text: str, request: Request) -> str:
    return _euros_text(int(amount_text), request) if amount_text.isdigit() and len(amount_text) < 10 else ""


@router.get("/receipts/{token}", response_class=HTMLResponse)
def receipt(token: str, request: Request) -> Response:
    mailed = bool(read_flash(request).get("receipt_mailed"))
    response = _receipt_page(request, token, mailed=mailed)
    clear_flash(request, response)
    return response


def _receipt_page(
    request: Request, token: str, *, email: str = "", error: AppError | None = None, mailed: bool = False
) -> Response:
    pledge_id = receipt_pledge_id(request, token)
    with request.app.state.db.read() as session:
        pledge = repository.get(session, pledge_id) if pledge_id is not None else None
        if pledge is None:
            raise ReceiptNotFound()
        card = initiatives.card(session, pledge.initiative_id, statuses=list(PUBLIC))
        held = _held_voucher(session, request)
        voucher = held if held is not None and held.id == pledge.voucher_id else None
        context = {
            "pledge": pledge,
            "initiative": card,
            "voucher": voucher,
            "token": token,
            "receipt_url": _receipt_url(request, token),
            "email": email,
            "mail_error": error_message(request, error) if error is not None else None,
            "mailed": mailed,
        }
    headers = {"Cache-Control": "private, no-cache", **(error.headers if error is not None else {})}
    status = error.status if error is not None else 200
    return render(request, "pledges/receipt.html", context, status_code=status, headers=headers)


def _receipt_url(request: Request, token: str) -> str:
    return f"{request.app.state.settings.base_url}/receipts/{token}"


@router.post("/receipts/{token}/mail", response_class=HTMLResponse)
async def mail_receipt(token: str, request: Request) -> Response:
    """Send the receipt to an address the household gives (optional, never asked for elsewhere)."""
    form = await read_form(request)
    email = field(form, "email", 320)
    return await run_in_threadpool(_mail_receipt, request, token, email)


def _mail_receipt(request: Request, token: str, email: str) -> Response:
    state = request.app.state
    pledge_id = receipt_pledge_id(request, token)
    if pledge_id is None:
        raise ReceiptNotFound()
    limiter = FailureLimiter(state.db, service.RECEIPT_MAIL_LIMIT)
    client = f"receipt:{pledge_id}"
    try:
        address = service.receipt_mail_address(email)
        try:
            limiter.check(client)
        except TooManyAttempts as exc:
            raise TooManyReceiptMails(int(exc.headers["Retry-After"])) from None
        state.db.run_write(
            lambda session: service.queue_receipt_mail(
                session,
                state.settings,
                pledge_id=pledge_id,
                to=address,
                locale=locale_of(request),
                receipt_url=_receipt_url(request, token),
            )
        )
    except ReceiptNotFound:
        raise
    except AppError as error:
        return _receipt_page(request, token, email=email, error=error)
    limiter.record_failure(client)  # every mail counts towards the limit, not only failures
    response = RedirectResponse(f"/receipts/{token}", status_code=303, headers=NO_STORE)
    set_flash(request, response, receipt_mailed=True)
    response.background = schedule_send(request)
    return response
