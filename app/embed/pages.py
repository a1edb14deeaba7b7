"""/embed.js and /embed/{widget}: read-only pages made for iframes on the municipality's own website.

The widget pages set no cookies and hold no forms; they are cached briefly and revalidated by ETag, since
every visitor of a municipal page fetches them. Which sites may frame them is decided in app/web/headers.py.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.embed import service
from app.embed.origins import valid_origins
from app.kit.cache import TtlCache
from app.kit.clock import today
from app.models.base import utcnow
from app.templating import render, render_text
from app.web.conditional import conditional_response

router = APIRouter(include_in_schema=False)

HTML = "text/html; charset=utf-8"
JAVASCRIPT = "application/javascript; charset=utf-8"
WIDGET_MAX_AGE = 60
"""Seconds a visitor's browser may reuse a widget before it asks again (with its ETag)."""
SCRIPT_MAX_AGE = 3600


SCRIPT = Path(__file__).with_name("embed.js")
"""Kept here, not under app/static/js: it is served only as /embed.js, and it is not part of the CSS+JS budget
of the site's own pages (tests/test_static_css.py counts every file under app/static/js)."""


@cache
def _embed_script() -> bytes:
    return SCRIPT.read_bytes()


@router.get("/embed.js")
def embed_script(request: Request) -> Response:
    """The script a municipal page loads (from another site, hence Cross-Origin-Resource-Policy)."""
    return conditional_response(
        request,
        _embed_script(),
        media_type=JAVASCRIPT,
        max_age=SCRIPT_MAX_AGE,
        headers={"Cross-Origin-Resource-Policy": "cross-origin"},
    )


@router.get("/embed/example", response_class=HTMLResponse)
def example(request: Request) -> Response:
    """How a municipality pastes a widget, with the snippet for every area and widget."""
    base_url = request.app.state.settings.base_url.rstrip("/")
    with request.app.state.db.read() as session:
        found = service.example_areas(session, base_url)
    return render(
        request,
        "embed/example.html",
        {
            "areas": found,
            "script_tag": service.script_tag(base_url),
            "allowed_origins": valid_origins(request.app.state.settings.embed_allowed_origins),
        },
    )


@router.get("/embed/{widget}", response_class=HTMLResponse)
def widget_page(request: Request, widget: str, area: str = "", lang: str = "") -> Response:
    locale = service.widget_locale(lang)
    cache = _widget_cache(request)
    key = (widget[:20], area.strip().upper()[:20], locale)
    body = cache.get(key)
    if body is None:
        try:
            with request.app.state.db.read() as session:
                context = service.widget_context(session, widget, area, today=today(), now=utcnow())
        except service.WidgetNotFound:
            return _page(request, "embed/not_found.html", {}, locale, status_code=404)
        body = _body(request, f"embed/{widget}.html", context, locale)
        cache.put(key, body)
    return conditional_response(
        request, body, media_type=HTML, max_age=WIDGET_MAX_AGE, headers={"Content-Language": locale}
    )


def _widget_cache(request: Request) -> TtlCache[bytes]:
    """This app's cache of rendered widgets: a municipal page's visitors all ask for the same few."""
    state = request.app.state
    cache: TtlCache[bytes] | None = getattr(state, "embed_cache", None)
    if cache is None:
        cache = state.embed_cache = TtlCache(seconds=state.settings.embed_cache_seconds, size=1_024)
    return cache


@router.get("/embed/{rest:path}", response_class=HTMLResponse)
def other_embed_path(request: Request, rest: str, lang: str = "") -> Response:
    """Any other address under /embed/ is the widget's own small 404 (it may be shown in a frame)."""
    return _page(request, "embed/not_found.html", {}, service.widget_locale(lang), status_code=404)


def _body(request: Request, template: str, context: dict[str, Any], locale: str) -> bytes:
    settings = request.app.state.settings
    return render_text(template, locale, municipality=settings.municipality_name, **context).encode()


def _page(
    request: Request, template: str, context: dict[str, Any], locale: str, *, status_code: int = 200
) -> Response:
    """A widget page in `locale`: no cookies (not `render`, which may set the CSRF cookie)."""
    body = _body(request, template, context, locale)
    headers = {"Content-Language": locale}
    if status_code != 200:
        headers["Cache-Control"] = f"public, max-age={WIDGET_MAX_AGE}"
        return Response(body, status_code=status_code, media_type=HTML, headers=headers)
    return conditional_response(request, body, media_type=HTML, max_age=WIDGET_MAX_AGE, headers=headers)
