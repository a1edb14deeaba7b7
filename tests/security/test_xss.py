"""Script payloads in what residents, initiators, donors and directors write, and in search parameters, come
out as text or are removed: in HTML pages, widgets, the Atom/RSS/JSON feeds and the JSON API. The CSP forbids
inline script anyway (tests/security/test_headers.py).

Guards Jinja's autoescape (app/templating.py select_autoescape) and the Markdown sanitiser
(app/kit/markdown.py: markdown-it without raw HTML, then nh3 with http/https/mailto links only). Checked to
fail without the protection: with `autoescape=False` in app/templating.py the pages-and-widgets test
failed; with render_markdown returning markdown-it's output with html=True and no nh3, the pages and the
feeds tests failed (each change undone, never committed). The search/path parameter test did NOT fail with
autoescape off: the app never echoes those parameters (unknown areas, categories, widgets and pages are
looked up and dropped, 404 pages do not repeat the path), so it guards that no page starts reflecting them
unescaped.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlalchemy import update

from app.db import Database
from app.models import Donation, Initiative
from app.models.base import utcnow
from app.models.news import NewsKind
from app.news.service import post_news
from tests.factories import World, area_id

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(2)>'
TITLE = f"Bankjes {SCRIPT} {IMG}"
SUMMARY = "'><svg onload=alert(3)> samen"
MARKDOWN = """Hallo <script>alert(4)</script> buren.

[klik hier](javascript:alert(5)) en [ook](JaVaScRiPt:alert(6)) en <a href="javascript:alert(7)">dit</a>

"><img src=x onerror=alert(8)> <iframe src="javascript:alert(9)"></iframe>

![plaatje](javascript:alert(10)) [data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxMSk8L3NjcmlwdD4=)

<div onmouseover="alert(12)">zweef</div> [goed](https://example.org/ok)
"""
NEWS_TITLE = f"Nieuws {SCRIPT}"
DONOR = "<img src=x onerror=alert(13)>"
URL_ATTRIBUTES = ("href", "src", "action", "formaction", "data", "srcset", "poster", "xlink:href")
BAD_SCHEMES = ("javascript:", "vbscript:", "data:text/html")


def assert_inert(html: str, where: str) -> BeautifulSoup:
    """No element, attribute or link in `html` can run script."""
    doc = BeautifulSoup(html, "html.parser")
    for tag in doc.find_all(True):
        assert tag.name not in ("iframe", "object", "embed"), (where, str(tag)[:200])
        assert not (tag.name == "base" and tag.get("href")), (where, str(tag)[:200])
        if tag.name == "script":
            assert tag.get("src") and not (tag.string or "").strip(), (where, "inline script", str(tag)[:200])
        for name, value in tag.attrs.items():
            assert not name.lower().startswith("on"), (where, str(tag)[:200])
            text = " ".join(value) if isinstance(value, list) else str(value)
            if name.lower() in URL_ATTRIBUTES:
                squeezed = "".join(text.split()).lower()
                assert not squeezed.startswith(BAD_SCHEMES), (where, str(tag)[:200])
    return doc


@pytest.fixture
def hostile(db: Database, world: World) -> World:
    """The world's open initiative, a news item and a donor, all written by an attacker."""
    with db.write() as session:
        session.execute(
            update(Initiative)
            .where(Initiative.id == world.initiative_id)
            .values(title=TITLE, summary=SUMMARY, description=MARKDOWN)
        )
        post_news(
            session,
            area_id=area_id(session, "BU01411000"),
            kind=NewsKind.post,
            title=NEWS_TITLE,
            body=MARKDOWN,
            author_name=DONOR,
        )
        session.add(
            Donation(
                public_id="xss-donation-0001",
                initiative_id=world.initiative_id,
                amount_cents=500,
                donor_name=DONOR,
                status="paid",
                paid_at=utcnow(),
            )
        )
    return world


def test_pages_and_widgets_show_payloads_as_text(client: TestClient, hostile: World) -> None:
    pages = [
        f"/initiatives/{hostile.initiative_id}",
        "/initiatives",
        "/areas/BU01411000",
        "/areas/BU01411000/news",
        "/embed/initiatives?area=BU01411000",
        "/embed/news?area=BU01411000",
        "/",
    ]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        assert SCRIPT not in response.text and "<img src=x" not in response.text, path
        assert_inert(response.text, path)
    page = BeautifulSoup(client.get(f"/initiatives/{hostile.initiative_id}").text, "html.parser")
    text = page.get_text(" ")
    assert SCRIPT in text and SUMMARY in text and DONOR in text  # shown, as text
    prose = page.select_one(".buurtkas-prose")
    assert prose is not None
    links = [a["href"] for a in prose.find_all("a")]
    assert links == ["https://example.org/ok"]  # the javascript: and data: links are gone, the good one stays
    assert NEWS_TITLE in BeautifulSoup(client.get("/areas/BU01411000/news").text, "html.parser").get_text(" ")


@pytest.mark.parametrize(
    "path",
    [
        "/initiatives?area={p}&category={p}&filter={p}&show={p}&page={p}",
        "/areas/{p}",
        "/areas/{p}/news?page={p}",
        "/embed/initiatives?area={p}&lang={p}",
        "/embed/news?area={p}",
        "/embed/{p}",
        "/initiatives/{p}",
        "/no-such-page/{p}",
        "/v/{p}",
        "/feeds/{p}.atom",
    ],
)
def test_search_and_path_parameters_are_never_reflected_as_markup(
    client: TestClient, world: World, path: str
) -> None:
    for payload in (SCRIPT, IMG, "javascript:alert(1)", "'\"><svg/onload=alert(1)>"):
        response = client.get(path.format(p=quote(payload, safe="")), follow_redirects=False)
        assert response.status_code < 500, (path, payload, response.status_code)
        assert (
            SCRIPT not in response.text and "<img src=x" not in response.text and "<svg/" not in response.text
        )
        if response.headers.get("content-type", "").startswith("text/html"):
            assert_inert(response.text, f"{path} {payload}")
        location = response.headers.get("location", "")
        assert not location.lower().startswith("javascript:"), location


def _feed_html(xml: bytes) -> list[str]:
    """The HTML payloads of an Atom or RSS feed (content type="html" / description), unescaped once."""
    root = ElementTree.fromstring(xml)
    found = []
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag in ("content", "description", "summary") and element.text:
            found.append(element.text)
    return found


def test_feeds_carry_only_sanitised_html(client: TestClient, hostile: World) -> None:
    for kind in ("atom", "rss"):
        response = client.get(f"/feeds/BU01411000.{kind}")
        assert response.status_code == 200
        root = ElementTree.fromstring(response.content)  # well-formed XML despite the payloads
        titles = [e.text or "" for e in root.iter() if e.tag.rsplit("}", 1)[-1] == "title"]
        assert NEWS_TITLE in titles  # a title is plain text in both formats; XML escaping keeps it so
        bodies = _feed_html(response.content)
        assert any("Hallo" in body for body in bodies), kind
        for body in bodies:
            assert_inert(body, kind)
            assert "<script" not in body.lower(), (kind, body)
    feed: dict[str, Any] = client.get("/feeds/BU01411000.json").json()
    items = feed["items"]
    assert any(item["title"] == NEWS_TITLE for item in items)
    for item in items:
        assert_inert(item["content_html"], "json feed")
        assert "<script" not in item["content_html"].lower()
    api = client.get("/api/v1/areas/BU01411000/news")
    assert api.status_code == 200
    for item in api.json()["items"] if isinstance(api.json(), dict) else api.json():
        if "content_html" in item:
            assert_inert(item["content_html"], "news api")


def test_the_api_answers_json_never_html(client: TestClient, hostile: World) -> None:
    response = client.get(f"/api/v1/initiatives/{hostile.initiative_id}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert json.loads(response.text)["title"] == TITLE  # data, returned as it was written
    listing = client.get("/api/v1/initiatives", params={"area": SCRIPT})
    assert listing.status_code < 500
    assert not listing.headers["content-type"].startswith("text/html")
