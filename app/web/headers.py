"""Security headers on every response (pure ASGI, so it costs next to nothing).

No page may be framed (`frame-ancestors 'none'`, `X-Frame-Options: DENY`), except the widgets under
/embed/: those may be framed by Buurtkas itself and by the origins in EMBED_ALLOWED_ORIGINS, and carry no
X-Frame-Options (it cannot name several origins, and browsers that know CSP ignore it anyway).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.embed.origins import valid_origins

_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}"
)
CSP = _POLICY.format(ancestors="'none'")
BASE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), interest-cohort=()",
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
}
EMBED_PREFIX = "/embed/"
NOT_FRAMED = frozenset({"/embed/example"})
"""Pages under /embed/ that are ordinary pages of the site (the example host page frames, it is not framed)."""


def is_embed_page(path: str) -> bool:
    """Pages made for an iframe on the municipality's website."""
    return path.startswith(EMBED_PREFIX) and path.rstrip("/") not in NOT_FRAMED


@lru_cache(maxsize=8)
def embed_csp(origins: tuple[str, ...]) -> str:
    """The site's CSP with framing allowed for Buurtkas itself and `origins` (only well-formed ones)."""
    return _POLICY.format(ancestors=" ".join(("'self'", *valid_origins(origins))))


def _allowed_origins(scope: Scope) -> tuple[str, ...]:
    app = scope.get("app")
    settings = getattr(getattr(app, "state", None), "settings", None)
    origins: Sequence[str] = getattr(settings, "embed_allowed_origins", None) or ()
    return tuple(origins)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"
        embed = is_embed_page(scope.get("path", ""))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in BASE_HEADERS.items():
                    headers.setdefault(name, value)
                if embed:
                    headers["Content-Security-Policy"] = embed_csp(_allowed_origins(scope))
                    del headers["X-Frame-Options"]
                if https:
                    headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
            await send(message)

        await self.app(scope, receive, send_with_headers)
