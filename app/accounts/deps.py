"""Who is signed in: the session cookie, the `current_account` / `require_account` dependencies and the
limiter for failed sign-ins and links.

The cookie `bk_session` holds a random token (HttpOnly, SameSite=Lax, Secure over https, 30 days); the
database holds only its SHA-256 and when it expires.
"""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from app.accounts import service
from app.accounts.errors import SignInRequired, TooManySignInAttempts
from app.errors import TooManyAttempts
from app.kit.http import client_address
from app.kit.ratelimit import FailureLimit, FailureLimiter
from app.models import Account

SESSION_COOKIE = "bk_session"
SESSION_MAX_AGE = int(service.SESSION_LIFETIME.total_seconds())
# Failed sign-ins and invalid links, per client and in total per 10 minutes. Counted per client address and
# never per account: a per-account lockout would let anyone lock an initiator out by typing wrong passwords.
LOGIN_LIMIT = FailureLimit(scope="login", per_client=10, total=1_000, window_seconds=600)
_UNSET = object()


def session_token(request: Request) -> str | None:
    """The session token from the cookie, if it looks like one of ours."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if 20 <= len(token) <= 64 and token.replace("-", "").replace("_", "").isalnum():
        return token
    return None


def current_account(request: Request) -> Account | None:
    """The signed-in account, or None (no cookie, a forged or expired session). Read once per request."""
    cached = getattr(request.state, "account", _UNSET)
    if cached is not _UNSET:
        return cached  # type: ignore[return-value]
    token = session_token(request)
    account = None
    if token is not None:
        with request.app.state.db.read() as session:
            account = service.account_for_session(session, token)
    request.state.account = account
    return account


def require_account(request: Request) -> Account:
    """The signed-in account; otherwise a 303 to `/login?next=<this page>` (pages only)."""
    account = current_account(request)
    if account is None:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(here if request.method == "GET" else "/account")
    return account


def set_session_cookie(request: Request, response: Response, signed_in: service.SignedIn) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        signed_in.token,
        max_age=SESSION_MAX_AGE,
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="lax",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, secure=request.url.scheme == "https", samesite="lax"
    )


def login_limiter(request: Request) -> FailureLimiter:
    """The app's limiter for failed sign-ins and links (made on first use, shared by the app's threads)."""
    limiter = getattr(request.app.state, "login_limiter", None)
    if limiter is None:
        limiter = FailureLimiter(request.app.state.db, LOGIN_LIMIT)
        request.app.state.login_limiter = limiter
    return limiter  # type: ignore[no-any-return]


def check_attempts(request: Request) -> None:
    """Refuse with 429 while this client, or everyone together, has failed too often."""
    try:
        login_limiter(request).check(client_address(request))
    except TooManyAttempts as exc:
        raise TooManySignInAttempts(int(exc.headers.get("Retry-After", "1"))) from None


def record_failure(request: Request) -> None:
    login_limiter(request).record_failure(client_address(request))
