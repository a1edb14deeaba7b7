"""The household on a phone (390×844) in real headless Chromium: from the QR link to the receipt, with
JavaScript on and off; every public page accessible (axe-core, WCAG 2.1 A/AA), never scrolling sideways,
under 100 KB of HTML+CSS+JS, and loading nothing from other sites (the guard in conftest checks that).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from app.db import Database
from app.demo.pictures import picture
from app.initiatives.photos import store_photo
from app.models import NewsKind
from app.models.base import utcnow
from app.news.service import post_news
from tests.e2e.helpers import (
    assert_accessible,
    assert_no_sideways_scroll,
    guard_of,
    page_weight,
    screenshot,
)
from tests.factories import World

PAGE_BUDGET = 100 * 1024


@pytest.fixture
def rich_world(world: World, db: Database) -> World:
    """The small world with a photo, a budget and news, so every part of the pages is on screen."""
    with db.write() as session:
        image, alt = picture("spelen", seed=1)
        store_photo(
            session,
            world.settings.media_dir,
            initiative_id=world.initiative_id,
            position=0,
            image=image,
            alt_text=alt,
        )
        post_news(
            session,
            area_id=1,
            kind=NewsKind.post,
            title="De Buurtkas is open",
            body="Elk huishouden krijgt een **voucher**.",
            published_at=utcnow() - timedelta(days=1),
        )
    return world


def walk_to_receipt(page: Page, code: str, *, shots: str | None) -> None:
    page.goto(f"/v/{code}")
    assert page.url.endswith("/voucher"), page.url
    assert code not in page.url
    expect(page.locator(".buurtkas-balance")).to_have_text("€ 7,50")
    if shots:
        screenshot(page, f"{shots}-1-voucher")
    page.locator("a[href$='/give']").first.click()
    amount = page.locator("#amount")
    expect(amount).to_have_value("7,50")
    amount.fill("5")
    if shots:
        screenshot(page, f"{shots}-2-amount")
    page.get_by_role("button", name="Verder").click()
    expect(page.locator("h1")).to_have_text("Klopt dit?")
    if shots:
        screenshot(page, f"{shots}-3-confirm")
    page.get_by_role("button", name="Ja, geef € 5,00").click()
    expect(page.locator("h1")).to_have_text("Dank u wel!")
    assert "/receipts/" in page.url
    expect(page.locator("main")).to_contain_text("Er staat nog € 2,50 op uw voucher.")
    if shots:
        screenshot(page, f"{shots}-4-receipt")


def test_whole_flow_with_javascript(live_server: str, phone: Page, world: World) -> None:
    guard_of(phone).allow_console_error(r"status of 409")
    walk_to_receipt(phone, world.codes[0], shots="flow")
    phone.go_back()  # the browser's back button shows the confirm page again; sending it gives nothing more
    if phone.locator("button[data-once]").count():
        phone.locator("button[data-once]").click()
        expect(phone.locator("h1")).to_have_text("Dank u wel!")
    phone.goto("/voucher")
    expect(phone.locator(".buurtkas-balance")).to_have_text("€ 2,50")


def test_whole_flow_without_javascript(live_server: str, phone_nojs: Page, world: World) -> None:
    walk_to_receipt(phone_nojs, world.codes[1], shots="nojs")


def test_wrong_code_is_explained_on_the_same_page(live_server: str, phone: Page, world: World) -> None:
    guard_of(phone).allow_console_error(r"status of 4(04|09|22)")
    phone.goto("/voucher")
    phone.fill("#code", "k7qm 2xhd 9rtw fa")
    phone.get_by_role("button", name="Bekijk mijn voucher").click()
    expect(phone.locator("#code-error")).to_be_visible()
    expect(phone.locator("#code")).to_have_value("k7qm 2xhd 9rtw fa")
    assert_accessible(phone, "voucher-wrong-code")
    screenshot(phone, "voucher-wrong-code")


def _public_pages(world: World) -> list[tuple[str, str]]:
    return [
        ("home", "/"),
        ("voucher-form", "/voucher"),
        ("initiatives", "/initiatives"),
        ("initiatives-filtered", "/initiatives?area=WK014110&filter=nearly&show=all"),
        ("initiative", f"/initiatives/{world.initiative_id}"),
        ("give-without-voucher", f"/initiatives/{world.initiative_id}/give"),
        ("areas", "/areas"),
        ("area-wijk", "/areas/WK014110"),
        ("area-buurt", "/areas/BU01411000"),
        ("area-news", "/areas/BU01411000/news"),
        ("results", "/results"),
        ("not-found", "/initiatives/999999"),
    ]


@pytest.mark.parametrize("language", ["nl", "en"])
def test_public_pages_are_accessible_light_and_fit_the_phone(
    live_server: str, phone: Page, rich_world: World, language: str
) -> None:
    guard_of(phone).allow_console_error(r"status of 404")
    if language == "en":
        phone.goto("/lang/en")
    for name, path in _public_pages(rich_world):
        weight = page_weight(phone, path)
        assert weight.total < PAGE_BUDGET, f"{path}: {weight.describe()}"
        assert phone.locator("html").get_attribute("lang") == language
        assert_no_sideways_scroll(phone)
        assert_accessible(phone, f"{name}-{language}")


def test_flow_pages_are_accessible(live_server: str, phone: Page, rich_world: World) -> None:
    """The pages only a household with a voucher sees: voucher, amount, confirm, receipt."""
    phone.goto(f"/v/{rich_world.codes[2]}")
    steps = ["voucher"]
    assert_accessible(phone, "voucher")
    assert_no_sideways_scroll(phone)
    phone.goto(f"/initiatives/{rich_world.initiative_id}/give")
    assert_accessible(phone, "amount")
    phone.get_by_role("button", name="Verder").click()
    assert_accessible(phone, "confirm")
    assert_no_sideways_scroll(phone)
    phone.locator("button[data-once]").click()
    expect(phone.locator("h1")).to_have_text("Dank u wel!")
    assert_accessible(phone, "receipt")
    assert_no_sideways_scroll(phone)
    steps.append("receipt")
    assert steps == ["voucher", "receipt"]
