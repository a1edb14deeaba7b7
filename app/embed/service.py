"""What each widget shows, and the snippet a municipality pastes to show it.

Widgets are read-only views of one area: its open initiatives (the area and everything below it), its news
(the area and the areas above it, as on the area page) and its results (initiatives that reached their
target, and what households gave in the latest voucher period).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from app.areas import repository as areas
from app.embed import repository
from app.i18n import DEFAULT_LOCALE, LOCALES
from app.i18n import gettext as _
from app.initiatives import repository as initiatives
from app.kit.markdown import render_markdown
from app.models import Area, InitiativeStatus
from app.news import repository as news
from app.reports import repository as reports
from app.reports.service import AreaResult, period_results

WIDGETS = ("initiatives", "news", "results")
OPEN = (InitiativeStatus.published,)
DONE = (InitiativeStatus.funded, InitiativeStatus.completed)
OPEN_SHOWN = 6
NEWS_SHOWN = 5
DONE_SHOWN = 4
EXCERPT_CHARS = 220
_CODE = re.compile(r"[A-Za-z0-9]{1,10}")
"""CBS area codes (GM0141, WK014101, BU01410101): letters and digits, at most 10 (the column's size)."""


class WidgetNotFound(LookupError):
    """No such widget, or no such area: the page answers 404."""


def area_code(raw: str) -> str | None:
    """The code as stored (upper case), or None when it cannot be one (too long, odd characters)."""
    text = raw.strip()
    return text.upper() if _CODE.fullmatch(text) else None


def widget_locale(raw: str) -> str:
    """The widget's language from its `lang` parameter (`en`, `en-GB`, …); Dutch by default."""
    chosen = raw.strip().lower().split("-")[0][:5]
    return chosen if chosen in LOCALES else DEFAULT_LOCALE


def excerpt(body: str, limit: int = EXCERPT_CHARS) -> str:
    """The first `limit` characters of a Markdown text as plain text, cut at a word."""
    text = " ".join(Markup(render_markdown(body)).striptags().split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",.;:") + " …"


def widget_context(
    session: Session, widget: str, raw_code: str, *, today: date, now: datetime
) -> dict[str, Any]:
    """The template context of `widget` for the area `raw_code`; WidgetNotFound when either is unknown."""
    code = area_code(raw_code)
    if widget not in WIDGETS or code is None:
        raise WidgetNotFound(widget)
    area = areas.by_code(session, code)
    if area is None:
        raise WidgetNotFound(code)
    context: dict[str, Any] = {"area": area, "widget": widget, "today": today}
    if widget == "initiatives":
        context.update(_initiatives(session, area))
    elif widget == "news":
        context.update(_news(session, area, now))
    else:
        context.update(_results(session, area))
    return context


def _initiatives(session: Session, area: Area) -> dict[str, Any]:
    below = areas.descendant_ids(session, area.id)
    return {
        "cards": initiatives.cards(session, statuses=OPEN, area_ids=below, limit=OPEN_SHOWN),
        "open_count": repository.count_initiatives(session, statuses=OPEN, area_ids=below),
    }


def _news(session: Session, area: Area, now: datetime) -> dict[str, Any]:
    area_ids = news.news_area_ids(session, area.id, area.kind)
    items = news.latest(session, area_ids=area_ids, now=now, limit=NEWS_SHOWN)
    return {"items": [(item, name, excerpt(item.body)) for item, name in items]}


def _results(session: Session, area: Area) -> dict[str, Any]:
    below = areas.descendant_ids(session, area.id)
    done_count, raised_cents = repository.raised_in(session, statuses=DONE, area_ids=below)
    periods = reports.periods(session)
    period = periods[0] if periods else None
    found: AreaResult | None = None
    if period is not None:
        results = period_results(session, period)
        found = results.total if area.kind == "gemeente" else _find(results.wijken, area.code)
    return {
        "done": initiatives.cards(session, statuses=DONE, area_ids=below, limit=DONE_SHOWN),
        "done_count": done_count,
        "raised_cents": raised_cents,
        "period": period,
        "period_result": found,
    }


def _find(wijken: list[AreaResult], code: str) -> AreaResult | None:
    for wijk in wijken:
        if wijk.code == code:
            return wijk
        for buurt in wijk.buurten:
            if buurt.code == code:
                return buurt
    return None


# --- The snippet ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snippet:
    widget: str
    html: str
    """The `<div>` to paste, with the plain link shown where JavaScript does not run."""


def _fallback(widget: str, area: Area, base_url: str) -> tuple[str, str]:
    """Where the plain link goes and what it says (in the language of the page that shows the snippet)."""
    if widget == "initiatives":
        text = _("Bekijk de initiatieven in %(name)s op Buurtkas") % {"name": area.name}
        return f"{base_url}/areas/{area.code}", text
    if widget == "news":
        text = _("Lees het nieuws uit %(name)s op Buurtkas") % {"name": area.name}
        return f"{base_url}/areas/{area.code}/news", text
    text = _("Bekijk de resultaten van Buurtkas in %(name)s") % {"name": area.name}
    return f"{base_url}/areas/{area.code}", text  # the area page lists what was funded and done


def snippet(widget: str, area: Area, base_url: str) -> Snippet:
    href, text = _fallback(widget, area, base_url)
    html = (
        f'<div data-buurtkas="{widget}" data-area="{escape(area.code)}">\n'
        f'  <a href="{escape(href)}">{escape(text)}</a>\n'
        "</div>"
    )
    return Snippet(widget=widget, html=html)


def script_tag(base_url: str) -> str:
    """The one line that turns every widget `<div>` on the page into a frame."""
    return f'<script src="{escape(base_url)}/embed.js" defer></script>'


@dataclass(frozen=True)
class ExampleArea:
    area: Area
    snippets: list[Snippet]


def example_areas(session: Session, base_url: str) -> list[ExampleArea]:
    """Every area (gemeente, then its wijken, each followed by its buurten) with the snippet per widget."""
    rows = areas.all_areas(session)
    by_parent: dict[str | None, list[Area]] = {}
    for area, parent_code in rows:
        by_parent.setdefault(parent_code, []).append(area)
    ordered: list[Area] = []

    def walk(area: Area) -> None:
        ordered.append(area)
        for child in sorted(by_parent.get(area.code, []), key=lambda a: a.name):
            walk(child)

    for area, _parent in rows:
        if area.kind == "gemeente":
            walk(area)
    seen = {a.id for a in ordered}
    ordered += [area for area, _parent in rows if area.id not in seen]  # areas without a gemeente above
    return [ExampleArea(area, [snippet(w, area, base_url) for w in WIDGETS]) for area in ordered]
