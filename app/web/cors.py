"""CORS for the public read API, for the origins allowed to embed Buurtkas (EMBED_ALLOWED_ORIGINS).

A municipal website may read `GET /api/v1/...` from its own scripts. Only reads: the POST endpoints
(vouchers, pledges, donations) never answer CORS, so no other site can drive them from a visitor's browser.
Other origins get no CORS headers at all; their preflight goes to the app, which refuses OPTIONS (405).
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from app.config import Settings
from app.embed.origins import valid_origins

API_PREFIX = "/api/v1/"
READ_METHODS = ("GET", "HEAD")
PREFLIGHT_MAX_AGE = 3600


class PublicReadCors:
    """Starlette's CORSMiddleware, applied only to reads of the public API."""

    def __init__(self, app: ASGIApp, origins: tuple[str, ...]) -> None:
        self.app = app
        self.origins = frozenset(origins)
        self.cors = CORSMiddleware(
            app, allow_origins=origins, allow_methods=READ_METHODS, max_age=PREFLIGHT_MAX_AGE
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._applies(scope):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    def _applies(self, scope: Scope) -> bool:
        if not str(scope.get("path", "")).startswith(API_PREFIX):
            return False
        method = scope["method"]
        if method in READ_METHODS:  # answers carry Vary: Origin, and Access-Control-Allow-Origin if allowed
            return True
        if method != "OPTIONS":
            return False
        headers = Headers(scope=scope)
        return (
            headers.get("origin") in self.origins
            and headers.get("access-control-request-method") in READ_METHODS
        )


def install_cors(app: FastAPI, settings: Settings) -> None:
    """Answer cross-origin reads of the public API for the configured origins (none: nothing is added)."""
    origins = valid_origins(settings.embed_allowed_origins)
    if origins:
        app.add_middleware(PublicReadCors, origins=origins)
