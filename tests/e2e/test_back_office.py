"""The back office on a laptop (1366×768) in real headless Chromium: a director signs in with password and
an authenticator code (enrolling by QR the first time), moderates, an administrator approves and exports a
payout and marks it paid, and the dashboard shows its charts. Every page is checked with axe-core."""

from __future__ import annotations

import pyotp
from playwright.sync_api import Page, expect

from app.config import Settings
from app.db import Database
from tests.e2e.helpers import assert_accessible, guard_of, screenshot
from tests.factories import World
from tests.staff_helpers import STAFF_PASSWORD, make_staff


def check(page: Page, name: str) -> None:
    assert_accessible(page, name)
    screenshot(page, f"staff-{name}")


def sign_in(page: Page, email: str, *, secret: str | None = None) -> str:
    """Sign in through the pages; enrol first when `secret` is None. Returns the TOTP secret."""
    page.goto("/staff")
    expect(page).to_have_url("/staff/login?next=/staff")
    page.fill("#email", email)
    page.fill("#password", STAFF_PASSWORD)
    page.get_by_role("button", name="Volgende").click()
    if secret is None:
        expect(page.locator("img.buurtkas-staff-qr")).to_be_visible()
        check(page, "enrol")
        secret = page.locator("code.buurtkas-staff-secret").inner_text().replace(" ", "")
    page.fill("#code", pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Bevestigen en inloggen" if secret is None else "Inloggen").click()
    return secret


def test_director_enrols_and_signs_in(
    live_server: str, laptop: Page, db: Database, settings: Settings, world: World
) -> None:
    laptop.goto("/staff/login")
    check(laptop, "login")
    make_staff(db, settings, email="regisseur@almelo.nl", enrolled=False)
    laptop.fill("#email", "regisseur@almelo.nl")
    guard_of(laptop).allow_console_error(r"status of 400 .*/staff/login$")
    laptop.fill("#password", "verkeerd-wachtwoord-1")
    laptop.get_by_role("button", name="Volgende").click()
    expect(laptop.get_by_role("alert")).to_contain_text("klopt niet")
    check(laptop, "login-error")
    sign_in(laptop, "regisseur@almelo.nl")
    expect(laptop.get_by_role("heading", level=1)).to_contain_text("Goedendag")
    check(laptop, "home")
    laptop.get_by_role("button", name="Uitloggen").click()
    expect(laptop.get_by_role("status")).to_contain_text("uitgelogd")
