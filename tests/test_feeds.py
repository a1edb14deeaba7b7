"""/feeds/{code}.atom, .rss and .json: parsed by feedparser (and JSON Feed by hand), the area's lineage, only
visible items, absolute links, stable ids, conditional GET, and 404 (never 500) for any odd code."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.db import Database
from app.initiatives.service import transition
from app.kit.clock import today
from app.models import InitiativeStatus, NewsItem, NewsKind
from app.news import feed_builder
from app.news.service import PostInput, post_news, set_hidden, update_post
from app.staff.scope import Scope
from tests.factories import World, area_id

BASE = "http://testserver"
FORMATS = ("atom", "rss", "json")
MEDIA = {
    "atom": "application/atom+xml; charset=utf-8",
    "rss": "application/rss+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}
ADMIN = Scope(staff_id=0, is_admin=True, wijk_ids=frozenset(), area_ids=frozenset(), gemeente_wide=True)
HOUR_AGO = datetime.now(UTC) - timedelta(hours=1)


def post(
    db: Database,
    code: str,
    title: str,
    *,
    moment: datetime = HOUR_AGO,
    body: str = "Een bericht.",
    **extra: Any,
) -> int:
    """A staff post on `code`, dated `moment` (posted and last changed then)."""

    def work(session: Session) -> int:
        news_id = post_news(
            session, area_id=area_id(session, code), kind=NewsKind.post, title=title, body=body, **extra
        )
        session.execute(
            update(NewsItem).where(NewsItem.id == news_id).values(published_at=moment, updated_at=moment)
        )
        return news_id

    return db.run_write(work)


def get_json(client: TestClient, code: str, **headers: str) -> dict[str, Any]:
    response = client.get(f"/feeds/{code}.json", headers=headers)
    assert response.status_code == 200, response.text
    document = json.loads(response.content)
    assert isinstance(document, dict)
    return document


def titles(client: TestClient, code: str) -> list[str]:
    return [item["title"] for item in get_json(client, code)["items"]]


def parsed(client: TestClient, code: str, kind: str) -> Any:
    response = client.get(f"/feeds/{code}.{kind}")
    assert response.status_code == 200, response.text
    document = feedparser.parse(response.content)
    assert document.bozo == 0, document.get("bozo_exception")
    return document


@pytest.fixture
def news(db: Database, world: World) -> dict[str, int]:
    """One item in each area of the small world, oldest (gemeente) to newest; the world's initiative was
    announced after them, an hour ago (so every later change has a later Last-Modified)."""
    db.run_write(
        lambda s: s.execute(
            update(NewsItem)
            .where(NewsItem.initiative_id == world.initiative_id)
            .values(published_at=HOUR_AGO, updated_at=HOUR_AGO)
        )
    )
    start = HOUR_AGO - timedelta(hours=10)
    codes = {
        "gemeente": "GM0141",
        "wijk": "WK014110",
        "buurt": "BU01411000",
        "sibling": "BU01411001",
        "other wijk": "WK014118",
        "other buurt": "BU01411800",
    }
    return {
        name: post(db, code, f"Bericht {name}", moment=start + timedelta(minutes=n))
        for n, (name, code) in enumerate(codes.items())
    }


def test_three_formats_parse_with_their_content_types(client: TestClient, news: dict[str, int]) -> None:
    for kind in FORMATS:
        response = client.get(f"/feeds/BU01411000.{kind}")
        assert response.status_code == 200
        assert response.headers["content-type"] == MEDIA[kind]
        assert response.headers["cache-control"] == "public, max-age=300"
        assert response.headers["etag"].startswith('W/"')
        assert response.headers["last-modified"]
    atom = parsed(client, "BU01411000", "atom")
    assert atom.version == "atom10"
    assert atom.feed.title == "Nieuws uit Centrum – Buurtkas Almelo"
    assert atom.feed.language == "nl"
    rss = parsed(client, "BU01411000", "rss")
    assert rss.version == "rss20"
    assert rss.feed.title == atom.feed.title
    assert [e.title for e in rss.entries] == [e.title for e in atom.entries]

    document = get_json(client, "BU01411000")
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert document["title"] == atom.feed.title
    assert document["home_page_url"] == f"{BASE}/areas/BU01411000/news"
    assert document["feed_url"] == f"{BASE}/feeds/BU01411000.json"
    assert document["language"] == "nl"
    assert document["items"]
    for item in document["items"]:
        assert {"id", "url", "title", "content_html", "date_published", "date_modified", "authors"} <= set(
            item
        )
        assert isinstance(item["id"], str) and item["id"]
        datetime.fromisoformat(item["date_published"])
        datetime.fromisoformat(item["date_modified"])
        assert item["authors"][0]["name"]


def test_a_buurt_feed_carries_its_wijk_and_gemeente_not_other_buurten(
    client: TestClient, news: dict[str, int]
) -> None:
    buurt = titles(client, "BU01411000")
    # newest first; the world's initiative (published just now) is the newest item
    assert buurt == [
        "Nieuw initiatief: Nieuwe bankjes in het park",
        "Bericht buurt",
        "Bericht wijk",
        "Bericht gemeente",
    ]
    for kind in ("atom", "rss"):
        assert [e.title for e in parsed(client, "BU01411000", kind).entries] == buurt
    # a wijk: its own, its buurten's and the gemeente's; not another wijk's
    assert titles(client, "WK014110") == [
        "Nieuw initiatief: Nieuwe bankjes in het park",
        "Bericht sibling",
        "Bericht buurt",
        "Bericht wijk",
        "Bericht gemeente",
    ]
    assert titles(client, "BU01411800") == ["Bericht other buurt", "Bericht other wijk", "Bericht gemeente"]
    assert titles(client, "GM0141") == ["Bericht gemeente"]


def test_hidden_and_scheduled_items_are_absent(
    client: TestClient, db: Database, news: dict[str, int]
) -> None:
    post(db, "BU01411000", "Later", moment=datetime.now(UTC) + timedelta(days=2))
    hidden = post(db, "BU01411000", "Verborgen")
    db.run_write(lambda s: set_hidden(s, hidden, hidden=True, scope=ADMIN, actor="test"))
    for kind in ("atom", "rss"):
        shown = [e.title for e in parsed(client, "BU01411000", kind).entries]
        assert "Later" not in shown and "Verborgen" not in shown
    assert "Later" not in titles(client, "BU01411000")
    assert "Verborgen" not in titles(client, "BU01411000")


def test_links_are_absolute_and_point_to_the_item(
    client: TestClient, db: Database, world: World, news: dict[str, int]
) -> None:
    items = {item["title"]: item for item in get_json(client, "BU01411000")["items"]}
    assert items["Bericht wijk"]["url"] == f"{BASE}/areas/WK014110/news#nieuws-{news['wijk']}"
    initiative = items["Nieuw initiatief: Nieuwe bankjes in het park"]
    assert initiative["url"] == f"{BASE}/initiatives/{world.initiative_id}"
    atom = parsed(client, "BU01411000", "atom")
    rss = parsed(client, "BU01411000", "rss")
    for document in (atom, rss):
        assert all(link.href.startswith(f"{BASE}/") for link in document.feed.links)
        assert all(entry.link.startswith(f"{BASE}/") for entry in document.entries)
    assert {link.rel: link.href for link in atom.feed.links} == {
        "self": f"{BASE}/feeds/BU01411000.atom",
        "alternate": f"{BASE}/areas/BU01411000/news",
    }
    assert rss.feed.link == f"{BASE}/areas/BU01411000/news"
    # an initiative that is no longer public: its item links to the news page instead
    db.run_write(
        lambda s: transition(s, world.initiative_id, InitiativeStatus.withdrawn, actor="test", today=today())
    )
    items = {item["title"]: item for item in get_json(client, "BU01411000")["items"]}
    announced = items["Nieuw initiatief: Nieuwe bankjes in het park"]
    assert announced["url"].startswith(f"{BASE}/areas/BU01411000/news#nieuws-")


def test_ids_are_stable_across_requests_and_edits(
    client: TestClient, db: Database, news: dict[str, int], tmp_path: Path
) -> None:
    first = {item["title"]: item["id"] for item in get_json(client, "BU01411000")["items"]}
    again = {item["title"]: item["id"] for item in get_json(client, "BU01411000")["items"]}
    assert first == again
    assert len(set(first.values())) == len(first)
    assert first["Bericht buurt"] == f"tag:testserver,2026:news/{news['buurt']}"
    atom_ids = {e.title: e.id for e in parsed(client, "BU01411000", "atom").entries}
    rss_ids = {e.title: e.id for e in parsed(client, "BU01411000", "rss").entries}
    assert atom_ids == rss_ids == first

    edit(db, news["buurt"], "Bericht buurt (bijgewerkt)", tmp_path)
    after = {item["title"]: item for item in get_json(client, "BU01411000")["items"]}
    edited = after["Bericht buurt (bijgewerkt)"]
    assert edited["id"] == first["Bericht buurt"]
    assert edited["date_modified"] > edited["date_published"]
    entry = next(e for e in parsed(client, "BU01411000", "atom").entries if e.id == edited["id"])
    assert entry.updated_parsed > entry.published_parsed


def edit(db: Database, news_id: int, title: str, media: Path) -> None:
    def work(session: Session) -> None:
        area = session.get(NewsItem, news_id)
        assert area is not None
        data = PostInput(title=title, body="Nieuwe tekst.", area_id=str(area.area_id), publish="now")
        update_post(session, news_id, data, scope=ADMIN, actor="test", media_dir=media)

    db.run_write(work)


def test_body_is_sanitised_markdown_with_an_absolute_image(
    client: TestClient, db: Database, world: World
) -> None:
    post(
        db,
        "BU01411000",
        "Opgeknapt",
        body="**Vet** en <script>alert(1)</script> [link](javascript:alert(1))",
        image_filename="abc.jpg",
        image_alt="Het plein",
    )
    item = next(i for i in get_json(client, "BU01411000")["items"] if i["title"] == "Opgeknapt")
    html = item["content_html"]
    assert "<strong>Vet</strong>" in html
    assert "<script" not in html
    assert "href" not in html  # a javascript: link stays text
    assert f'<img src="{BASE}/media/abc.jpg" alt="Het plein">' in html
    assert item["image"] == f"{BASE}/media/abc.jpg"
    entry = next(e for e in parsed(client, "BU01411000", "atom").entries if e.title == "Opgeknapt")
    assert "<strong>Vet</strong>" in entry.content[0].value and "<script" not in entry.content[0].value


def test_at_most_fifty_newest_first(client: TestClient, db: Database, world: World) -> None:
    def work(session: Session) -> None:
        gemeente = area_id(session, "GM0141")
        for n in range(55):
            news_id = post_news(
                session, area_id=gemeente, kind=NewsKind.post, title=f"Nummer {n:02d}", body="x"
            )
            moment = HOUR_AGO - timedelta(minutes=60 - n)
            session.execute(
                update(NewsItem).where(NewsItem.id == news_id).values(published_at=moment, updated_at=moment)
            )

    db.run_write(work)
    shown = titles(client, "GM0141")
    assert len(shown) == 50
    assert shown == [f"Nummer {n:02d}" for n in range(54, 4, -1)]
    assert len(parsed(client, "GM0141", "rss").entries) == 50


def test_conditional_get(client: TestClient, db: Database, news: dict[str, int], tmp_path: Path) -> None:
    for kind in FORMATS:
        url = f"/feeds/BU01411000.{kind}"
        first = client.get(url)
        etag, modified = first.headers["etag"], first.headers["last-modified"]
        assert client.get(url).headers["etag"] == etag  # the same body every time
        cached = client.get(url, headers={"If-None-Match": etag})
        assert cached.status_code == 304
        assert cached.content == b""
        assert cached.headers["etag"] == etag
        assert client.get(url, headers={"If-None-Match": f'"other", {etag}'}).status_code == 304
        assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 304
        later = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
        assert client.get(url, headers={"If-Modified-Since": later}).status_code == 304
        earlier = format_datetime(parsedate_to_datetime(modified) - timedelta(seconds=1), usegmt=True)
        assert client.get(url, headers={"If-Modified-Since": earlier}).status_code == 200
        for garbage in ("garbage", "", '"', "W/", "*x", "x" * 5_000, "ä,ö"):
            response = client.get(url, headers={"If-None-Match": garbage.encode("utf-8")})
            assert response.status_code == 200, garbage
            assert response.content == first.content
        for garbage in ("garbage", "", "Mon, 99 Foo 2026 99:99:99 GMT", "0", "x" * 5_000, "-1"):
            assert client.get(url, headers={"If-Modified-Since": garbage}).status_code == 200, garbage

    before = client.get("/feeds/BU01411000.atom")
    edit(db, news["buurt"], "Bericht buurt, nu anders", tmp_path)
    edited = client.get("/feeds/BU01411000.atom", headers={"If-None-Match": before.headers["etag"]})
    assert edited.status_code == 200
    assert edited.headers["etag"] != before.headers["etag"]
    assert parsedate_to_datetime(edited.headers["last-modified"]) > parsedate_to_datetime(
        before.headers["last-modified"]
    )

    db.run_write(lambda s: set_hidden(s, news["buurt"], hidden=True, scope=ADMIN, actor="test"))
    hidden = client.get("/feeds/BU01411000.atom", headers={"If-None-Match": edited.headers["etag"]})
    assert hidden.status_code == 200
    assert hidden.headers["etag"] != edited.headers["etag"]
    # hiding an item is a change too: Last-Modified never goes back
    assert parsedate_to_datetime(hidden.headers["last-modified"]) >= parsedate_to_datetime(
        edited.headers["last-modified"]
    )


def test_an_area_without_news_has_a_fixed_date(client: TestClient, world: World) -> None:
    first = client.get("/feeds/BU01411800.atom")
    assert first.status_code == 200
    assert parsedate_to_datetime(first.headers["last-modified"]) == feed_builder.EMPTY_FEED_UPDATED
    assert client.get("/feeds/BU01411800.atom").headers["etag"] == first.headers["etag"]
    assert feedparser.parse(first.content).bozo == 0
    assert get_json(client, "BU01411800")["items"] == []


@pytest.mark.parametrize(
    "code",
    [
        "BU99999999",
        "GM9999",
        "WK999999",
        "xx",
        "BU0141100",
        "BU014110000",
        "BU01411000.atom",
        "bu0141100x",
        "GM01410",
        "BU01411000%00",
        "%2e%2e",
        "BU\u0660\u0661\u0664\u0661\u0661\u0660\u0660\u0660",
        "ＢＵ01411000",
        "B" * 10_000,
        "1" * 64,
        "' OR 1=1 --",
    ],
)
def test_unknown_or_malformed_codes_are_404(client: TestClient, world: World, code: str) -> None:
    for kind in FORMATS:
        response = client.get(f"/feeds/{code}.{kind}")
        assert response.status_code == 404, (code, kind, response.status_code)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == 404


def test_lower_case_codes_and_other_paths(client: TestClient, world: World) -> None:
    assert client.get("/feeds/bu01411000.json").json()["feed_url"] == f"{BASE}/feeds/BU01411000.json"
    for path in ("/feeds/BU01411000", "/feeds/BU01411000.xml", "/feeds/", "/feeds/BU01411000.atom/x"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"


def test_the_news_api_gives_the_feed_items_as_json(client: TestClient, news: dict[str, int]) -> None:
    response = client.get("/api/v1/areas/bu01411000/news")
    assert response.status_code == 200
    body = response.json()
    assert (body["code"], body["kind"]) == ("BU01411000", "buurt")
    assert [item["title"] for item in body["items"]] == titles(client, "BU01411000")
    first = body["items"][0]
    assert first["kind"] == "published" and first["url"].startswith("http://testserver/initiatives/")
    assert body["items"][1]["area_code"] == "BU01411000" and body["items"][2]["area_code"] == "WK014110"
    assert len(client.get("/api/v1/areas/WK014110/news?limit=2").json()["items"]) == 2


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/areas/BU99999999/news", 404),
        ("/api/v1/areas/" + "X" * 5000 + "/news", 404),
        ("/api/v1/areas/GM0141/news?limit=0", 422),
        ("/api/v1/areas/GM0141/news?limit=51", 422),
        ("/api/v1/areas/GM0141/news?limit=abc", 422),
    ],
)
def test_the_news_api_refuses_bad_input(client: TestClient, world: World, path: str, status: int) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
