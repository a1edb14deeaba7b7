"""The initiator on a phone in real Chromium: sign up, verify from the mail, write an initiative with a photo,
submit it; every page axe-clean and fitting the screen. XSS payloads typed into every text field never run
when the initiative is shown to the initiator or, once published, to the public."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.db import Database
from app.initiatives.service import transition
from app.kit.clock import today
from app.models import InitiativeStatus, OutboxMessage
from tests.e2e.helpers import assert_accessible, assert_no_sideways_scroll, screenshot
from tests.factories import World

PASSWORD = "paars-fietsje-7-bomen"
PAYLOADS = [
    "<script>window.__xss=1</script>",
    '"><img src=x onerror="window.__xss=1">',
    "<svg onload=window.__xss=1>",
    "[klik](javascript:window.__xss=1)",
    '<a href="javascript:window.__xss=1">klik</a>',
]


def newest_link(db: Database, base: str, prefix: str) -> str:
    with db.read() as session:
        mail = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert mail is not None
    found = re.search(rf"{re.escape(base)}({re.escape(prefix)}[A-Za-z0-9_-]+)", mail.text_body)
    assert found, mail.text_body
    return found.group(1)


def photo_file(tmp_path: Path) -> Path:
    path = tmp_path / "bankje.jpg"
    Image.new("RGB", (1200, 900), (90, 140, 60)).save(path, "JPEG")
    return path


def check(page: Page, name: str) -> None:
    assert_no_sideways_scroll(page)
    assert_accessible(page, name)


def test_initiator_whole_path_with_hostile_text(
    live_server: str, phone: Page, world: World, db: Database, tmp_path: Path
) -> None:
    dialogs: list[str] = []
    phone.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    for name, path in (("login", "/login"), ("forgot-password", "/password/forgot")):
        phone.goto(path)
        check(phone, name)
    phone.goto("/signup")
    check(phone, "signup")
    phone.fill("input[name=email]", "joyce@example.org")
    phone.fill("input[name=password]", PASSWORD)
    phone.locator("form[action='/signup'] button[type=submit]").click()
    check(phone, "signup-sent")
    phone.goto(newest_link(db, live_server, "/verify/"))
    check(phone, "verify-confirm")
    phone.locator("main form button[type=submit]").click()
    phone.goto("/my")
    check(phone, "my-initiatives")

    phone.goto("/my/initiatives/new")
    check(phone, "initiative-form")
    hostile = " ".join(PAYLOADS)
    phone.fill("#f-title", ("Bankjes " + PAYLOADS[1])[:120])
    phone.fill("#f-summary", "Samen zitten. " + PAYLOADS[0])
    phone.fill("#f-description", "Het plan.\n\n" + hostile)
    phone.select_option("#f-category", "ontmoeten")
    phone.select_option("#f-area", "BU01411000")
    phone.fill("#f-target", "500")
    phone.fill("#f-deadline", (today() + timedelta(days=30)).isoformat())
    phone.fill("#line-text-0", "Bankjes " + PAYLOADS[2])
    phone.fill("#line-amount-0", "500")
    phone.fill("#f-initiator_name", "Joyce " + PAYLOADS[4][:60])
    phone.fill("#org-name-0", "Piet " + PAYLOADS[0][:40])
    phone.fill("#org-email-0", "piet@example.org")
    screenshot(phone, "initiator-1-form")
    phone.get_by_role("button", name="Opslaan").click()
    expect(phone.locator("h1")).to_contain_text("Bankjes")
    check(phone, "initiative-overview")

    phone.set_input_files("#photo", str(photo_file(tmp_path)))
    phone.fill("#alt_text", "Een groen bankje " + PAYLOADS[1][:40])
    phone.get_by_role("button", name="Foto toevoegen").click()
    expect(phone.locator(".buurtkas-card__photo")).to_have_count(1)
    phone.get_by_role("button", name="Indienen bij de wijkregisseur").click()
    expect(phone.locator("main")).to_contain_text("Ingediend")
    screenshot(phone, "initiator-2-submitted")
    check(phone, "initiative-submitted")

    initiative_id = int(phone.url.rstrip("/").rsplit("/", 1)[1])
    with db.write() as session:  # the wijkregisseur publishes it (the back office is another issue)
        transition(session, initiative_id, InitiativeStatus.published, actor="staff:test", today=today())
    for path in (f"/initiatives/{initiative_id}", "/initiatives", f"/my/initiatives/{initiative_id}"):
        phone.goto(path)
        phone.wait_for_load_state("load")
        assert phone.evaluate("window.__xss === undefined"), f"a payload ran on {path}"
        assert (
            phone.locator("main script, main [onerror], main [onload], main a[href^='javascript:']").count()
            == 0
        )
    check(phone, "initiative-public-with-payloads")
    screenshot(phone, "initiator-3-public")
    assert dialogs == []
