"""Widgets for the municipal website: /embed.js, /embed/{widget} pages, who may frame them, CORS on the public
read API, and the example page with the snippets to paste."""

from __future__ import annotations

from datetime import timedelta

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import Database
from app.embed.origins import parse_origin, parse_origins, valid_origins
from app.embed.service import excerpt
from app.main import create_app
from app.models.base import utcnow
from app.news.service import post_news
from tests.databases import test_settings
from tests.factories import World, area_id, make_initiative
from tests.payout_helpers import funded

ALLOWED = ("https://www.almelo.nl", "http://localhost:8080")
GEMEENTE, WIJK, BUURT = "GM0141", "WK014110", "BU01411000"
WIDGETS = ("initiatives", "news", "results")


@pytest.fixture
def settings(database_url: str) -> Settings:
    return test_settings(database_url, embed_allowed_origins=",".join(ALLOWED))


def html(response: object) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")  # type: ignore[attr-defined]


def frame_ancestors(response: object) -> list[str]:
    csp = response.headers["content-security-policy"]  # type: ignore[attr-defined]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";") if part.strip())
    return directives["frame-ancestors"].split()


@pytest.fixture
def news_world(client: TestClient, world: World, db: Database) -> World:
    """The world with news in the gemeente, a wijk and a buurt, and a funded initiative in the buurt."""
    with db.write() as session:
        for hours, code, title in (
            (3, GEMEENTE, "Nieuws van de gemeente"),
            (2, WIJK, "Wijkfeest"),
            (1, BUURT, "Buurtnieuws"),
        ):
            post_news(
                session,
                area_id=area_id(session, code),
                kind="post",
                title=title,
                body=f"**{title}**: een *lange* tekst. " * 20,
                author_name="Wijkregisseur",
                published_at=utcnow() - timedelta(hours=hours),
            )
        post_news(
            session,
            area_id=area_id(session, "BU01411800"),
            kind="post",
            title="Elders",
            body="Niet hier.",
        )
    world.extra["funded"] = funded(client, db, world.settings, world.codes[-7:], title="Speeltuin opgeknapt")
    return world


# --- The widget pages ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [GEMEENTE, WIJK, BUURT])
def test_initiatives_widget_shows_open_initiatives_of_the_area_and_below(
    client: TestClient, world: World, db: Database, code: str
) -> None:
    with db.write() as session:
        make_initiative(session, world.settings, area_code="BU01411800", title="Moestuin in Schelfhorst")
    page = client.get(f"/embed/initiatives?area={code.lower()}")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    doc = html(page)
    assert doc.html is not None and doc.html["lang"] == "nl"
    assert doc.find("main") is not None and doc.find("footer") is not None
    titles = [h.get_text(strip=True) for h in doc.select("main h2")]
    assert "Nieuwe bankjes in het park" in titles  # in BU01411000, inside each of the three areas
    assert ("Moestuin in Schelfhorst" in titles) == (code == GEMEENTE)
    assert doc.find("progress") is not None
    assert doc.h1 is not None and "Open initiatieven" in doc.h1.get_text()


def test_news_widget_shows_the_lineage_newest_first(client: TestClient, news_world: World) -> None:
    doc = html(client.get(f"/embed/news?area={BUURT}"))
    titles = [h.get_text(strip=True) for h in doc.select("main h2")]
    moments = [str(t["datetime"]) for t in doc.select("main li time")]
    assert len(titles) == 5 and moments == sorted(moments, reverse=True)  # the newest five
    mine = [t for t in titles if t in ("Buurtnieuws", "Wijkfeest", "Nieuws van de gemeente", "Elders")]
    assert mine == ["Buurtnieuws", "Wijkfeest"]  # the gemeente's is older than the five; other buurten never
    wijk = [h.get_text(strip=True) for h in html(client.get(f"/embed/news?area={WIJK}")).select("main h2")]
    # A wijk's widget shows its buurten's news too, like its feed; never another wijk's.
    assert "Wijkfeest" in wijk and "Buurtnieuws" in wijk and "Elders" not in wijk
    item = next(li for li in doc.select("main li") if li.h2 and li.h2.get_text(strip=True) == "Buurtnieuws")
    body = item.select_one("p:not(.buurtkas-muted)")
    assert body is not None and "<strong>" not in str(body) and body.get_text().endswith("…")
    assert body.get_text().startswith("Buurtnieuws: een lange tekst.")
    more = doc.find("a", href=f"/areas/{BUURT}/news")
    assert more is not None


@pytest.mark.parametrize("code", [GEMEENTE, WIJK, BUURT])
def test_results_widget_shows_funded_initiatives_and_money(
    client: TestClient, news_world: World, code: str
) -> None:
    doc = html(client.get(f"/embed/results?area={code}"))
    figures = [li.get_text(" ", strip=True) for li in doc.select(".buurtkas-embed-figures li")]
    assert any(text.startswith("1 initiatief gehaald") for text in figures), figures
    assert any("€ 52,50" in text for text in figures), figures  # 7 vouchers of € 7,50
    assert any("van de huishoudens gaf" in text for text in figures), figures
    assert "Speeltuin opgeknapt" in doc.get_text()


def test_results_widget_elsewhere_counts_nothing(client: TestClient, news_world: World) -> None:
    doc = html(client.get("/embed/results?area=BU01411800"))
    figures = [li.get_text(" ", strip=True) for li in doc.select(".buurtkas-embed-figures li")]
    assert figures[0].startswith("0 initiatieven gehaald")
    assert "Speeltuin opgeknapt" not in doc.get_text()


@pytest.mark.parametrize("widget", WIDGETS)
def test_widgets_render_without_any_data(client: TestClient, widget: str, db: Database, world: World) -> None:
    page = client.get(f"/embed/{widget}?area=WK014118")
    assert page.status_code == 200


@pytest.mark.parametrize("widget", WIDGETS)
def test_widget_pages_are_light_read_only_and_open_links_in_the_top_window(
    client: TestClient, news_world: World, widget: str
) -> None:
    page = client.get(f"/embed/{widget}?area={GEMEENTE}")
    doc = html(page)
    assert "set-cookie" not in page.headers
    assert doc.find("form") is None and doc.find("input") is None
    base = doc.find("base")
    assert base is not None and base.get("target") == "_top" and not base.get("href")
    assert [s.get("src", "").split("?")[0] for s in doc.find_all("script")] == ["/static/js/embed-frame.js"]
    assert all(not s.string for s in doc.find_all("script")), "no inline script"
    assert doc.find(attrs={"style": True}) is None
    sheets = [link["href"].split("?")[0] for link in doc.find_all("link", rel="stylesheet")]
    assert sheets == ["/static/css/theme.css", "/static/css/embed.css"]
    links = doc.find_all("a", href=True)
    assert links and all(link["href"].startswith("/") for link in links)
    assert len(page.content) < 30_000


def test_widget_in_english(client: TestClient, news_world: World) -> None:
    page = client.get(f"/embed/initiatives?area={BUURT}&lang=en")
    doc = html(page)
    assert doc.html is not None and doc.html["lang"] == "en"
    assert page.headers["content-language"] == "en"
    assert "days left" in doc.get_text()
    link = doc.find("a", string="Nieuwe bankjes in het park")
    assert link is not None and str(link["href"]).startswith("/lang/en?next=/initiatives/")
    switched = client.get(str(link["href"]), follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"].startswith("/initiatives/")
    more = html(client.get(f"/embed/news?area={BUURT}&lang=en")).find("a", href=True, string=True)
    assert more is not None and str(more["href"]).startswith("/lang/en?next=")
    assert "€52.50" in html(client.get(f"/embed/results?area={BUURT}&lang=EN-gb")).get_text()
    assert html(client.get(f"/embed/news?area={BUURT}&lang=fr")).html["lang"] == "nl"  # type: ignore[index]


@pytest.mark.parametrize(
    "path",
    [
        "/embed/unknown?area=GM0141",
        "/embed/initiatives?area=GM9999",
        "/embed/initiatives",
        "/embed/news?area=",
        "/embed/results?area=" + "A" * 5000,
        "/embed/initiatives?area=%FF%FE",
        "/embed/initiatives?area=GM0141%00",
        "/embed/news?area=GM'--",
        "/embed/news?area=BU01411000BU",
        "/embed/..%2F..%2Fetc?area=GM0141",
        "/embed/initiatives?area=GM0141&area=x&lang=" + "e" * 3000,  # the last `area` counts
    ],
)
def test_unknown_widget_or_area_is_a_small_embeddable_404(
    client: TestClient, world: World, path: str
) -> None:
    page = client.get(path)
    assert page.status_code == 404, page.text
    assert "set-cookie" not in page.headers
    assert "x-frame-options" not in page.headers
    assert frame_ancestors(page) == ["'self'", *ALLOWED]
    doc = html(page)
    assert doc.find("base", target="_top") is not None
    assert doc.h1 is not None and doc.h1.get_text(strip=True) == "Niet gevonden"


# --- Caching ------------------------------------------------------------------------------------------------


def test_widget_etag_answers_304_and_changes_with_the_content(
    client: TestClient, world: World, db: Database
) -> None:
    first = client.get(f"/embed/initiatives?area={BUURT}")
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    assert first.headers["cache-control"] == "public, max-age=60"
    again = client.get(f"/embed/initiatives?area={BUURT}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert "set-cookie" not in again.headers
    assert frame_ancestors(again) == ["'self'", *ALLOWED]
    garbage = client.get(f"/embed/initiatives?area={BUURT}", headers={"If-None-Match": 'x, "y", W/'})
    assert garbage.status_code == 200
    with db.write() as session:
        make_initiative(session, world.settings, area_code=BUURT, title="Nog een initiatief")
    changed = client.get(f"/embed/initiatives?area={BUURT}", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert "Nog een initiatief" in changed.text


def test_a_rendered_widget_is_reused_for_a_few_seconds(database_url: str, world: World, db: Database) -> None:
    from app.main import create_app
    from tests.databases import test_settings

    cached = test_settings(database_url, embed_cache_seconds=30)
    with TestClient(create_app(cached, db)) as other:
        first = other.get(f"/embed/initiatives?area={BUURT}")
        with db.write() as session:
            make_initiative(session, world.settings, area_code=BUURT, title="Nog een initiatief")
        again = other.get(
            f"/embed/initiatives?area={BUURT}", headers={"If-None-Match": first.headers["etag"]}
        )
        assert again.status_code == 304  # the same rendering, within its 30 seconds
        english = other.get(f"/embed/initiatives?area={BUURT}&lang=en")
        assert "Nog een initiatief" in english.text  # another key: rendered now
    with TestClient(create_app(cached, db)) as fresh:  # a new process starts empty
        assert "Nog een initiatief" in fresh.get(f"/embed/initiatives?area={BUURT}").text


def test_embed_script_is_javascript_cacheable_and_loadable_from_other_sites(client: TestClient) -> None:
    script = client.get("/embed.js")
    assert script.status_code == 200
    assert script.headers["content-type"] == "application/javascript; charset=utf-8"
    assert script.headers["cross-origin-resource-policy"] == "cross-origin"
    assert script.headers["cache-control"].startswith("public, max-age=")
    assert (
        "buurtkas:height" in script.text and "event.source" in script.text and "event.origin" in script.text
    )
    again = client.get("/embed.js", headers={"If-None-Match": script.headers["etag"]})
    assert again.status_code == 304
    assert "set-cookie" not in script.headers


def test_frame_script_is_a_static_file(client: TestClient) -> None:
    script = client.get("/static/js/embed-frame.js")
    assert script.status_code == 200
    assert "buurtkas:height" in script.text and "ResizeObserver" in script.text


# --- Who may frame what --------------------------------------------------------------------------------------


@pytest.mark.parametrize("widget", WIDGETS)
def test_embed_pages_may_be_framed_by_exactly_the_configured_origins(
    client: TestClient, world: World, widget: str
) -> None:
    page = client.get(f"/embed/{widget}?area={WIJK}")
    assert frame_ancestors(page) == ["'self'", *ALLOWED]
    assert "x-frame-options" not in page.headers
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'self'" in csp


@pytest.mark.parametrize("path", ["/", "/areas", f"/areas/{WIJK}", "/embed/example", "/embed.js", "/results"])
def test_every_other_page_forbids_framing(client: TestClient, world: World, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 200
    assert frame_ancestors(page) == ["'none'"]
    assert page.headers["x-frame-options"] == "DENY"


def test_without_configured_origins_only_buurtkas_itself_may_frame(db: Database, world: World) -> None:
    settings = world.settings.model_copy(update={"embed_allowed_origins": []})
    with TestClient(create_app(settings, db)) as client:
        page = client.get(f"/embed/news?area={GEMEENTE}")
        assert frame_ancestors(page) == ["'self'"]
        api = client.get("/api/v1/areas", headers={"Origin": ALLOWED[0]})
        assert "access-control-allow-origin" not in api.headers


def test_a_malformed_origin_never_reaches_the_header(db: Database, world: World) -> None:
    settings = world.settings.model_copy(
        update={"embed_allowed_origins": ["https://ok.example", "https://x.nl; script-src *", "*"]}
    )
    with TestClient(create_app(settings, db)) as client:
        page = client.get(f"/embed/news?area={GEMEENTE}")
        assert frame_ancestors(page) == ["'self'", "https://ok.example"]


def test_origins_are_checked_and_normalised() -> None:
    assert parse_origin(" HTTPS://WWW.Almelo.NL/ ") == "https://www.almelo.nl"
    assert parse_origin("https://www.almelo.nl:443") == "https://www.almelo.nl"
    assert parse_origin("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    assert parse_origin("http://[::1]:8000") == "http://[::1]:8000"
    assert parse_origins(["https://a.nl", "https://a.nl/", "https://b.nl"]) == [
        "https://a.nl",
        "https://b.nl",
    ]
    for bad in [
        "*",
        "https://*.almelo.nl",
        "https://www.almelo.nl/wijken",
        "www.almelo.nl",
        "ftp://almelo.nl",
        "https://user@almelo.nl",
        "https://almelo.nl:99999",
        "https://almelo.nl?x=1",
        "https://almelo.nl#x",
        "'self'",
        "https://almelo.nl https://evil.example",
        "https://almelo.nl;",
        "null",
        "",
    ]:
        with pytest.raises(ValueError, match="EMBED_ALLOWED_ORIGINS"):
            parse_origin(bad)
    assert valid_origins(["*", "https://a.nl", "bad"]) == ("https://a.nl",)


# --- CORS on the public read API -----------------------------------------------------------------------------


def test_allowed_origin_may_read_the_public_api(client: TestClient, world: World) -> None:
    for origin in ALLOWED:
        answer = client.get("/api/v1/areas", headers={"Origin": origin})
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == origin
        assert "Origin" in answer.headers["vary"]
        assert "access-control-allow-credentials" not in answer.headers
    listed = client.get("/api/v1/initiatives", headers={"Origin": ALLOWED[0]})
    assert listed.headers["access-control-allow-origin"] == ALLOWED[0]
    preflight = client.options(
        "/api/v1/areas", headers={"Origin": ALLOWED[0], "Access-Control-Request-Method": "GET"}
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ALLOWED[0]
    assert "POST" not in preflight.headers["access-control-allow-methods"]


def test_other_origins_get_no_cors(client: TestClient, world: World) -> None:
    answer = client.get("/api/v1/areas", headers={"Origin": "https://evil.example"})
    assert answer.status_code == 200
    assert "access-control-allow-origin" not in answer.headers
    assert "Origin" in answer.headers["vary"]
    preflight = client.options(
        "/api/v1/areas", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    )
    assert "access-control-allow-origin" not in preflight.headers
    page = client.get("/areas", headers={"Origin": ALLOWED[0]})
    assert "access-control-allow-origin" not in page.headers  # pages are not the API


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/vouchers/check",
        "/api/v1/pledges",
        "/api/v1/initiatives/1/donations",
    ],
)
def test_post_endpoints_never_answer_cors(client: TestClient, world: World, path: str) -> None:
    preflight = client.options(
        path,
        headers={
            "Origin": ALLOWED[0],
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-methods" not in preflight.headers
    posted = client.post(path, json={}, headers={"Origin": ALLOWED[0]})
    assert posted.status_code < 500
    assert "access-control-allow-origin" not in posted.headers


# --- The example page ----------------------------------------------------------------------------------------


def test_example_page_lists_a_snippet_per_area_and_widget(client: TestClient, world: World) -> None:
    page = client.get("/embed/example")
    assert page.status_code == 200
    doc = html(page)
    snippets = [code.get_text() for code in doc.select("pre.buurtkas-snippet code")]
    assert snippets[0] == '<script src="http://testserver/embed.js" defer></script>'
    for code in (GEMEENTE, WIJK, BUURT, "WK014118", "BU01411001", "BU01411800"):
        for widget in WIDGETS:
            wanted = f'<div data-buurtkas="{widget}" data-area="{code}">'
            found = [s for s in snippets if s.startswith(wanted)]
            assert len(found) == 1, (code, widget)
            snippet = BeautifulSoup(found[0], "html.parser")
            link = snippet.find("a")
            assert link is not None and link["href"].startswith("http://testserver/")
    live = doc.select_one(".buurtkas-embed-live div[data-buurtkas]")
    assert live is not None and live["data-area"] == GEMEENTE and live.find("a") is not None
    scripts = [s.get("src", "") for s in doc.find_all("script")]
    assert "/embed.js" in scripts
    assert "https://www.almelo.nl" in doc.get_text()


def test_snippet_links_lead_to_the_pages_they_name(client: TestClient, world: World) -> None:
    doc = html(client.get("/embed/example"))
    for code in doc.select("pre.buurtkas-snippet code")[1:4]:
        link = BeautifulSoup(code.get_text(), "html.parser").find("a")
        assert link is not None
        path = str(link["href"]).removeprefix("http://testserver")
        assert client.get(path).status_code in (200, 404 if path.endswith("/news") else 200)


def test_excerpt_is_plain_text_cut_at_a_word() -> None:
    assert excerpt("Kort.") == "Kort."
    long = excerpt("**Vet** en " + "woord " * 100, limit=30)
    assert long.startswith("Vet en woord") and long.endswith(" …") and len(long) <= 32
    assert (
        excerpt("# Kop\n\n[link](https://example.org) &amp; <b>x</b>") == "Kop link & <b>x</b>"
    )  # escaped later


def test_news_text_is_escaped_in_the_widget(client: TestClient, world: World, db: Database) -> None:
    with db.write() as session:
        post_news(
            session, area_id=area_id(session, BUURT), kind="post", title="<i>Kop</i>", body="<b>x</b> y"
        )
    doc = html(client.get(f"/embed/news?area={BUURT}"))
    assert doc.find("b") is None and doc.find("i") is None
    assert "<b>x</b> y" in doc.get_text()
