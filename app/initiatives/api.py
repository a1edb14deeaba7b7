"""GET /api/v1/initiatives and /api/v1/initiatives/{id}."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request

from app.areas import repository as areas
from app.errors import NotFound
from app.initiatives import repository
from app.initiatives.errors import InitiativeNotFound
from app.initiatives.schemas import InitiativeOut
from app.initiatives.states import PUBLIC
from app.kit.http import problem
from app.models import Initiative

router = APIRouter(prefix="/api/v1", tags=["initiatives"])

PublicStatus = Literal["published", "funded", "completed"]


def _out(initiative: Initiative, area_code: str, supporters: int) -> InitiativeOut:
    return InitiativeOut(
        id=initiative.id,
        title=initiative.title,
        summary=initiative.summary,
        category=initiative.category,
        status=initiative.status,
        area_code=area_code,
        target_cents=initiative.target_cents,
        raised_cents=initiative.raised_cents,
        supporters=supporters,
        deadline=initiative.deadline,
        published_at=initiative.published_at,
        funded_at=initiative.funded_at,
    )


@router.get(
    "/initiatives",
    response_model=list[InitiativeOut],
    summary="Public initiatives, optionally in an area (and the areas below it) or with a status",
    responses={404: problem("Unknown area"), 422: problem("Bad query")},
)
def list_initiatives(
    request: Request,
    area: Annotated[str | None, Query(min_length=6, max_length=10, pattern=r"^[A-Za-z]{2}\d{4,8}$")] = None,
    status: PublicStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> list[InitiativeOut]:
    with request.app.state.db.read() as session:
        area_ids = None
        if area is not None:
            found = areas.by_code(session, area.upper())
            if found is None:
                raise NotFound(f"Gebied {area} bestaat niet.", f"Area {area} does not exist.")
            area_ids = areas.descendant_ids(session, found.id)
        statuses = [status] if status else sorted(PUBLIC)
        rows = repository.list_public(
            session, statuses=statuses, area_ids=area_ids, limit=limit, offset=offset
        )
        return [_out(*row) for row in rows]


@router.get(
    "/initiatives/{initiative_id}",
    response_model=InitiativeOut,
    summary="One public initiative",
    responses={404: problem("Unknown or not public"), 422: problem("Bad id")},
)
def get_initiative(request: Request, initiative_id: Annotated[int, Path(ge=1, le=2**62)]) -> InitiativeOut:
    with request.app.state.db.read() as session:
        rows = repository.list_public(
            session, statuses=sorted(PUBLIC), area_ids=None, limit=1, offset=0, ids=[initiative_id]
        )
        if not rows:
            raise InitiativeNotFound()
        return _out(*rows[0])
