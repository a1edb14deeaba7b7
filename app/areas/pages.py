"""Area pages: the wijken and buurten, each with its open initiatives and news."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.areas import repository
from app.errors import NotFound
from app.initiatives import repository as initiatives
from app.kit.clock import today
from app.models import InitiativeStatus
from app.models.base import utcnow
from app.news import repository as news
from app.templating import render

router = APIRouter(include_in_schema=False)


class AreaNotFound(NotFound):
    slug = "area-not-found"
    message = "Deze wijk of buurt bestaat niet."
    message_en = "This district or neighbourhood does not exist."


@router.get("/areas", response_class=HTMLResponse)
def area_index(request: Request) -> Response:
    with request.app.state.db.read() as session:
        gemeente = repository.gemeente(session)
        wijken = repository.children(session, gemeente.id) if gemeente else []
        tree = [(wijk, repository.children(session, wijk.id)) for wijk in wijken]
    return render(request, "areas/index.html", {"tree": tree})


@router.get("/areas/{code}", response_class=HTMLResponse)
def area_page(code: str, request: Request) -> Response:
    with request.app.state.db.read() as session:
        area = repository.by_code(session, code.strip().upper()[:10])
        if area is None:
            raise AreaNotFound()
        below = repository.descendant_ids(session, area.id)
        lineage = repository.lineage(session, area.id)
        context = {
            "area": area,
            "lineage": lineage,
            "children": repository.children(session, area.id),
            "cards": initiatives.cards(
                session, statuses=[InitiativeStatus.published], area_ids=below, limit=24
            ),
            "done": initiatives.cards(
                session,
                statuses=[InitiativeStatus.funded, InitiativeStatus.completed],
                area_ids=below,
                limit=6,
            ),
            "news": news.latest(
                session, area_ids=news.news_area_ids(session, area.id, area.kind), now=utcnow(), limit=5
            ),
            "today": today(),
        }
    return render(request, "areas/show.html", context)
