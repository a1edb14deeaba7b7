"""The back office on a laptop (1366×768) in real headless Chromium: a director signs in with password and
an authenticator code (enrolling by QR the first time), moderates, an administrator approves and exports a
payout and marks it paid, and the dashboard shows its charts. Every page is checked with axe-core."""

from __future__ import annotations

import pyotp
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.config import Settings
from app.db import Database
from app.initiatives.service import transition
from app.kit.clock import today
from app.ledger.verify import verify_ledger
from app.models import Initiative, InitiativeStatus, Payout, PayoutStatus
from tests.e2e.conftest import LAPTOP, ContextFactory
from tests.e2e.helpers import assert_accessible, guard_of, screenshot
from tests.factories import World, make_initiative
from tests.payout_helpers import DEBTOR, funded
from tests.staff_helpers import STAFF_PASSWORD, TOTP_SECRET, make_staff


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The municipality's own account is set, so payouts can be exported."""
    return settings.model_copy(update=DEBTOR)


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
    enrolling = page.locator("img.buurtkas-staff-qr").count() > 0
    page.get_by_role("button", name="Bevestigen en inloggen" if enrolling else "Inloggen").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Goedendag")
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
    check(laptop, "home")
    laptop.get_by_role("button", name="Uitloggen").click()
    expect(laptop.get_by_role("status")).to_contain_text("uitgelogd")


def test_payout_from_approval_to_paid_and_the_dashboard(
    live_server: str,
    new_phone: ContextFactory,
    client: TestClient,
    db: Database,
    settings: Settings,
    world: World,
) -> None:
    initiative_id = funded(client, db, settings, world.codes[:7], title="Bankjes bij de Schelf")
    director_id = make_staff(db, settings, email="regisseur@almelo.nl")
    admin_id = make_staff(db, settings, email="beheer@almelo.nl", role="admin", wijken=())
    assert director_id != admin_id

    director = new_phone(**LAPTOP)
    sign_in(director, "regisseur@almelo.nl", secret=TOTP_SECRET)
    director.get_by_role("link", name="Uitbetalingen").first.click()
    expect(director.get_by_role("link", name="Bankjes bij de Schelf")).to_be_visible()
    check(director, "payouts")
    director.get_by_role("link", name="Bankjes bij de Schelf").click()
    check(director, "payout-detail")
    director.get_by_role("button", name="Keur uitbetaling").click()
    expect(director.get_by_role("status").or_(director.get_by_role("alert")).first).to_be_visible()
    with db.read() as session:
        payout = session.scalar(select(Payout).where(Payout.initiative_id == initiative_id))
        assert payout is not None and payout.status == PayoutStatus.approved

    admin = new_phone(**LAPTOP)
    sign_in(admin, "beheer@almelo.nl", secret=TOTP_SECRET)
    admin.goto("/staff/payouts")
    admin.get_by_role("button", name="Maak betaalbestand").click()
    expect(admin.get_by_role("link", name="SEPA (XML)").first).to_be_visible()
    check(admin, "payouts-exported")
    admin.get_by_role("button", name="als betaald").first.click()
    with db.read() as session:
        payout = session.scalar(select(Payout).where(Payout.initiative_id == initiative_id))
        assert payout is not None and payout.status == PayoutStatus.paid
        assert verify_ledger(session).ok

    admin.goto("/staff/dashboard")
    expect(admin.locator("svg[role=img]").first).to_be_visible()
    check(admin, "dashboard")
    admin.goto("/staff/audit")
    expect(admin.get_by_text("payout.paid").first).to_be_visible()
    check(admin, "audit")
    admin.goto("/staff/members")
    check(admin, "members")
    admin.goto("/staff/members/new")
    check(admin, "member-new")


def test_director_moderates_the_queue(
    live_server: str, laptop: Page, db: Database, settings: Settings, world: World
) -> None:
    with db.write() as session:
        initiative_id = make_initiative(
            session, settings, publish=False, title="Moestuin achter het wijkcentrum"
        )
        transition(session, initiative_id, InitiativeStatus.submitted, actor="test", today=today())
    make_staff(db, settings, email="regisseur@almelo.nl")
    sign_in(laptop, "regisseur@almelo.nl", secret=TOTP_SECRET)
    laptop.get_by_role("link", name="Initiatieven").first.click()
    check(laptop, "queue")
    laptop.get_by_role("link", name="Moestuin achter het wijkcentrum").first.click()
    check(laptop, "moderate")
    laptop.get_by_role("button", name="Goedkeuren en publiceren").click()
    expect(laptop.get_by_role("status").or_(laptop.get_by_role("alert")).first).to_be_visible()
    check(laptop, "moderated")
    with db.read() as session:
        assert session.scalar(select(Initiative.status).where(Initiative.id == initiative_id)) == "published"
    laptop.goto("/staff/initiatives/new")
    check(laptop, "on-behalf")
    laptop.goto("/staff/news")
    check(laptop, "news")
    laptop.goto("/staff/news/new")
    check(laptop, "news-new")
    laptop.goto("/staff/vouchers")
    check(laptop, "vouchers")
