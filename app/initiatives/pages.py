"""Public initiative pages: the list with filters, and one initiative with its budget and progress."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from app.areas import repository as areas
from app.donations import repository as donations
from app.donations.service import ACCEPTING
from app.initiatives import repository
from app.initiatives.categories import CATEGORIES
from app.initiatives.errors import InitiativeNotFound
from app.initiatives.states import PUBLIC
from app.kit.clock import today
from app.kit.markdown import render_markdown
from app.models import InitiativeStatus
from app.models.base import utcnow
from app.news import repository as news
from app.templating import render

router = APIRouter(include_in_schema=False)

NEW_DAYS = 14
PAGE_SIZE = 24
SHOWS = {
    "open": [InitiativeStatus.published],
    "funded": [InitiativeStatus.funded],
    "completed": [InitiativeStatus.completed],
    "all": list(PUBLIC),
}
FILTERS = ("", "nearly", "new")


@router.get("/initiatives", response_class=HTMLResponse)
def initiative_list(
    request: Request,
    area: str = "",
    category: str = "",
    filter: str = "",
    show: str = "open",
    page: str = "1",
) -> Response:
    """Every public initiative, narrowed by area, category, nearly funded or new. Unknown values are ignored."""
    show = show if show in SHOWS else "open"
    filter = filter if filter in FILTERS else ""
    category = category if category in CATEGORIES else ""
    page_number = min(max(int(page), 1), 1000) if page.isdigit() and len(page) < 6 else 1
    with request.app.state.db.read() as session:
        chosen = areas.by_code(session, area.strip().upper()[:10]) if area else None
        area_ids = areas.descendant_ids(session, chosen.id) if chosen else None
        cards = repository.cards(
            session,
            statuses=SHOWS[show],
            area_ids=area_ids,
            category=category or None,
            nearly_funded=filter == "nearly",
            published_since=utcnow() - timedelta(days=NEW_DAYS) if filter == "new" else None,
            limit=PAGE_SIZE + 1,
            offset=(page_number - 1) * PAGE_SIZE,
        )
        area_options = [(a, parent) for a, parent in areas.all_areas(session) if a.kind != "gemeente"]
    context = {
        "cards": cards[:PAGE_SIZE],
        "has_more": len(cards) > PAGE_SIZE,
        "page": page_number,
        "area": chosen.code if chosen else "",
        "area_name": chosen.name if chosen else "",
        "area_options": area_options,
        "category": category,
        "categories": CATEGORIES,
        "filter": filter,
        "show": show,
        "today": today(),
    }
    return render(request, "initiatives/list.html", context)


@router.get("/initiatives/{initiative_id}", response_class=HTMLResponse)
def initiative_page(initiative_id: Annotated[int, Path(ge=1, le=2**62)], request: Request) -> Response:
    with request.app.state.db.read() as session:
        card = repository.card(session, initiative_id, statuses=list(PUBLIC))
        if card is None:
            raise InitiativeNotFound()
        description, initiator = repository.description_and_initiator(session, initiative_id)
        context = {
            "initiative": card,
            "description_html": render_markdown(description),
            "initiator": initiator,
            "budget_lines": repository.budget_lines(session, initiative_id),
            "photos": repository.photos(session, initiative_id),
            "lineage": areas.lineage(session, card.area_id),
            "news": news.for_initiative(session, initiative_id, now=utcnow(), limit=10),
            "today": today(),
            "donors": donations.donors(session, initiative_id),
            "can_donate": request.app.state.stripe is not None and card.status in ACCEPTING,
        }
    return render(request, "initiatives/show.html", context)
