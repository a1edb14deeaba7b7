"""/feeds/{code}.atom, .rss and .json (JSON Feed 1.1): an area's news; a buurt's feed carries its wijk's and
the gemeente's items too (which items: `app.news.feed_builder`).

Feed readers poll: every answer carries a weak ETag of the body and Last-Modified, and a matching
If-None-Match (or, without it, If-Modified-Since) gets 304 without a body.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.kit.http import problem
from app.models.base import utcnow
from app.news import feed_builder
from app.news.feed_builder import MEDIA_TYPES, FeedFormat, FeedSite
from app.web.conditional import conditional_response

router = APIRouter(tags=["feeds"])

MAX_AGE = 300


def _responses(kind: FeedFormat, description: str) -> dict[int | str, dict[str, Any]]:
    media = MEDIA_TYPES[kind].split(";")[0]
    schema = {"type": "object"} if kind == "json" else {"type": "string"}
    return {
        200: {"description": description, "content": {media: {"schema": schema}}},
        304: {"description": "Not modified (If-None-Match or If-Modified-Since)"},
        404: problem("Unknown or malformed area code"),
        # Any code is accepted as text and judged by the route (404), so FastAPI's 422 never happens.
        "default": problem("Any other error"),
    }


def _feed(request: Request, code: str, kind: FeedFormat) -> Response:
    parsed = feed_builder.parse_code(code)
    site = FeedSite.of(request.app.state.settings)
    with request.app.state.db.read() as session:
        news = feed_builder.load_area_news(session, parsed, now=utcnow())
    body = feed_builder.render_feed(site, news, kind)
    return conditional_response(
        request, body, media_type=MEDIA_TYPES[kind], last_modified=news.updated, max_age=MAX_AGE
    )


@router.get(
    "/feeds/{code}.atom",
    response_class=Response,
    summary="An area's news as an Atom feed",
    responses=_responses("atom", "Atom 1.0 feed"),
)
def atom_feed(code: str, request: Request) -> Response:
    return _feed(request, code, "atom")


@router.get(
    "/feeds/{code}.rss",
    response_class=Response,
    summary="An area's news as an RSS 2.0 feed",
    responses=_responses("rss", "RSS 2.0 feed"),
)
def rss_feed(code: str, request: Request) -> Response:
    return _feed(request, code, "rss")


@router.get(
    "/feeds/{code}.json",
    response_class=Response,
    summary="An area's news as a JSON Feed 1.1",
    responses=_responses("json", "JSON Feed 1.1"),
)
def json_feed(code: str, request: Request) -> Response:
    return _feed(request, code, "json")
