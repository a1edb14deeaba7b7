"""A donor on a phone (390×844) in real Chromium: from the initiative to Stripe's payment page (the local
fake) and back, thanked once the signed webhook has booked the payment, then named on the initiative.
The donate form and the status page are axe-clean and fit the screen; no page loads Stripe's JavaScript."""

from __future__ import annotations

import re
import socket
import time

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.config import Settings
from app.db import Database
from app.models import Donation, DonationStatus
from tests.e2e.helpers import assert_accessible, assert_no_sideways_scroll, guard_of, screenshot
from tests.factories import World
from tests.stripe_fake import StripeFake
from tests.stripe_fixtures import stripe_settings

THANKS_WITHIN_SECONDS = 10.0


@pytest.fixture
def settings(database_url: str, live_socket: socket.socket, stripe: StripeFake) -> Settings:
    """Donations on, against the local fake; base_url is the live server's, so Stripe sends donors back."""
    host, port = live_socket.getsockname()
    return stripe_settings(database_url, stripe, base_url=f"http://{host}:{port}")


@pytest.fixture
def webhooks(live_server: str, stripe: StripeFake) -> StripeFake:
    stripe.send_webhooks_to(f"{live_server}/webhooks/stripe")
    return stripe


def check(page: Page, name: str) -> None:
    assert_no_sideways_scroll(page)
    assert_accessible(page, name)
    screenshot(page, name)


def assert_own_scripts_only(page: Page, live_server: str) -> None:
    """No Stripe.js, no inline script: only the site's own small enhancement script."""
    sources = page.eval_on_selector_all("script", "nodes => nodes.map(n => n.src || 'inline')")
    assert all(src.startswith(f"{live_server}/static/js/") for src in sources), sources


def wait_for_thanks(page: Page) -> None:
    """The status page refreshes itself every 5 s; reloading sooner keeps the test short."""
    deadline = time.monotonic() + THANKS_WITHIN_SECONDS
    heading = page.locator("h1")
    while heading.inner_text() != "Dank u wel!":
        assert time.monotonic() < deadline, f"still {heading.inner_text()!r} on {page.url}"
        time.sleep(0.5)
        page.reload()


def test_donor_gives_ten_euros_and_is_named(
    live_server: str, phone: Page, world: World, db: Database, webhooks: StripeFake
) -> None:
    phone.goto(f"/initiatives/{world.initiative_id}")
    phone.get_by_role("link", name="Doneer extra").click()
    expect(phone.locator("h1")).to_have_text("Doneer extra")
    assert phone.url == f"{live_server}/initiatives/{world.initiative_id}/donate"
    assert_own_scripts_only(phone, live_server)
    check(phone, "donor-1-form")

    phone.get_by_label("€ 10,00").check()
    phone.get_by_label("Naam tonen (niet verplicht)").fill("Bakkerij Jansen")
    screenshot(phone, "donor-2-filled")
    phone.get_by_role("button", name="Naar betalen").click()

    phone.wait_for_url(re.compile(rf"^{re.escape(webhooks.api_base)}/pay/cs_test_\w+$"))
    expect(phone.locator("main")).to_contain_text("EUR 10.00")
    phone.get_by_role("button", name="Pay").click()

    phone.wait_for_url(re.compile(rf"^{re.escape(live_server)}/donations/[A-Za-z0-9_-]+$"))
    public_id = phone.url.rsplit("/", 1)[1]
    wait_for_thanks(phone)
    expect(phone.locator("[role=status]")).to_contain_text("Uw donatie van € 10,00 is binnen.")
    assert_own_scripts_only(phone, live_server)
    check(phone, "donor-3-thanks")
    with db.read() as session:
        donation = session.execute(select(Donation).where(Donation.public_id == public_id)).scalar_one()
    assert (donation.status, donation.amount_cents, donation.donor_name) == (
        DonationStatus.paid,
        1_000,
        "Bakkerij Jansen",
    )

    phone.get_by_role("link", name="Terug naar het initiatief").click()
    expect(phone.locator(".buurtkas-donors")).to_have_text("Gedoneerd door: Bakkerij Jansen")
    expect(phone.locator("section[aria-labelledby=money-heading]")).to_contain_text(
        "Waarvan € 10,00 van donateurs"
    )
    check(phone, "donor-4-initiative")


def test_form_errors_and_the_waiting_page_on_a_phone(
    live_server: str, phone: Page, world: World, db: Database, stripe: StripeFake
) -> None:
    """A refused amount is explained at the field; a donor who leaves Stripe's page sees the calm notice;
    a payment not yet confirmed shows the waiting page (no webhooks are sent in this test)."""
    guard_of(phone).allow_console_error(r"status of 422")
    phone.goto(f"/initiatives/{world.initiative_id}/donate")
    phone.get_by_label("Of een ander bedrag in euro").fill("600")
    phone.get_by_role("button", name="Naar betalen").click()
    expect(phone.locator("#amount-error")).to_have_text("Kies een bedrag van € 1,00 tot € 500,00.")
    expect(phone.locator("#amount_other")).to_have_value("600")
    check(phone, "donor-5-error")

    phone.get_by_label("Of een ander bedrag in euro").fill("12,50")
    phone.get_by_role("button", name="Naar betalen").click()
    phone.wait_for_url(re.compile(rf"^{re.escape(stripe.api_base)}/pay/"))
    phone.get_by_role("button", name="Back").click()
    phone.wait_for_url(f"{live_server}/initiatives/{world.initiative_id}/donate?cancelled=1")
    expect(phone.locator("[role=status]")).to_contain_text("Er is niets afgeschreven.")
    check(phone, "donor-6-cancelled")

    with db.read() as session:
        public_id = session.scalars(select(Donation.public_id).order_by(Donation.id.desc())).first()
    phone.goto(f"/donations/{public_id}")
    expect(phone.locator("h1")).to_have_text("We wachten op de bevestiging van uw betaling")
    expect(phone.locator("meta[http-equiv=refresh]")).to_have_attribute("content", "5")
    # axe counts any timed refresh against WCAG 2.2.1, so the page offers to switch it off; that page is
    # the one checked here.
    phone.get_by_role("link", name="Niet meer vanzelf verversen").click()
    expect(phone.locator("meta[http-equiv=refresh]")).to_have_count(0)
    expect(phone.locator("h1")).to_have_text("We wachten op de bevestiging van uw betaling")
    check(phone, "donor-7-waiting")
