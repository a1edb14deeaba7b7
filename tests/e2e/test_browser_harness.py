"""The browser harness itself: Chromium starts, the live server answers, and every check can fail."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from tests.e2e.helpers import (
    BrowserGuard,
    assert_accessible,
    assert_no_sideways_scroll,
    guard_of,
    page_weight,
    screenshot,
)

pytestmark = pytest.mark.browser

HEAD = '<!doctype html><html lang="nl"><head><meta charset="utf-8"><title>Proef</title>'
VIEWPORT = '<meta name="viewport" content="width=device-width, initial-scale=1">'


def html(body: str) -> str:
    return f"{HEAD}{VIEWPORT}</head><body><main><h1>Proef</h1>{body}</main></body></html>"


@pytest.fixture
def guarded(browser: Browser) -> Iterator[tuple[Page, BrowserGuard]]:
    """A page whose guard the test checks itself (the fixtures' guards would fail the test at teardown)."""
    context = browser.new_context()
    guard = BrowserGuard().attach(context)
    try:
        yield context.new_page(), guard
    finally:
        context.close()


def test_live_server_serves_healthz_in_chromium(live_server: str, phone: Page) -> None:
    assert live_server.startswith("http://127.0.0.1:")
    response = phone.goto("/healthz")
    assert response is not None
    assert response.status == 200
    assert response.json() == {"status": "ok"}
    assert '"status":"ok"' in phone.inner_text("body")


def test_phone_context_is_a_dutch_phone(phone: Page) -> None:
    phone.set_content(html("<p>Hallo</p>"))
    assert phone.viewport_size == {"width": 390, "height": 844}
    probe = (
        "[devicePixelRatio, navigator.language, "
        "navigator.maxTouchPoints > 0, matchMedia('(pointer: coarse)').matches]"
    )
    assert phone.evaluate(probe) == [2, "nl-NL", True, True]


def test_phone_nojs_runs_no_scripts(phone_nojs: Page) -> None:
    phone_nojs.set_content(
        html(
            '<noscript><p id="zonder">Zonder JavaScript</p></noscript><script>document.title = "js"</script>'
        )
    )
    assert phone_nojs.title() == "Proef"
    assert phone_nojs.is_visible("#zonder")


def test_axe_reports_a_missing_label(phone: Page) -> None:
    phone.set_content(html('<form><input type="text" name="naam"><button>Verstuur</button></form>'))
    with pytest.raises(
        AssertionError, match=r"label \[critical\]: .*\n    input: <input type=\"text\" name=\"naam\">"
    ):
        assert_accessible(phone, "form without label")


def test_axe_passes_a_labelled_form(phone: Page) -> None:
    phone.set_content(
        html(
            '<form><label for="naam">Naam</label><input id="naam" type="text" name="naam">'
            "<button>Verstuur</button></form>"
        )
    )
    assert_accessible(phone, "form with label")


def test_axe_loads_under_a_strict_content_security_policy(phone: Page) -> None:
    csp = f'<meta http-equiv="Content-Security-Policy" content="default-src \'self\'">{VIEWPORT}'
    phone.set_content(f"{HEAD}{csp}</head><body><main><h1>Proef</h1><p>Streng</p></main></body></html>")
    assert_accessible(phone, "strict CSP")


def test_guard_blocks_and_reports_third_party_requests(guarded: tuple[Page, BrowserGuard]) -> None:
    page, guard = guarded
    page.set_content(html('<img src="http://example.com/logo.png" alt="Logo">'))
    assert page.evaluate("document.images[0].naturalWidth") == 0  # the request was aborted
    with pytest.raises(AssertionError, match=r"third-party.*\n.*GET http://example\.com/logo\.png \(image\)"):
        guard.check_third_party()


def test_guard_allows_local_requests(guarded: tuple[Page, BrowserGuard]) -> None:
    page, guard = guarded
    page.set_content(html('<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="">'))
    guard.check_third_party()
    guard.check_errors()


def test_guard_reports_console_and_page_errors(guarded: tuple[Page, BrowserGuard]) -> None:
    page, guard = guarded
    page.set_content(html('<script>console.error("kapot"); throw new TypeError("stuk")</script>'))
    with pytest.raises(
        AssertionError, match=r"(?s)1 console error.*kapot.*1 uncaught page error.*TypeError: stuk"
    ):
        guard.check_errors()


def test_guard_tolerates_expected_console_errors(phone: Page) -> None:
    guard_of(phone).allow_console_error(r"^verwacht")
    phone.set_content(html('<script>console.error("verwacht: geen verbinding")</script>'))
    assert guard_of(phone).console_errors == []


def test_sideways_scroll_is_detected(phone: Page) -> None:
    phone.set_content(html('<div style="width: 1000px">Te breed</div>'))
    with pytest.raises(AssertionError, match=r"scrollWidth=10\d\d > viewport width=390"):
        assert_no_sideways_scroll(phone)


def test_narrow_page_has_no_sideways_scroll(phone: Page) -> None:
    phone.set_content(html("<p>Past precies</p>"))
    assert_no_sideways_scroll(phone)


def test_screenshot_writes_a_png(phone: Page) -> None:
    phone.set_content(html("<p>Foto</p>"))
    path = screenshot(phone, "harness-selftest")
    assert path.name == "harness-selftest.png"
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_page_weight_counts_the_document(live_server: str, phone: Page) -> None:
    weight = page_weight(phone, f"{live_server}/healthz")
    assert weight.by_type() == {"document": len(b'{"status":"ok"}')}
    assert weight.total == 15
    assert "/healthz" in weight.describe()
