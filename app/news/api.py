"""GET /api/v1/areas/{code}/news: an area's news as JSON (the same items as its feeds)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from app.kit.http import problem
from app.models.base import utcnow
from app.news import feed_builder
from app.news.feed_builder import FeedSite

router = APIRouter(prefix="/api/v1", tags=["news"])


class NewsItemOut(BaseModel):
    id: int
    kind: str
    """post, update, published, funded or completed."""
    title: str
    content_html: str
    """The body as sanitised HTML."""
    url: str
    area_code: str
    area_name: str
    initiative_id: int | None
    author: str
    image_url: str | None
    published_at: datetime
    updated_at: datetime


class AreaNewsOut(BaseModel):
    code: str
    name: str
    kind: str
    items: list[NewsItemOut]


@router.get(
    "/areas/{code}/news",
    response_model=AreaNewsOut,
    summary="An area's news, newest first; a buurt's includes its wijk's and the gemeente's",
    responses={404: problem("Unknown or malformed area code"), 422: problem("Bad limit")},
)
def area_news(
    code: str, request: Request, limit: Annotated[int, Query(ge=1, le=feed_builder.FEED_LIMIT)] = 20
) -> AreaNewsOut:
    parsed = feed_builder.parse_code(code)
    site = FeedSite.of(request.app.state.settings)
    with request.app.state.db.read() as session:
        news = feed_builder.load_area_news(session, parsed, now=utcnow(), limit=limit)
    return AreaNewsOut(
        code=news.area.code,
        name=news.area.name,
        kind=news.area.kind,
        items=[
            NewsItemOut(
                id=entry.item.id,
                kind=entry.item.kind,
                title=entry.item.title,
                content_html=feed_builder.content_html(site, entry),
                url=feed_builder.item_url(site, entry),
                area_code=entry.area_code,
                area_name=entry.area_name,
                initiative_id=entry.item.initiative_id if entry.initiative_public else None,
                author=feed_builder.author_of(site, entry),
                image_url=feed_builder.image_url(site, entry),
                published_at=feed_builder.published_of(entry),
                updated_at=feed_builder.updated_of(entry),
            )
            for entry in news.entries
        ],
    )
