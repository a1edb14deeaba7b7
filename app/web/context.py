"""Values every page template gets."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request

from app.i18n import LOCALES
from app.web.csrf import csrf_token


def page_context(request: Request) -> dict[str, Any]:
    settings = request.app.state.settings
    path = request.url.path
    query = request.url.query
    here = path + (f"?{query}" if query else "")
    return {
        "request": request,
        "municipality": settings.municipality_name,
        "voucher_value_cents": settings.default_voucher_value_cents,
        "csrf_token": csrf_token(request),
        "current_path": path,
        "staff": getattr(request.state, "staff", None),
        "language_links": {locale: f"/lang/{locale}?next={quote(here, safe='')}" for locale in LOCALES},
    }
