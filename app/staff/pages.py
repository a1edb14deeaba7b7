"""Signing staff in and out (HTML): password, then a TOTP code; first-time enrolment with a QR code;
accepting an invitation by setting a password.

Between the two steps the browser holds a signed, five-minute cookie with the staff id only. Every failure
counts for the account (lock-out) and for the client address (rate limit), and lands in the audit log.
"""

from __future__ import annotations

from typing import Any

import segno
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.concurrency import run_in_threadpool

from app.accounts.passwords import MAX_LENGTH
from app.errors import AppError
from app.staff import service
from app.staff.deps import (
    STAFF_PATH,
    StaffContext,
    check_client,
    clear_staff_cookie,
    current_staff,
    record_client_failure,
    require_staff,
    set_staff_cookie,
    staff_token,
)
from app.staff.errors import InviteNotValid, SignInExpired, StaffLocked
from app.staff.overview import attention
from app.templating import render
from app.web.forms import error_message, field, read_form, safe_next

router = APIRouter(include_in_schema=False)

NO_STORE = {"Cache-Control": "no-store"}
TOKEN_PAGE = {**NO_STORE, "Referrer-Policy": "no-referrer"}
PENDING_COOKIE = "bk_staff_pending"


def _pending_signer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(request.app.state.settings.secret_key, salt="buurtkas.staff-pending")


def _pending_id(request: Request) -> int | None:
    raw = request.cookies.get(PENDING_COOKIE, "")
    if not raw or len(raw) > 200:
        return None
    try:
        data = _pending_signer(request).loads(raw, max_age=int(service.PENDING_LIFETIME.total_seconds()))
    except BadSignature:
        return None
    return data.get("s") if isinstance(data, dict) and isinstance(data.get("s"), int) else None


def _next_of(request: Request, value: str) -> str:
    target = safe_next(value, STAFF_PATH)
    return target if target.startswith(STAFF_PATH) else STAFF_PATH


def _page(request: Request, name: str, context: dict[str, Any], error: AppError | None = None) -> Response:
    return render(
        request,
        name,
        {**context, "error": error_message(request, error) if error is not None else None},
        status_code=error.status if error is not None else 200,
        headers={**NO_STORE, **(error.headers if error is not None else {})},
    )


@router.get("/staff/login")
def login_page(request: Request, next: str = "") -> Response:
    if current_staff(request) is not None:
        return RedirectResponse(_next_of(request, next), status_code=303, headers=NO_STORE)
    return _page(request, "staff/login.html", {"email": "", "next": _next_of(request, next)})


@router.post("/staff/login")
async def login(request: Request) -> Response:
    form = await read_form(request)
    email = field(form, "email", 254)
    password = str(form.get("password") or "")[: MAX_LENGTH + 1]
    target = _next_of(request, field(form, "next", 500))
    context = {"email": email, "next": target}
    try:
        await run_in_threadpool(check_client, request)
    except AppError as exc:
        return _page(request, "staff/login.html", context, exc)

    def step() -> int | AppError:
        with request.app.state.db.write() as session:
            return service.check_password(session, request.app.state.settings, email=email, password=password)

    outcome = await run_in_threadpool(step)
    if isinstance(outcome, AppError):
        if not isinstance(outcome, StaffLocked):
            await run_in_threadpool(record_client_failure, request)
        return _page(request, "staff/login.html", context, outcome)
    response = RedirectResponse(f"/staff/login/code?next={target}", status_code=303, headers=NO_STORE)
    response.set_cookie(
        PENDING_COOKIE,
        _pending_signer(request).dumps({"s": outcome}),
        max_age=int(service.PENDING_LIFETIME.total_seconds()),
        path=STAFF_PATH,
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="strict",
    )
    return response


def _restart(request: Request) -> Response:
    return _page(request, "staff/login.html", {"email": "", "next": STAFF_PATH}, SignInExpired())


@router.get("/staff/login/code")
def code_page(request: Request, next: str = "") -> Response:
    staff_id = _pending_id(request)
    if staff_id is None:
        return _restart(request)
    with request.app.state.db.write() as session:
        try:
            staff = service.pending_staff(session, staff_id)
        except SignInExpired:
            return _restart(request)
        enrolling = staff.totp_confirmed_at is None
    if enrolling:
        return _enrol_page(request, staff_id, _next_of(request, next))
    return _page(request, "staff/code.html", {"next": _next_of(request, next)})


@router.post("/staff/login/code")
async def code(request: Request) -> Response:
    form = await read_form(request)
    target = _next_of(request, field(form, "next", 500))
    staff_id = _pending_id(request)
    if staff_id is None:
        return _restart(request)
    try:
        await run_in_threadpool(check_client, request)
    except AppError as exc:
        return _page(request, "staff/code.html", {"next": target}, exc)
    code_text = field(form, "code", 20)

    def step() -> tuple[service.StaffSignedIn | AppError, bool]:
        with request.app.state.db.write() as session:
            staff = service.pending_staff(session, staff_id)
            enrolling = staff.totp_confirmed_at is None
            return service.check_code(
                session, request.app.state.settings, staff_id=staff_id, code=code_text
            ), enrolling

    try:
        outcome, enrolling = await run_in_threadpool(step)
    except SignInExpired:
        return _restart(request)
    if isinstance(outcome, AppError):
        if not isinstance(outcome, StaffLocked):
            await run_in_threadpool(record_client_failure, request)
        if isinstance(outcome, StaffLocked):
            return _page(request, "staff/login.html", {"email": "", "next": target}, outcome)
        if enrolling:  # the same QR again, with the error
            return _enrol_page(request, staff_id, target, outcome)
        return _page(request, "staff/code.html", {"next": target}, outcome)
    response = RedirectResponse(target, status_code=303, headers=NO_STORE)
    response.delete_cookie(PENDING_COOKIE, path=STAFF_PATH)
    set_staff_cookie(request, response, outcome.token)
    return response


def _enrol_page(request: Request, staff_id: int, target: str, error: AppError | None = None) -> Response:
    """The enrolment page: the secret as a QR code and as text, and the field for the first code."""
    settings = request.app.state.settings
    with request.app.state.db.write() as session:
        staff, secret = service.start_enrolment(session, settings, staff_id)
        uri = service.provisioning_uri(settings, staff, secret)
    qr = segno.make(uri, error="m").svg_data_uri(scale=4, border=2, dark="#000", light="#fff")
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return _page(request, "staff/enrol.html", {"qr": qr, "secret": grouped, "next": target}, error)


@router.post("/staff/logout")
async def logout(request: Request) -> Response:
    await read_form(request)
    token = staff_token(request)
    if token is not None:

        def end() -> None:
            with request.app.state.db.write() as session:
                service.sign_out(session, token)

        await run_in_threadpool(end)
    response = RedirectResponse("/staff/login?signed_out=1", status_code=303, headers=NO_STORE)
    clear_staff_cookie(request, response)
    return response


@router.get("/staff/invite/{token}")
def invite_page(request: Request, token: str) -> Response:
    with request.app.state.db.read() as session:
        try:
            staff = service.invited_staff(session, request.app.state.settings, token[:300])
        except InviteNotValid as exc:
            return _page(request, "staff/invite.html", {"invited": None, "token": ""}, exc)
    return render(
        request, "staff/invite.html", {"invited": staff, "token": token, "error": None}, headers=TOKEN_PAGE
    )


@router.post("/staff/invite/{token}")
async def accept_invite(request: Request, token: str) -> Response:
    form = await read_form(request)
    password = str(form.get("password") or "")[: MAX_LENGTH + 1]

    def accept() -> None:
        with request.app.state.db.write() as session:
            service.accept_invite(session, request.app.state.settings, token[:300], password)

    try:
        await run_in_threadpool(accept)
    except AppError as exc:
        with request.app.state.db.read() as session:
            try:
                staff = service.invited_staff(session, request.app.state.settings, token[:300])
            except InviteNotValid:
                staff = None
        return _page(request, "staff/invite.html", {"invited": staff, "token": token if staff else ""}, exc)
    return RedirectResponse("/staff/login?password_set=1", status_code=303, headers=NO_STORE)


@router.get("/staff")
def staff_home(request: Request, staff: StaffContext = Depends(require_staff)) -> Response:
    with request.app.state.db.read() as session:
        todo = attention(session, staff.scope)
    return render(request, "staff/home.html", {"todo": todo}, headers=NO_STORE)
