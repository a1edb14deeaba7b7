"""The home page and the language switch."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.i18n import LOCALES
from app.initiatives import repository as initiatives
from app.kit.clock import today
from app.models import InitiativeStatus
from app.models.base import utcnow
from app.news import repository as news
from app.templating import render
from app.web.forms import safe_next
from app.web.session import set_locale

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    with request.app.state.db.read() as session:
        context = {
            "cards": initiatives.cards(session, statuses=[InitiativeStatus.published], limit=6),
            "nearly": initiatives.cards(
                session, statuses=[InitiativeStatus.published], nearly_funded=True, limit=3
            ),
            "news": news.latest(session, area_ids=None, now=utcnow(), limit=4),
            "today": today(),
        }
    return render(request, "home.html", context)


@router.get("/lang/{locale}")
def switch_language(locale: str, request: Request, next: str = "/") -> Response:
    """Remember the chosen language and go back to the page it was chosen on."""
    response = RedirectResponse(safe_next(next, "/"), status_code=303)
    if locale in LOCALES:
        set_locale(request, response, locale)
    return response
