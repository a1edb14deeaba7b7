"""Signed cookies: the voucher this browser holds, a one-shot message, and the chosen language.

The voucher cookie holds the voucher's id, signed with a key derived from SECRET_KEY, never its code: the
code is handed over once (`/v/CODE` or the code form) and then leaves the address bar and the history.
"""

from __future__ import annotations

from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from app.i18n import DEFAULT_LOCALE, LOCALES

VOUCHER_COOKIE = "bk_voucher"
FLASH_COOKIE = "bk_flash"
LANG_COOKIE = "bk_lang"
VOUCHER_MAX_AGE = 12 * 3600
FLASH_MAX_AGE = 300
LANG_MAX_AGE = 365 * 24 * 3600


def _signer(request: Request, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(request.app.state.settings.secret_key, salt=f"buurtkas.{salt}")


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def held_voucher_id(request: Request) -> int | None:
    """The id of the voucher this browser holds, if its signed cookie is valid and recent."""
    raw = request.cookies.get(VOUCHER_COOKIE)
    if not raw or len(raw) > 200:
        return None
    try:
        value = _signer(request, "voucher").loads(raw, max_age=VOUCHER_MAX_AGE)
    except BadSignature:
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def hold_voucher(request: Request, response: Response, voucher_id: int) -> None:
    response.set_cookie(
        VOUCHER_COOKIE,
        _signer(request, "voucher").dumps(voucher_id),
        max_age=VOUCHER_MAX_AGE,
        httponly=True,
        secure=_secure(request),
        samesite="lax",
    )


def forget_voucher(response: Response) -> None:
    response.delete_cookie(VOUCHER_COOKIE, httponly=True, samesite="lax")


def set_flash(request: Request, response: Response, **values: Any) -> None:
    response.set_cookie(
        FLASH_COOKIE,
        _signer(request, "flash").dumps(values),
        max_age=FLASH_MAX_AGE,
        httponly=True,
        secure=_secure(request),
        samesite="lax",
    )


def read_flash(request: Request) -> dict[str, Any]:
    """The one-shot values set by `set_flash` (clear them on the response with `clear_flash`)."""
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw or len(raw) > 2000:
        return {}
    try:
        value = _signer(request, "flash").loads(raw, max_age=FLASH_MAX_AGE)
    except BadSignature:
        return {}
    return value if isinstance(value, dict) else {}


def clear_flash(request: Request, response: Response) -> None:
    if FLASH_COOKIE in request.cookies:
        response.delete_cookie(FLASH_COOKIE, httponly=True, samesite="lax")


def locale_of(request: Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE, "")
    return chosen if chosen in LOCALES else DEFAULT_LOCALE


def set_locale(request: Request, response: Response, locale: str) -> None:
    response.set_cookie(
        LANG_COOKIE, locale, max_age=LANG_MAX_AGE, secure=_secure(request), samesite="lax", httponly=True
    )


def sign_receipt(request: Request, pledge_id: int) -> str:
    """An unguessable, permanent link token for a pledge's receipt."""
    return URLSafeTimedSerializer(request.app.state.settings.secret_key, salt="buurtkas.receipt").dumps(
        pledge_id
    )


def receipt_pledge_id(request: Request, token: str) -> int | None:
    if len(token) > 200:
        return None
    try:
        value = URLSafeTimedSerializer(request.app.state.settings.secret_key, salt="buurtkas.receipt").loads(
            token
        )
    except BadSignature:
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
