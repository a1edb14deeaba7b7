"""GET /api/v1/areas."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.areas import repository
from app.areas.schemas import AreaOut

router = APIRouter(prefix="/api/v1", tags=["areas"])


@router.get("/areas", response_model=list[AreaOut], summary="All areas: gemeente, wijken, buurten")
def list_areas(request: Request) -> list[AreaOut]:
    with request.app.state.db.read() as session:
        return [
            AreaOut(code=area.code, name=area.name, kind=area.kind, parent_code=parent_code)
            for area, parent_code in repository.all_areas(session)
        ]
