"""Sign up, sign in, verify, reset and sign out (HTML).

Links from e-mail open a page with one button that posts: mail scanners that fetch every link must not use
up a one-time link. Pages with a token in the address send no referrer and are never cached.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from app.accounts import service
from app.accounts.deps import (
    check_attempts,
    clear_session_cookie,
    current_account,
    record_failure,
    require_account,
    session_token,
    set_session_cookie,
)
from app.accounts.errors import InvalidEmail, LinkNotValid, SignInFailed
from app.accounts.passwords import MAX_LENGTH
from app.errors import AppError
from app.models import Account
from app.templating import render
from app.web.forms import error_message, field, read_form, safe_next
from app.web.session import clear_flash, locale_of, read_flash, set_flash

router = APIRouter(include_in_schema=False)

NO_STORE = {"Cache-Control": "no-store"}
TOKEN_PAGE = {**NO_STORE, "Referrer-Policy": "no-referrer"}


def _password(form: FormData) -> str:
    """The password as typed (spaces count), cut well above the longest one allowed."""
    value = form.get("password")
    return value[: MAX_LENGTH + 1] if isinstance(value, str) else ""


def _field_errors(request: Request, error: AppError) -> dict[str, str | None]:
    """Put an error next to the field it is about, or above the form."""
    text = error_message(request, error)
    if isinstance(error, InvalidEmail):
        return {"email_error": text, "password_error": None, "error": None}
    if error.slug.startswith("password-"):
        return {"email_error": None, "password_error": text, "error": None}
    return {"email_error": None, "password_error": None, "error": text}


def _form_page(
    request: Request,
    name: str,
    context: dict[str, Any],
    error: AppError | None = None,
    *,
    headers: dict[str, str] = NO_STORE,
) -> Response:
    errors: dict[str, str | None] = {"email_error": None, "password_error": None, "error": None}
    if error is not None:
        errors = _field_errors(request, error)
    return render(
        request,
        name,
        {**context, **errors},
        status_code=error.status if error is not None else 200,
        headers={**headers, **(error.headers if error is not None else {})},
    )


def _signed_in(request: Request, signed_in: service.SignedIn, target: str) -> Response:
    response = RedirectResponse(target, status_code=303, headers=NO_STORE)
    set_session_cookie(request, response, signed_in)
    return response


def _with_notice(request: Request, target: str, notice: str) -> Response:
    response = RedirectResponse(target, status_code=303, headers=NO_STORE)
    set_flash(request, response, notice=notice)
    return response


def _check_mail(request: Request, kind: str) -> Response:
    return render(request, "accounts/check_mail.html", {"kind": kind}, headers=NO_STORE)


# Sign up


@router.get("/signup", response_class=HTMLResponse)
def signup_form(request: Request) -> Response:
    return _form_page(request, "accounts/signup.html", {"email": ""})


@router.post("/signup", response_class=HTMLResponse)
async def signup(request: Request) -> Response:
    form = await read_form(request)
    email = field(form, "email", 320)
    password = _password(form)
    return await run_in_threadpool(_signup, request, email, password)


def _signup(request: Request, email: str, password: str) -> Response:
    state = request.app.state
    locale = locale_of(request)
    try:
        state.db.run_write(
            lambda session: service.sign_up(
                session, state.settings, email=email, password=password, locale=locale
            )
        )
    except AppError as error:
        return _form_page(request, "accounts/signup.html", {"email": email}, error)
    return RedirectResponse("/signup/sent", status_code=303, headers=NO_STORE)


@router.get("/signup/sent", response_class=HTMLResponse)
def signup_sent(request: Request) -> Response:
    return _check_mail(request, "signup")


# Sign in with a password or a link


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "") -> Response:
    flash = read_flash(request)
    response = _form_page(
        request,
        "accounts/login.html",
        {
            "email": "",
            "next": safe_next(next, ""),
            "link_email": "",
            "link_error": None,
            "notice": flash.get("notice"),
        },
    )
    clear_flash(request, response)
    return response


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    form = await read_form(request)
    email = field(form, "email", 320)
    next_path = safe_next(field(form, "next"), "")
    return await run_in_threadpool(_login, request, email, _password(form), next_path)


def _login(request: Request, email: str, password: str, next_path: str) -> Response:
    state = request.app.state
    previous = session_token(request)
    context = {"email": email, "next": next_path, "link_email": "", "link_error": None, "notice": None}
    try:
        check_attempts(request)
        try:
            signed_in = state.db.run_write(
                lambda session: service.sign_in(
                    session, email=email, password=password, previous_session=previous
                )
            )
        except SignInFailed:
            record_failure(request)
            raise
    except AppError as error:
        # Wrong address and wrong password are one answer, shown above the form.
        if isinstance(error, InvalidEmail):
            error = SignInFailed()
        return _form_page(request, "accounts/login.html", context, error)
    return _signed_in(request, signed_in, next_path or "/account")


@router.post("/login/link", response_class=HTMLResponse)
async def request_link(request: Request) -> Response:
    form = await read_form(request)
    email = field(form, "email", 320)
    return await run_in_threadpool(_request_link, request, email)


def _request_link(request: Request, email: str) -> Response:
    state = request.app.state
    try:
        state.db.run_write(lambda session: service.request_magic_link(session, state.settings, email=email))
    except InvalidEmail as error:
        context = {
            "email": "",
            "next": "",
            "link_email": email,
            "link_error": error_message(request, error),
            "notice": None,
            "email_error": None,
            "password_error": None,
            "error": None,
        }
        return render(request, "accounts/login.html", context, status_code=error.status, headers=NO_STORE)
    return RedirectResponse("/login/sent", status_code=303, headers=NO_STORE)


@router.get("/login/sent", response_class=HTMLResponse)
def link_sent(request: Request) -> Response:
    return _check_mail(request, "login")


@router.get("/login/link/{token}", response_class=HTMLResponse)
def link_confirm(token: str, request: Request) -> Response:
    return _link_page(request, "login", token)


@router.post("/login/link/{token}", response_class=HTMLResponse)
async def link_sign_in(token: str, request: Request) -> Response:
    await read_form(request)
    return await run_in_threadpool(_use_link, request, "login", token)


@router.get("/verify/{token}", response_class=HTMLResponse)
def verify_confirm(token: str, request: Request) -> Response:
    return _link_page(request, "verify", token)


@router.post("/verify/{token}", response_class=HTMLResponse)
async def verify(token: str, request: Request) -> Response:
    await read_form(request)
    return await run_in_threadpool(_use_link, request, "verify", token)


def _link_page(request: Request, kind: str, token: str, error: AppError | None = None) -> Response:
    action = ("/login/link/" if kind == "login" else "/verify/") + token
    return render(
        request,
        "accounts/confirm_link.html",
        {"kind": kind, "action": action, "error": error_message(request, error) if error else None},
        status_code=error.status if error else 200,
        headers={**TOKEN_PAGE, **(error.headers if error else {})},
    )


def _use_link(request: Request, kind: str, token: str) -> Response:
    state = request.app.state
    previous = session_token(request)
    use = service.sign_in_with_link if kind == "login" else service.verify_email
    try:
        check_attempts(request)
        try:
            signed_in = state.db.run_write(
                lambda session: use(session, state.settings, token=token, previous_session=previous)
            )
        except LinkNotValid:
            record_failure(request)
            raise
    except AppError as error:
        return _link_page(request, kind, token, error)
    response = _signed_in(request, signed_in, "/account")
    if kind == "verify":
        set_flash(request, response, notice="verified")
    return response


# Forgotten password


@router.get("/password/forgot", response_class=HTMLResponse)
def forgot_form(request: Request) -> Response:
    return _form_page(request, "accounts/forgot.html", {"email": ""})


@router.post("/password/forgot", response_class=HTMLResponse)
async def forgot(request: Request) -> Response:
    form = await read_form(request)
    email = field(form, "email", 320)
    return await run_in_threadpool(_forgot, request, email)


def _forgot(request: Request, email: str) -> Response:
    state = request.app.state
    try:
        state.db.run_write(lambda session: service.request_reset(session, state.settings, email=email))
    except AppError as error:
        return _form_page(request, "accounts/forgot.html", {"email": email}, error)
    return RedirectResponse("/password/forgot/sent", status_code=303, headers=NO_STORE)


@router.get("/password/forgot/sent", response_class=HTMLResponse)
def forgot_sent(request: Request) -> Response:
    return _check_mail(request, "reset")


@router.get("/password/reset/{token}", response_class=HTMLResponse)
def reset_form(token: str, request: Request) -> Response:
    context = {"action": f"/password/reset/{token}"}
    return _form_page(request, "accounts/reset.html", context, headers=TOKEN_PAGE)


@router.post("/password/reset/{token}", response_class=HTMLResponse)
async def reset(token: str, request: Request) -> Response:
    form = await read_form(request)
    return await run_in_threadpool(_reset, request, token, _password(form))


def _reset(request: Request, token: str, password: str) -> Response:
    state = request.app.state
    previous = session_token(request)
    try:
        check_attempts(request)
        try:
            signed_in = state.db.run_write(
                lambda session: service.reset_password(
                    session, state.settings, token=token, password=password, previous_session=previous
                )
            )
        except LinkNotValid:
            record_failure(request)
            raise
    except AppError as error:
        context = {"action": f"/password/reset/{token}"}
        return _form_page(request, "accounts/reset.html", context, error, headers=TOKEN_PAGE)
    response = _signed_in(request, signed_in, "/account")
    set_flash(request, response, notice="password_changed")
    return response


# The account and signing out


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, account: Account = Depends(require_account)) -> Response:
    flash = read_flash(request)
    response = render(
        request,
        "accounts/account.html",
        {"account": account, "notice": flash.get("notice")},
        headers=NO_STORE,
    )
    clear_flash(request, response)
    return response


@router.post("/account/verify/resend")
async def resend_verification(request: Request) -> Response:
    await read_form(request)
    return await run_in_threadpool(_resend, request)


def _resend(request: Request) -> Response:
    account = require_account(request)
    state = request.app.state
    state.db.run_write(
        lambda session: service.resend_verification(session, state.settings, account_id=account.id)
    )
    return _with_notice(request, "/account", "verification_sent")


@router.post("/logout")
async def logout(request: Request) -> Response:
    await read_form(request)
    return await run_in_threadpool(_logout, request)


def _logout(request: Request) -> Response:
    token = session_token(request)
    if token is not None:
        request.app.state.db.run_write(lambda session: service.sign_out(session, session_token=token))
    response = _with_notice(request, "/login", "signed_out")
    clear_session_cookie(request, response)
    return response


@router.post("/logout/everywhere")
async def logout_everywhere(request: Request) -> Response:
    await read_form(request)
    return await run_in_threadpool(_logout_everywhere, request)


def _logout_everywhere(request: Request) -> Response:
    account = current_account(request)
    if account is not None:
        request.app.state.db.run_write(
            lambda session: service.sign_out_everywhere(session, account_id=account.id)
        )
    response = _with_notice(request, "/login", "signed_out_everywhere")
    clear_session_cookie(request, response)
    return response
