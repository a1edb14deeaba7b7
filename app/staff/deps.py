"""Who is signed in to the back office: the `bk_staff` cookie and the `require_staff` / `require_admin`
dependencies. The cookie holds a random token (HttpOnly, SameSite=Strict, Secure over https, path /staff);
the database holds only its SHA-256."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from starlette.responses import Response

from app.errors import TooManyAttempts
from app.kit.http import client_address
from app.kit.ratelimit import FailureLimit, FailureLimiter
from app.models import StaffMember, StaffRole
from app.staff import service
from app.staff.errors import AdminOnly, StaffSignInRequired
from app.staff.scope import Scope, scope_of

STAFF_COOKIE = "bk_staff"
STAFF_PATH = "/staff"
_UNSET = object()


@dataclass(frozen=True)
class StaffContext:
    """The signed-in staff member (detached from its database session), their scope and audit name."""

    member: StaffMember
    scope: Scope

    @property
    def actor(self) -> str:
        return service.actor_of(self.member)

    @property
    def is_admin(self) -> bool:
        return self.member.role == StaffRole.admin


def staff_token(request: Request) -> str | None:
    token = request.cookies.get(STAFF_COOKIE, "")
    if 20 <= len(token) <= 64 and token.replace("-", "").replace("_", "").isalnum():
        return token
    return None


def current_staff(request: Request) -> StaffContext | None:
    """The signed-in staff member, or None. Read once per request."""
    cached = getattr(request.state, "staff", _UNSET)
    if cached is not _UNSET:
        return cached  # type: ignore[return-value]
    token = staff_token(request)
    context = None
    if token is not None:
        with request.app.state.db.write() as session:
            member = service.staff_for_session(session, token)
            if member is not None:
                context = StaffContext(member, scope_of(session, member))
    request.state.staff = context
    return context


def require_staff(request: Request) -> StaffContext:
    """The signed-in staff member; otherwise a 303 to `/staff/login?next=<this page>`."""
    context = current_staff(request)
    if context is None:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise StaffSignInRequired(here if request.method == "GET" else STAFF_PATH)
    return context


def require_admin(request: Request) -> StaffContext:
    context = require_staff(request)
    if not context.is_admin:
        raise AdminOnly()
    return context


def set_staff_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        STAFF_COOKIE,
        token,
        max_age=int(service.SESSION_ABSOLUTE.total_seconds()),
        path=STAFF_PATH,
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="strict",
    )


def clear_staff_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        STAFF_COOKIE, path=STAFF_PATH, httponly=True, secure=request.url.scheme == "https", samesite="strict"
    )


def staff_login_limiter(request: Request) -> FailureLimiter:
    limiter = getattr(request.app.state, "staff_login_limiter", None)
    if limiter is None:
        settings = request.app.state.settings
        limiter = FailureLimiter(
            request.app.state.db,
            FailureLimit(
                scope="staff-login",
                per_client=settings.staff_failures_per_client,
                total=settings.staff_failures_total,
                window_seconds=600,
            ),
        )
        request.app.state.staff_login_limiter = limiter
    return limiter  # type: ignore[no-any-return]


def check_client(request: Request) -> None:
    """429 while this client (or everyone together) has failed too often."""
    try:
        staff_login_limiter(request).check(client_address(request))
    except TooManyAttempts as exc:
        retry = exc.headers.get("Retry-After", "60")
        raise TooManyAttempts(
            int(retry),
            f"Er is te vaak een verkeerd wachtwoord of een verkeerde code ingevuld. Probeer het over {retry} seconden opnieuw.",
            f"A wrong password or code was entered too often. Try again in {retry} seconds.",
        ) from None


def record_client_failure(request: Request) -> None:
    staff_login_limiter(request).record_failure(client_address(request))
