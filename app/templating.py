"""The one Jinja2 environment: autoescaping, gettext (Dutch source, English catalogue), money and dates."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from app import i18n
from app.initiatives import categories
from app.kit.markdown import render_markdown
from app.staff.menu import staff_menu

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html", "xml", "svg"]),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["money"] = i18n.money
    env.filters["long_date"] = i18n.long_date
    env.filters["date_time"] = i18n.date_time
    env.globals["static"] = static_url
    env.globals["category_label"] = categories.label
    env.globals["status_label"] = lambda status: i18n.gettext(categories.status_label(status))
    env.globals["markdown"] = lambda text: Markup(render_markdown(text))
    env.globals["staff_menu"] = staff_menu
    return env


@cache
def static_url(path: str) -> str:
    """The URL of a file under app/static with a content hash, so it can be cached for a year."""
    digest = hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:10]
    return f"/static/{path}?v={digest}"


def render_text(name: str, locale: str, **context: Any) -> str:
    with i18n.use_locale(locale):
        return environment().get_template(name).render(locale=locale, **context)


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render a page in the request's language."""
    from app.web.context import page_context
    from app.web.csrf import issue_cookie_if_new
    from app.web.session import locale_of

    locale = locale_of(request)
    body = render_text(name, locale, **page_context(request), **(context or {}))
    response = HTMLResponse(body, status_code=status_code, headers=headers)
    response.headers.setdefault("Cache-Control", "no-cache")
    issue_cookie_if_new(request, response)
    return response
