"""The news page of an area (/areas/{code}/news): the area's items with date, area, body, image and the
initiative's link; pagination that never fails; the feeds announced in the head and linked on the page and
on the area page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.db import Database
from app.models import NewsItem, NewsKind
from app.news.feed_builder import PAGE_SIZE
from app.news.service import post_news
from tests.factories import World, area_id
from tests.pages_helpers import soup

HOUR_AGO = datetime.now(UTC) - timedelta(hours=1)
FEED_TYPES = {
    "application/atom+xml": "/feeds/{code}.atom",
    "application/rss+xml": "/feeds/{code}.rss",
    "application/feed+json": "/feeds/{code}.json",
}


def post(db: Database, code: str, title: str, *, minutes_ago: int = 60, **extra: object) -> int:
    moment = datetime.now(UTC) - timedelta(minutes=minutes_ago)

    def work(session: Session) -> int:
        news_id = post_news(
            session,
            area_id=area_id(session, code),
            kind=NewsKind.post,
            title=title,
            body=str(extra.pop("body", "Een bericht.")),
            **extra,  # type: ignore[arg-type]
        )
        session.execute(
            update(NewsItem).where(NewsItem.id == news_id).values(published_at=moment, updated_at=moment)
        )
        return news_id

    return db.run_write(work)


def item_titles(response: object) -> list[str]:
    page = soup(response)
    return [li.find(["h2", "h3"]).get_text(strip=True) for li in page.select("ul.buurtkas-news > li")]


def alternates(response: object) -> dict[str, str]:
    head = soup(response).head
    assert head is not None
    return {str(link["type"]): str(link["href"]) for link in head.find_all("link", rel="alternate")}


def test_the_page_shows_the_areas_items(client: TestClient, db: Database, world: World) -> None:
    gemeente = post(db, "GM0141", "Nieuws van de gemeente", minutes_ago=120)
    post(
        db,
        "BU01411000",
        "Het plein is klaar",
        body="Dank aan **iedereen**.",
        image_filename="plein.jpg",
        image_alt="Het nieuwe plein",
        author_name="Wijkregisseur Jansen",
    )
    post(db, "BU01411001", "Andere buurt")
    post(db, "BU01411000", "Nog niet", minutes_ago=-60)
    hidden = post(db, "BU01411000", "Weg")
    db.run_write(lambda s: s.execute(update(NewsItem).where(NewsItem.id == hidden).values(hidden=True)))

    response = client.get("/areas/BU01411000/news")
    assert response.status_code == 200
    page = soup(response)
    assert page.h1 is not None and page.h1.get_text(strip=True) == "Nieuws uit Centrum"
    assert item_titles(response) == [
        "Nieuw initiatief: Nieuwe bankjes in het park",
        "Het plein is klaar",
        "Nieuws van de gemeente",
    ]
    plein = page.select_one("ul.buurtkas-news > li:nth-of-type(2)")
    assert plein is not None
    meta = plein.select_one("p.buurtkas-muted")
    assert meta is not None and meta.time is not None
    assert meta.time["datetime"]
    assert "Centrum" in meta.get_text() and "Wijkregisseur Jansen" in meta.get_text()
    assert plein.select_one(".buurtkas-prose strong") is not None
    image = plein.find("img")
    assert image is not None and image["src"] == "/media/plein.jpg" and image["alt"] == "Het nieuwe plein"
    # the gemeente's item carries its own area's name and an anchor the feeds link to
    assert page.find(id=f"nieuws-{gemeente}") is not None
    assert "Almelo" in page.find(id=f"nieuws-{gemeente}").get_text()
    # an initiative's item links to the initiative
    first = page.select_one("ul.buurtkas-news > li:nth-of-type(1)")
    assert first is not None
    assert first.find("a", href=f"/initiatives/{world.initiative_id}") is not None
    assert plein.find("a", href=lambda h: h and h.startswith("/initiatives/")) is None


def test_feeds_are_announced_and_linked(client: TestClient, world: World) -> None:
    for code in ("BU01411000", "WK014110", "GM0141"):
        for path in (f"/areas/{code}/news", f"/areas/{code}"):
            response = client.get(path)
            assert response.status_code == 200, path
            assert alternates(response) == {kind: href.format(code=code) for kind, href in FEED_TYPES.items()}
            links = {a.get_text(strip=True): a["href"] for a in soup(response).find_all("a")}
            assert links["RSS"] == f"/feeds/{code}.rss"
            assert links["Atom"] == f"/feeds/{code}.atom"
            assert links["JSON Feed"] == f"/feeds/{code}.json"
            for href in FEED_TYPES.values():
                assert client.get(href.format(code=code)).status_code == 200
    area = soup(client.get("/areas/BU01411000"))
    assert area.find("a", href="/areas/BU01411000/news") is not None


def test_pagination(client: TestClient, db: Database, world: World) -> None:
    def work(session: Session) -> None:
        buurt = area_id(session, "BU01411800")
        for n in range(PAGE_SIZE * 2 + 3):
            news_id = post_news(session, area_id=buurt, kind=NewsKind.post, title=f"Nummer {n:02d}", body="x")
            moment = HOUR_AGO - timedelta(minutes=100 - n)
            session.execute(
                update(NewsItem).where(NewsItem.id == news_id).values(published_at=moment, updated_at=moment)
            )

    db.run_write(work)
    total = PAGE_SIZE * 2 + 3
    newest_first = [f"Nummer {n:02d}" for n in range(total - 1, -1, -1)]
    first = client.get("/areas/BU01411800/news")
    assert item_titles(first) == newest_first[:PAGE_SIZE]
    assert soup(first).find("a", rel="next")["href"] == "/areas/BU01411800/news?page=2"
    assert soup(first).find("a", rel="prev") is None
    second = client.get("/areas/BU01411800/news?page=2")
    assert item_titles(second) == newest_first[PAGE_SIZE : PAGE_SIZE * 2]
    assert soup(second).find("a", rel="prev")["href"] == "/areas/BU01411800/news"
    third = client.get("/areas/BU01411800/news?page=3")
    assert item_titles(third) == newest_first[PAGE_SIZE * 2 :]
    assert soup(third).find("a", rel="next") is None
    assert soup(third).find("a", rel="prev")["href"] == "/areas/BU01411800/news?page=2"
    assert client.get("/areas/BU01411800/news?page=4").status_code == 404


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("page=abc", 200),
        ("page=", 200),
        ("page=0", 200),
        ("page=-1", 200),
        ("page=1.5", 200),
        ("page=%D9%A1", 200),
        ("page=%00", 200),
        ("page=" + "9" * 5_000, 404),
        ("page=1001", 404),
        ("page=2", 404),
        ("page=1&page=2", 404),  # the last value counts
    ],
)
def test_odd_page_values_never_fail(client: TestClient, world: World, query: str, status: int) -> None:
    response = client.get(f"/areas/BU01411000/news?{query}")
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("code", ["BU99999999", "xx", "B" * 10_000, "BU0141100%C3%A9", "%20"])
def test_unknown_areas_are_404(client: TestClient, world: World, code: str) -> None:
    response = client.get(f"/areas/{code}/news")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")


def test_a_wijk_page_shows_its_buurten(client: TestClient, db: Database, world: World) -> None:
    post(db, "BU01411001", "Uit Binnenstad-Zuid")
    post(db, "BU01411800", "Uit Schelfhorst-Noord")
    shown = item_titles(client.get("/areas/WK014110/news"))
    assert "Uit Binnenstad-Zuid" in shown and "Uit Schelfhorst-Noord" not in shown
    assert item_titles(client.get("/areas/GM0141/news")) == []
    assert "Nog geen nieuws." in soup(client.get("/areas/GM0141/news")).get_text()
