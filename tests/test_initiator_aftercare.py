"""After publication: paper vouchers entered by the initiator (also racing), updates, payout account,
completion report, and the street poster."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import select, update

from app.db import Database
from app.kit.codes import format_code, generate_code
from app.models import AuditEvent, Initiative, NewsItem
from tests.factories import World
from tests.initiator_helpers import signed_in
from tests.pages_helpers import alert_text, form_fields, soup
from tests.race_helpers import assert_ledger_ok, pledged_cents, populate, run_together, voucher_balance


def own(db: Database, initiative_id: int, client: TestClient, email: str) -> TestClient:
    """Sign in a new initiator and make them the owner of `initiative_id`."""
    browser = signed_in(client, db, email)
    with db.write() as session:
        account_id = session.execute(
            select(Initiative.owner_account_id).where(Initiative.id == initiative_id)
        ).scalar_one_or_none()
        from app.models import Account

        owner = session.execute(select(Account.id).where(Account.email == email)).scalar_one()
        assert account_id is None
        session.execute(
            update(Initiative).where(Initiative.id == initiative_id).values(owner_account_id=owner)
        )
    return browser


def post(browser: TestClient, initiative_id: int, action: str, **values: str) -> object:
    page = browser.get(f"/my/initiatives/{initiative_id}")
    token = soup(page).find("input", attrs={"name": "csrf_token"})["value"]
    return browser.post(f"/my/initiatives/{initiative_id}/{action}", data={"csrf_token": token, **values})


def test_paper_vouchers_each_get_their_own_result(client: TestClient, db: Database, world: World) -> None:
    me = own(db, world.initiative_id, client, "ophaler@example.org")
    unknown = format_code(generate_code())  # well-formed, but no voucher has it
    codes = [
        world.codes[0],
        world.codes[1].lower().replace("-", " "),
        "AAAA-BBBB-CCCC-DD",
        world.codes[0],
        unknown,
    ]
    page = post(me, world.initiative_id, "paper-vouchers", codes="\n".join(codes))
    rows = [tr.get_text(" ", strip=True) for tr in soup(page).select("#paper-results ~ div tbody tr")]
    assert len(rows) == 5
    assert "€ 7,50 gegeven" in rows[0] and "€ 7,50 gegeven" in rows[1]
    assert "geen geldige vouchercode" in rows[2]
    assert "al helemaal gegeven" in rows[3]
    assert "kennen we niet" in rows[4]
    assert world.codes[0] not in page.text, "codes are shown masked"
    assert pledged_cents(db, world.initiative_id) == 1_500
    with db.read() as session:
        audit = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "initiative.paper_vouchers")
        ).one()
    assert world.codes[0] not in str(audit.after)
    assert_ledger_ok(db)


def test_too_many_codes_or_none_are_refused(client: TestClient, db: Database, world: World) -> None:
    me = own(db, world.initiative_id, client, "veel@example.org")
    assert post(me, world.initiative_id, "paper-vouchers", codes="  \n ").status_code == 422
    many = "\n".join(["AAAA-BBBB-CCCC-DD"] * 51)
    answer = post(me, world.initiative_id, "paper-vouchers", codes=many)
    assert answer.status_code == 422
    assert "hoogstens 50" in alert_text(answer)


@pytest.mark.race
def test_two_initiators_entering_the_same_paper_vouchers_spend_each_once(
    client: TestClient, db: Database, settings: object
) -> None:
    setup = populate(db, settings, households=12, targets=[50_000, 50_000])  # type: ignore[arg-type]
    first, second = setup.initiative_ids
    a = own(db, first, client, "a@example.org")
    b = own(db, second, client, "b@example.org")
    codes = "\n".join(setup.codes)
    results = run_together(2, lambda i: post((a, b)[i], (first, second)[i], "paper-vouchers", codes=codes))
    assert not [r for r in results if isinstance(r, BaseException)]
    assert pledged_cents(db, first) + pledged_cents(db, second) == 12 * 750
    assert all(voucher_balance(db, code) == 0 for code in setup.codes)
    assert_ledger_ok(db)


def test_payout_account_is_validated_and_kept_compact(client: TestClient, db: Database, world: World) -> None:
    me = own(db, world.initiative_id, client, "geld@example.org")
    with db.write() as session:
        session.execute(
            update(Initiative).where(Initiative.id == world.initiative_id).values(status="funded")
        )
    wrong = post(me, world.initiative_id, "payout", iban="NL91 ABNA 0417 1643 01", holder="Stichting Buurt")
    assert wrong.status_code == 422 and "IBAN klopt niet" in alert_text(wrong)
    right = post(me, world.initiative_id, "payout", iban="nl91 abna 0417 1643 00", holder="Stichting Buurt")
    assert right.status_code == 200
    with db.read() as session:
        row = session.execute(select(Initiative).where(Initiative.id == world.initiative_id)).scalar_one()
    assert (row.payout_iban, row.payout_account_holder) == ("NL91ABNA0417164300", "Stichting Buurt")


def test_updates_and_completion_become_news(client: TestClient, db: Database, world: World) -> None:
    me = own(db, world.initiative_id, client, "nieuws@example.org")
    assert (
        post(
            me, world.initiative_id, "updates", title="De bankjes zijn besteld", body="Volgende week!"
        ).status_code
        == 200
    )
    refused = post(me, world.initiative_id, "complete", report="Het is gelukt en iedereen was blij.")
    assert refused.status_code == 409
    with db.write() as session:
        session.execute(
            update(Initiative).where(Initiative.id == world.initiative_id).values(status="funded")
        )
    done = post(me, world.initiative_id, "complete", report="Het is gelukt en iedereen was blij.")
    assert done.status_code == 200
    with db.read() as session:
        kinds = session.scalars(
            select(NewsItem.kind).where(NewsItem.initiative_id == world.initiative_id)
        ).all()
        status = session.scalar(select(Initiative.status).where(Initiative.id == world.initiative_id))
    assert sorted(kinds) == ["completed", "published", "update"]
    assert status == "completed"
    area_page = client.get("/areas/BU01411000")
    assert "De bankjes zijn besteld" in soup(area_page).get_text(" ", strip=True)
    initiative_page = soup(client.get(f"/initiatives/{world.initiative_id}")).get_text(" ", strip=True)
    assert "De bankjes zijn besteld" in initiative_page and "iedereen was blij" in initiative_page


def test_poster_is_a_pdf_with_the_title_and_link(client: TestClient, world: World) -> None:
    answer = client.get(f"/initiatives/{world.initiative_id}/poster.pdf")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(answer.content))
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    assert "Nieuwe bankjes in het park" in text
    assert f"/initiatives/{world.initiative_id}" in text
    assert client.get("/initiatives/999999/poster.pdf").status_code == 404


def test_aftercare_needs_the_owner(client: TestClient, db: Database, world: World) -> None:
    stranger = signed_in(client, db, "vreemd@example.org")
    token = form_fields(stranger.get("/my/initiatives/new"), "/my/initiatives/new")["csrf_token"]
    for action in ("paper-vouchers", "updates", "payout", "complete"):
        answer = stranger.post(
            f"/my/initiatives/{world.initiative_id}/{action}",
            data={"csrf_token": token, "codes": world.codes[0], "title": "x", "body": "y", "iban": "x"},
        )
        assert answer.status_code == 404, action
    assert voucher_balance(db, world.codes[0]) == 750
