"""The news page of an area: /areas/{code}/news, the same items as the area's feeds, a page at a time."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.errors import NotFound
from app.models.base import utcnow
from app.news import feed_builder
from app.news.feed_builder import PAGE_SIZE
from app.templating import render

router = APIRouter(include_in_schema=False)

MAX_PAGE = 1_000


class NewsPageNotFound(NotFound):
    slug = "news-page-not-found"
    message = "Deze pagina met nieuws bestaat niet. Begin bij de eerste pagina."
    message_en = "This page of news does not exist. Start at the first page."


def page_number(text: str) -> int:
    """`?page=` as a number: anything that is not a plain number is page 1; past MAX_PAGE is 404."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()):
        return 1
    digits = text.lstrip("0")
    if not digits:
        return 1
    if len(digits) > 6 or int(digits) > MAX_PAGE:  # int() of a huge string is slow, then refused
        raise NewsPageNotFound()
    return int(digits)


@router.get("/areas/{code}/news", response_class=HTMLResponse)
def area_news(code: str, request: Request, page: str = "1") -> Response:
    parsed = feed_builder.parse_code(code.strip())
    number = page_number(page)
    with request.app.state.db.read() as session:
        news = feed_builder.load_area_news(
            session,
            parsed,
            now=utcnow(),
            limit=PAGE_SIZE,
            offset=(number - 1) * PAGE_SIZE,
            with_lineage=True,
        )
    if number > 1 and not news.entries:
        raise NewsPageNotFound()
    context = {
        "area": news.area,
        "lineage": news.lineage,
        "entries": news.entries,
        "page": number,
        "has_more": news.has_more,
    }
    return render(request, "news/list.html", context)
