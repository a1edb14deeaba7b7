"""Widgets on a municipality's page: a page served from a second local origin pastes the snippets from
/embed/example; embed.js turns them into iframes that render and follow their content's height. A third
origin, not in EMBED_ALLOWED_ORIGINS, is refused framing; without JavaScript the plain link stays."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from bs4 import BeautifulSoup
from playwright.sync_api import ElementHandle, Frame, Page, expect

from app.config import Settings
from app.db import Database
from app.demo.pictures import picture
from app.initiatives.photos import store_photo
from app.models import NewsKind
from app.models.base import utcnow
from app.news.service import post_news
from tests.databases import test_settings
from tests.e2e.conftest import LAPTOP, ContextFactory
from tests.e2e.helpers import assert_accessible, assert_no_sideways_scroll, guard_of, page_weight, screenshot
from tests.factories import World, area_id, make_initiative
from tests.payout_helpers import funded

WIJK = "WK014110"
FIRST_HEIGHT = "320px"  # embed.js's height until the frame reports
WIDGET_BUDGET = 40 * 1024  # HTML, CSS and JS of one widget: it loads on every visit of a municipal page


class HostSite:
    """A municipality's website: a tiny HTTP server on its own port (so its own origin) serving `pages`."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_HostHandler, self))
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="host-site", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class _HostHandler(BaseHTTPRequestHandler):
    def __init__(self, site: HostSite, *args: object) -> None:
        self.site = site
        super().__init__(*args)  # type: ignore[arg-type]

    def do_GET(self) -> None:  # the name http.server calls
        body = self.site.pages.get(self.path.split("?")[0])
        if body is None:
            self.send_response(204 if self.path == "/favicon.ico" else 404)
            self.end_headers()
            return
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # the signature of the base
        pass


@pytest.fixture
def municipality() -> Iterator[HostSite]:
    """The allowed municipal website."""
    site = HostSite()
    yield site
    site.close()


@pytest.fixture
def stranger() -> Iterator[HostSite]:
    """Another website, not in EMBED_ALLOWED_ORIGINS."""
    site = HostSite()
    yield site
    site.close()


@pytest.fixture
def settings(database_url: str, live_socket: socket.socket, municipality: HostSite) -> Settings:
    host, port = live_socket.getsockname()
    return test_settings(
        database_url, base_url=f"http://{host}:{port}", embed_allowed_origins=municipality.origin
    )


@pytest.fixture
def rich(live_server: str, world: World, db: Database) -> World:
    """Open initiatives with a photo, one funded initiative, and news in the wijk and the gemeente."""
    with db.write() as session:
        image, alt = picture("spelen", seed=3)
        store_photo(
            session,
            world.settings.media_dir,
            initiative_id=world.initiative_id,
            position=0,
            image=image,
            alt_text=alt,
        )
        make_initiative(
            session,
            world.settings,
            area_code=WIJK,
            title="Kerstverlichting in de Grotestraat",
            target_cents=80_000,
        )
        for n, (code, title) in enumerate(
            [
                ("GM0141", "De Buurtkas is open"),
                (WIJK, "Opruimdag in de Binnenstad"),
                ("BU01411000", "Bankjes besteld"),
            ]
        ):
            post_news(
                session,
                area_id=area_id(session, code),
                kind=NewsKind.post,
                title=title,
                body="Elk huishouden krijgt een **voucher** om een initiatief te steunen. " * (n + 2),
                published_at=utcnow() - timedelta(days=3 - n),
            )
    with httpx.Client(base_url=live_server, trust_env=False) as client:
        funded(client, db, world.settings, world.codes[-7:], title="Speeltuin opgeknapt")  # type: ignore[arg-type]
    return world


def snippets(live_server: str, code: str) -> dict[str, str]:
    """The script line and the widget snippets for `code`, as the example page offers them to copy."""
    page = httpx.get(f"{live_server}/embed/example", trust_env=False)
    found = [
        c.get_text() for c in BeautifulSoup(page.text, "html.parser").select("pre.buurtkas-snippet code")
    ]
    result = {"script": found[0]}
    for text in found[1:]:
        div = BeautifulSoup(text, "html.parser").div
        if div is not None and div["data-area"] == code:
            result[str(div["data-buurtkas"])] = text
    return result


def host_page(title: str, *widgets: str, script: str) -> str:
    columns = "".join(f"<section>{w}</section>" for w in widgets)
    return f"""<!DOCTYPE html>
<html lang="nl"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body{{margin:0;font-family:Georgia,serif;background:#f4f1ea;color:#222}}
header{{background:#7a1f2b;color:#fff;padding:1rem}} main{{max-width:60rem;margin:0 auto;padding:1rem}}
.columns{{display:grid;gap:1.5rem;grid-template-columns:repeat(auto-fit,minmax(min(100%,24rem),1fr));align-items:start}}
section{{background:#fff;border-radius:4px;box-shadow:0 1px 3px #0003}}
</style></head>
<body><header><strong>Gemeente Almelo</strong></header>
<main><h1>{title}</h1><p>Wat er speelt in uw wijk, van de inwoners zelf.</p>
<div class="columns">{columns}</div></main>
{script}
</body></html>"""


def wait_until(page: Page, condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Poll `condition`, letting Playwright deliver the page's events in between."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        page.wait_for_timeout(50)


def iframes(page: Page) -> list[ElementHandle]:
    return page.query_selector_all("iframe[data-buurtkas-frame]")


def content(frame: ElementHandle) -> Frame:
    found = frame.content_frame()
    assert found is not None
    return found


def fits(frame: ElementHandle) -> bool:
    """The iframe is as tall as its document (and no longer at embed.js's first guess)."""
    if frame.evaluate("f => f.style.height") == FIRST_HEIGHT:
        return False
    outer = frame.evaluate("f => f.getBoundingClientRect().height")
    inner = content(frame).evaluate("() => document.documentElement.scrollHeight")
    return bool(abs(outer - inner) <= 1)


def heights(page: Page) -> list[float]:
    return [f.evaluate("f => f.getBoundingClientRect().height") for f in iframes(page)]


def whole_page_screenshot(page: Page, name: str) -> None:
    """A full-page screenshot with every frame painted: Chromium leaves a cross-origin frame outside the
    viewport blank in a full-page capture, so the viewport is made as tall as the page first."""
    size = page.viewport_size
    assert size is not None
    page.set_viewport_size({"width": size["width"], "height": page.evaluate("document.body.scrollHeight")})
    wait_until(page, lambda: all(fits(f) for f in iframes(page)), "the frames to fit")
    page.wait_for_timeout(200)
    screenshot(page, name)
    page.set_viewport_size(size)


def open_host(page: Page, site: HostSite, live_server: str, *widgets: str) -> None:
    shown = snippets(live_server, WIJK)
    site.pages["/wijk"] = host_page("Wijk Binnenstad", *(shown[w] for w in widgets), script=shown["script"])
    page.goto(f"{site.origin}/wijk")


def test_two_widgets_render_and_follow_their_content(
    live_server: str, new_phone: ContextFactory, rich: World, municipality: HostSite
) -> None:
    page = new_phone(**LAPTOP)
    open_host(page, municipality, live_server, "initiatives", "news")
    expect(page.locator("iframe[data-buurtkas-frame]")).to_have_count(2)
    expect(page.get_by_role("link", name="Bekijk de initiatieven in Binnenstad op Buurtkas")).to_have_count(0)
    first, second = iframes(page)
    assert first.get_attribute("loading") == "lazy"
    assert first.get_attribute("src") == f"{live_server}/embed/initiatives?area={WIJK}"
    wait_until(page, lambda: fits(first) and fits(second), "both frames to fit their content")

    assert content(first).locator("h1").inner_text() == "Open initiatieven in Binnenstad"
    assert "Kerstverlichting in de Grotestraat" in content(first).locator("main").inner_text()
    assert content(second).locator("h1").inner_text() == "Nieuws uit Binnenstad"
    assert (
        "Nieuw initiatief: Kerstverlichting in de Grotestraat" in content(second).locator("main").inner_text()
    )
    assert first.get_attribute("title") == "Open initiatieven in Binnenstad · Buurtkas Almelo"
    assert second.get_attribute("title") == "Nieuws uit Binnenstad · Buurtkas Almelo"
    whole_page_screenshot(page, "embed-host-laptop")

    # Narrower columns: the content wraps, grows, and the frames grow with it.
    wide = heights(page)
    page.set_viewport_size({"width": 390, "height": 844})
    wait_until(
        page, lambda: heights(page)[0] > wide[0] + 50 and fits(first) and fits(second), "frames to grow"
    )
    assert heights(page)[1] > wide[1]
    assert_no_sideways_scroll(page)

    # Only a frame's own message counts: the host page (another origin) cannot set a height.
    before = heights(page)
    page.evaluate("() => window.postMessage({type: 'buurtkas:height', height: 5000}, '*')")
    page.wait_for_timeout(200)
    assert heights(page) == before

    # A widget added later is mounted too.
    page.evaluate(
        """() => { const div = document.createElement('div');
            div.dataset.buurtkas = 'results'; div.dataset.area = 'GM0141';
            document.querySelector('main').append(div); }"""
    )
    expect(page.locator("iframe[data-buurtkas-frame]")).to_have_count(3)
    third = iframes(page)[2]
    third.scroll_into_view_if_needed()
    wait_until(page, lambda: fits(third), "the added frame to fit")
    assert "Speeltuin opgeknapt" in content(third).locator("main").inner_text()

    # Frames that reported their height stay (a silent one would give way to its link after 3 s).
    page.wait_for_timeout(3_500)
    expect(page.locator("iframe[data-buurtkas-frame]")).to_have_count(3)


def test_phone_screenshot_and_links_open_in_the_top_window(
    live_server: str, phone: Page, rich: World, municipality: HostSite
) -> None:
    open_host(phone, municipality, live_server, "initiatives", "news")
    first, second = iframes(phone)
    wait_until(phone, lambda: fits(first), "the first frame to fit")
    second.scroll_into_view_if_needed()
    wait_until(phone, lambda: fits(second), "the second frame to fit")
    assert_no_sideways_scroll(phone)
    whole_page_screenshot(phone, "embed-host-phone")
    content(first).get_by_role("link", name="Kerstverlichting in de Grotestraat").click()
    phone.wait_for_url(f"{live_server}/initiatives/*")
    expect(phone.locator("h1")).to_have_text("Kerstverlichting in de Grotestraat")


def test_a_site_that_is_not_allowed_is_refused_framing(
    live_server: str, phone: Page, world: World, municipality: HostSite, stranger: HostSite
) -> None:
    refused: list[str] = []
    # Chromium's words differ by version: "Refused to frame …" or "Framing … violates … frame-ancestors".
    message = re.compile(r"Refused to frame|Framing .* violates .*frame-ancestors")
    guard_of(phone).allow_console_error(message.pattern)
    phone.on("console", lambda m: refused.append(m.text) if message.search(m.text) else None)
    open_host(phone, stranger, live_server, "initiatives")
    frame = iframes(phone)[0]
    wait_until(phone, lambda: bool(refused), "Chromium to refuse the frame")
    assert f"frame-ancestors 'self' {municipality.origin}\"" in refused[0]
    inner = frame.content_frame()
    assert inner is None or inner.url.startswith("chrome-error://") or inner.locator("h1").count() == 0
    assert frame.evaluate("f => f.style.height") == FIRST_HEIGHT  # no message came through
    # A frame that loaded but never reported its height gives way to the plain link again.
    link = phone.get_by_role("link", name="Bekijk de initiatieven in Binnenstad op Buurtkas")
    expect(link).to_be_visible(timeout=8_000)
    assert phone.locator("iframe").count() == 0


def test_without_javascript_the_plain_link_stays(
    live_server: str, phone_nojs: Page, world: World, municipality: HostSite
) -> None:
    open_host(phone_nojs, municipality, live_server, "initiatives", "news")
    assert phone_nojs.locator("iframe").count() == 0
    link = phone_nojs.get_by_role("link", name="Bekijk de initiatieven in Binnenstad op Buurtkas")
    expect(link).to_be_visible()
    assert link.get_attribute("href") == f"{live_server}/areas/{WIJK}"
    expect(phone_nojs.get_by_role("link", name="Lees het nieuws uit Binnenstad op Buurtkas")).to_be_visible()


@pytest.mark.parametrize("widget", ["initiatives", "news", "results"])
def test_widget_pages_are_accessible(live_server: str, phone: Page, rich: World, widget: str) -> None:
    guard_of(phone).allow_console_error(r"favicon")
    weight = page_weight(phone, f"/embed/{widget}?area={WIJK}")
    assert weight.total < WIDGET_BUDGET, weight.describe()
    assert_no_sideways_scroll(phone)
    assert_accessible(phone, f"embed-{widget}")
    screenshot(phone, f"embed-{widget}")
    phone.goto(f"/embed/{widget}?area={WIJK}&lang=en")
    assert_accessible(phone, f"embed-{widget}-en")


def test_example_page_is_accessible_and_its_live_widget_works(
    live_server: str, phone: Page, rich: World
) -> None:
    phone.goto("/embed/example")
    assert_no_sideways_scroll(phone)
    frame = phone.locator("iframe[data-buurtkas-frame]")
    expect(frame).to_have_count(1)
    wait_until(phone, lambda: fits(iframes(phone)[0]), "the live example to fit")
    assert_accessible(phone, "embed-example")
    screenshot(phone, "embed-example-phone")
