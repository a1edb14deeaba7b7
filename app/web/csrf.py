"""CSRF protection for forms: a random token in a cookie that each form must echo (double submit).

The cookie is HttpOnly and SameSite=Lax; a form post must carry the same token in its `csrf_token`
field, and a post whose Origin header names another site is refused as well.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

from app.errors import AppError

COOKIE = "bk_csrf"
FIELD = "csrf_token"


class CsrfFailed(AppError):
    status = 403
    slug = "csrf"
    title = "Formulier verlopen"
    title_en = "Form expired"
    message = (
        "Dit formulier is verlopen of niet van deze website. Laad de pagina opnieuw en probeer het nog eens."
    )
    message_en = "This form has expired or did not come from this website. Reload the page and try again."


def csrf_token(request: Request) -> str:
    """The token for forms on this page; a new one is made (and set as cookie) when the browser has none."""
    token = getattr(request.state, "csrf_token", None)
    if token is None:
        token = request.cookies.get(COOKIE, "")
        if not _well_formed(token):
            token = secrets.token_urlsafe(32)
            request.state.csrf_new = True
        request.state.csrf_token = token
    return str(token)


def verify_csrf(request: Request, submitted: str | None) -> None:
    cookie = request.cookies.get(COOKIE, "")
    if not _well_formed(cookie) or not submitted or not hmac.compare_digest(cookie, submitted):
        raise CsrfFailed()
    origin = request.headers.get("origin")
    if origin and origin != "null" and origin.rstrip("/") != _own_origin(request):
        raise CsrfFailed()


def _own_origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def _well_formed(token: str) -> bool:
    return 20 <= len(token) <= 64 and token.replace("-", "").replace("_", "").isalnum()


def issue_cookie_if_new(request: Request, response: Response) -> None:
    """Set the CSRF cookie when this page made a new token for its forms."""
    if getattr(request.state, "csrf_new", False):
        response.set_cookie(
            COOKIE,
            request.state.csrf_token,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
