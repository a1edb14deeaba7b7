"""Payouts of funded initiatives: approve, SEPA file and CSV, mark paid; the ledger follows, the log records,
the initiator hears; and a director of another wijk can do none of it."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import UTC
from decimal import Decimal

import xmlschema
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, text, update

from app.config import Settings
from app.db import Database
from app.ledger.verify import verify_ledger
from app.mail.sender import send_due
from app.models import AuditEvent, Initiative, LedgerAccount, LedgerTransfer, Payout, PayoutBatch
from app.payouts.sepa import NAMESPACE
from tests.dbstate import assert_ledger_ok, diff, snapshot
from tests.factories import World
from tests.initiator_helpers import signed_in
from tests.mailserver import MailServer
from tests.pages_helpers import alert_text, form_fields
from tests.payout_helpers import (
    GOOD_IBAN,
    XSD,
    csrf,
    funded,
    payout_of,
    payout_transfers,
    staff,
    with_debtor,
)

NS = {"p": NAMESPACE}
VOLATILE = ("rate_counters", "staff_sessions", "audit_events")


def approve(browser: TestClient, initiative_id: int) -> object:
    page = browser.get(f"/staff/payouts/initiatives/{initiative_id}")
    assert page.status_code == 200, page.text
    action = f"/staff/payouts/initiatives/{initiative_id}/approve"
    return browser.post(action, data=form_fields(page, action), follow_redirects=False)


def export(browser: TestClient) -> object:
    page = browser.get("/staff/payouts")
    return browser.post(
        "/staff/payouts/export", data=form_fields(page, "/staff/payouts/export"), follow_redirects=False
    )


def actions(db: Database) -> list[str]:
    with db.read() as session:
        return list(
            session.scalars(
                select(AuditEvent.action).where(AuditEvent.action.like("payout.%")).order_by(AuditEvent.id)
            )
        )


def test_approve_export_and_pay_with_the_ledger_following(
    client: TestClient, db: Database, world: World, smtp_server: MailServer
) -> None:
    settings = with_debtor(client, smtp_url=smtp_server.url)
    people = staff(client, db, settings)
    signed_in(client, db, "initiatiefnemer@example.org")
    centrum = funded(client, db, settings, world.codes[0:7], title="Bankjes Centrum")
    noord = funded(
        client,
        db,
        settings,
        world.codes[7:15],
        title="Speeltuin Noord",
        area_code="BU01411800",
        holder="Ömer Dağ",
    )
    with db.write() as session:
        account_id = session.scalar(
            text("SELECT id FROM accounts WHERE email = 'initiatiefnemer@example.org'")
        )
        session.execute(
            update(Initiative).where(Initiative.id == centrum).values(owner_account_id=account_id)
        )

    # The list masks the IBAN; the detail page shows it whole for the check before approving.
    listing = people.binnenstad.get("/staff/payouts")
    assert listing.status_code == 200
    assert "Bankjes Centrum" in listing.text and "Speeltuin Noord" not in listing.text
    assert "NL** **** **** 4300" in listing.text and GOOD_IBAN not in listing.text
    assert "NL91 ABNA 0417 1643 00" in people.binnenstad.get(f"/staff/payouts/initiatives/{centrum}").text

    assert approve(people.binnenstad, centrum).status_code == 303
    assert approve(people.admin, noord).status_code == 303
    shown = people.binnenstad.get(f"/staff/payouts/initiatives/{centrum}")
    assert "is goedgekeurd" in shown.text and "Goedgekeurd" in shown.text
    assert (
        people.binnenstad.get("/staff/payouts?status=approved").text.count("/staff/payouts/initiatives/") == 1
    )

    answer = export(people.admin)
    assert answer.status_code == 303, answer.text
    with db.read() as session:
        batch = session.scalars(select(PayoutBatch)).one()
        payouts = session.scalars(select(Payout).order_by(Payout.id)).all()
    assert [p.status for p in payouts] == ["exported", "exported"]
    assert {p.batch_id for p in payouts} == {batch.id}
    assert [p.amount_cents for p in payouts] == [5_250, 6_000]

    xml = people.admin.get(f"/staff/payouts/batches/{batch.id}.xml")
    assert xml.status_code == 200
    assert xml.headers["content-type"].startswith("application/xml")
    assert xml.headers["content-disposition"].startswith("attachment;")
    xmlschema.XMLSchema(str(XSD)).validate(xml.text)  # our own check, independent of sepaxml's
    root = ET.fromstring(xml.content)
    header = root.find("p:CstmrCdtTrfInitn/p:GrpHdr", NS)
    assert header is not None
    assert header.findtext("p:MsgId", namespaces=NS) == batch.message_id
    assert header.findtext("p:NbOfTxs", namespaces=NS) == "2"
    assert Decimal(header.findtext("p:CtrlSum", namespaces=NS) or "") == Decimal("112.50")
    amounts = [Decimal(node.text or "") for node in root.iterfind(".//p:CdtTrfTxInf/p:Amt/p:InstdAmt", NS)]
    assert sum(amounts) == Decimal("112.50")
    end_to_end = [node.text for node in root.iterfind(".//p:CdtTrfTxInf/p:PmtId/p:EndToEndId", NS)]
    assert end_to_end == [p.end_to_end_id for p in payouts]
    assert "Omer Dag" in xml.text  # transliterated for the bank
    assert people.admin.get(f"/staff/payouts/batches/{batch.id}.xml").content == xml.content

    sheet = people.admin.get(f"/staff/payouts/batches/{batch.id}.csv")
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(sheet.text)))
    assert [r["end_to_end_id"] for r in rows] == end_to_end
    assert sum(int(r["amount_cents"]) for r in rows) == 11_250
    assert sum(Decimal(r["amount_eur"]) for r in rows) == Decimal("112.50")
    assert rows[1]["account_holder"] == "Ömer Dağ" and rows[0]["iban"] == GOOD_IBAN
    assert rows[0]["initiative_title"] == "Bankjes Centrum" and rows[0]["approved_by"] == "Binnenstad"
    assert people.admin.get(f"/staff/payouts/batches/{batch.id}.csv").content == sheet.content

    page = people.admin.get("/staff/payouts")
    action = f"/staff/payouts/batches/{batch.id}/paid"
    assert (
        people.admin.post(action, data=form_fields(page, action), follow_redirects=False).status_code == 303
    )
    again = people.admin.post(action, data={"csrf_token": csrf(people.admin)}, follow_redirects=False)
    assert again.status_code == 303
    assert "al eerder als betaald" in people.admin.get("/staff/payouts").text
    assert payout_transfers(db) == 2

    with db.read() as session:
        assert verify_ledger(session).ok, verify_ledger(session).violations
        paid = session.execute(
            select(Initiative.id, Initiative.paid_out_cents).where(Initiative.id.in_([centrum, noord]))
        )
        assert dict(paid.all()) == {centrum: 5_250, noord: 6_000}
        payout_account = session.scalars(
            select(LedgerAccount).where(LedgerAccount.system_key == "payout")
        ).one()
        assert payout_account.balance_cents == 11_250 and payout_account.kind == "payout"
        assert session.scalars(select(Payout.status)).all() == ["paid", "paid"]
    assert_ledger_ok(db)
    assert actions(db) == [
        "payout.approved",
        "payout.approved",
        "payout.exported",
        "payout.paid",
        "payout.paid",
    ]

    send_due(db, settings)
    smtp_server.wait_for(2)
    payout_mails = [m for m in smtp_server.messages if m["Subject"].startswith("Uitbetaald")]
    assert [m["Subject"] for m in payout_mails] == [
        "Uitbetaald: Bankjes Centrum"
    ]  # Noord has no owner account
    assert payout_mails[0]["To"] == "initiatiefnemer@example.org"


def test_one_payout_paid_on_its_own_and_twice_moves_money_once(
    client: TestClient, db: Database, world: World
) -> None:
    settings = with_debtor(client)
    people = staff(client, db, settings)
    centrum = funded(client, db, settings, world.codes[0:7], title="Bankjes")
    assert approve(people.admin, centrum).status_code == 303
    payout = payout_of(db, centrum)
    assert payout is not None
    token = csrf(people.admin)
    early = people.admin.post(f"/staff/payouts/{payout.id}/paid", data={"csrf_token": token})
    assert early.status_code == 409 and "Exporteer eerst" in alert_text(early)
    assert export(people.admin).status_code == 303
    for _ in range(2):
        answer = people.admin.post(
            f"/staff/payouts/{payout.id}/paid", data={"csrf_token": token}, follow_redirects=False
        )
        assert answer.status_code == 303
    assert payout_transfers(db) == 1
    assert actions(db).count("payout.paid") == 1
    assert_ledger_ok(db)


def test_refusals_are_clear_and_change_nothing(client: TestClient, db: Database, world: World) -> None:
    people = staff(client, db, client.app.state.settings)  # type: ignore[attr-defined]
    settings = client.app.state.settings  # type: ignore[attr-defined]
    no_iban = funded(client, db, settings, world.codes[0:7], title="Zonder rekening", iban=None)
    bad_iban = funded(
        client, db, settings, world.codes[7:14], title="Fout rekening", iban="NL00ABNA0000000000"
    )
    ready = funded(client, db, settings, world.codes[14:21], title="Klaar")
    token = csrf(people.admin)

    def post(path: str, browser: TestClient = people.admin) -> object:
        return browser.post(path, data={"csrf_token": token if browser is people.admin else csrf(browser)})

    before = snapshot(db, skip=VOLATILE)
    for initiative_id in (no_iban, bad_iban):
        answer = post(f"/staff/payouts/initiatives/{initiative_id}/approve")
        assert answer.status_code == 409 and "nog geen (geldig) IBAN" in alert_text(answer)
    not_funded = post(f"/staff/payouts/initiatives/{world.initiative_id}/approve")
    assert not_funded.status_code == 409 and "doel heeft gehaald" in alert_text(not_funded)
    nothing = post("/staff/payouts/export")
    assert nothing.status_code == 409 and "geen goedgekeurde uitbetalingen" in alert_text(nothing)
    for path in (
        "/staff/payouts/initiatives/987654/approve",
        "/staff/payouts/987654/paid",
        "/staff/payouts/batches/987654/paid",
    ):
        assert post(path).status_code == 404, path
    for path in (
        "/staff/payouts/initiatives/abc/approve",
        "/staff/payouts/x/paid",
        "/staff/payouts/batches/1e9/paid",
        "/staff/payouts/initiatives/99999999999999999999999/approve",
        "/staff/payouts/0/paid",
    ):
        assert post(path).status_code == 422, path
    for path in (
        "/staff/payouts/initiatives/abc",
        "/staff/payouts/batches/abc.xml",
        "/staff/payouts/batches/-1.csv",
        "/staff/payouts/batches/987654.xml",
        "/staff/payouts/batches/987654.csv",
        "/staff/payouts/initiatives/987654",
        "/staff/payouts/batches/99999999999999999999.xml",
    ):
        assert people.admin.get(path).status_code == 404, path
    odd_filter = people.admin.get("/staff/payouts?status=%27%20OR%201=1")
    assert odd_filter.status_code == 422 and "filter bestaat niet" in alert_text(odd_filter)
    assert diff(before, snapshot(db, skip=VOLATILE)) == {}

    # Approved, but the municipality's account is not set: the export names the settings to set.
    assert approve(people.admin, ready).status_code == 303
    twice = post(f"/staff/payouts/initiatives/{ready}/approve")
    assert twice.status_code == 409 and "al goedgekeurd" in alert_text(twice)
    before = snapshot(db, skip=VOLATILE)
    missing = post("/staff/payouts/export")
    assert missing.status_code == 409
    assert "PAYOUT_DEBTOR_NAME, PAYOUT_DEBTOR_IBAN, PAYOUT_DEBTOR_BIC" in alert_text(missing)
    with_debtor(client, payout_debtor_iban="NL20INGB0001234568")
    wrong = post("/staff/payouts/export")
    assert wrong.status_code == 409 and "PAYOUT_DEBTOR_IBAN is geen geldig IBAN" in alert_text(wrong)
    assert diff(before, snapshot(db, skip=VOLATILE)) == {}
    assert actions(db) == ["payout.approved"]


def test_a_director_cannot_touch_another_wijks_payouts(
    client: TestClient, db: Database, world: World
) -> None:
    settings = with_debtor(client)
    people = staff(client, db, settings)
    waiting = funded(client, db, settings, world.codes[0:7], title="GEHEIM wacht")
    approved = funded(client, db, settings, world.codes[7:14], title="GEHEIM goedgekeurd")
    exported = funded(client, db, settings, world.codes[14:21], title="GEHEIM in bestand")
    assert approve(people.admin, exported).status_code == 303
    assert export(people.admin).status_code == 303
    assert approve(people.admin, approved).status_code == 303
    with db.read() as session:
        batch_id = session.scalar(select(PayoutBatch.id))
        payout_ids = list(session.scalars(select(Payout.id)))
    director = people.schelfhorst
    token = csrf(director)
    before = snapshot(db, skip=VOLATILE)
    for status in ("", "waiting", "approved", "exported", "paid"):
        page = director.get(f"/staff/payouts?status={status}")
        assert page.status_code == 200 and "GEHEIM" not in page.text
        assert "/staff/payouts/export" not in page.text and ".xml" not in page.text
    for initiative_id in (waiting, approved, exported):
        assert director.get(f"/staff/payouts/initiatives/{initiative_id}").status_code == 404
        answer = director.post(
            f"/staff/payouts/initiatives/{initiative_id}/approve", data={"csrf_token": token}
        )
        assert answer.status_code == 404 and "GEHEIM" not in answer.text
    assert director.post("/staff/payouts/export", data={"csrf_token": token}).status_code == 403
    for suffix in (".xml", ".csv"):
        assert director.get(f"/staff/payouts/batches/{batch_id}{suffix}").status_code == 403
    assert (
        director.post(f"/staff/payouts/batches/{batch_id}/paid", data={"csrf_token": token}).status_code
        == 403
    )
    for payout_id in payout_ids:
        assert (
            director.post(f"/staff/payouts/{payout_id}/paid", data={"csrf_token": token}).status_code == 403
        )
    # Their own wijk's director sees them, but still cannot export or download.
    own = people.binnenstad.get("/staff/payouts")
    assert own.text.count("GEHEIM") == 3
    assert people.binnenstad.get(f"/staff/payouts/batches/{batch_id}.xml").status_code == 403
    assert diff(before, snapshot(db, skip=VOLATILE)) == {}


def test_verify_finds_payouts_that_disagree_with_the_ledger(
    client: TestClient, db: Database, world: World
) -> None:
    settings = with_debtor(client)
    people = staff(client, db, settings)
    centrum = funded(client, db, settings, world.codes[0:7], title="Bankjes")
    other = funded(client, db, settings, world.codes[7:14], title="Zonder uitbetaling")
    assert approve(people.admin, centrum).status_code == 303
    assert export(people.admin).status_code == 303
    payout = payout_of(db, centrum)
    assert payout is not None
    assert (
        people.admin.post(
            f"/staff/payouts/{payout.id}/paid", data={"csrf_token": csrf(people.admin)}
        ).status_code
        == 200
    )
    assert_ledger_ok(db)

    def violations_after(statement: object) -> list[str]:
        with db.write() as session:
            outer = session.begin_nested()
            session.execute(statement)  # type: ignore[call-overload]
            found = verify_ledger(session).violations
            outer.rollback()
        return found

    found = violations_after(update(Initiative).where(Initiative.id == centrum).values(paid_out_cents=4_900))
    assert any("initiative account differs" in v for v in found), found
    assert any("paid out differs from the paid payouts" in v for v in found), found
    found = violations_after(update(Initiative).where(Initiative.id == other).values(paid_out_cents=9_999))
    assert any("paid out more than raised" in v for v in found), found
    found = violations_after(update(Payout).where(Payout.id == payout.id).values(status="exported"))
    assert any("payout and its transfers disagree" in v for v in found), found
    assert any("the payout account differs from the paid payouts" in v for v in found), found
    with db.read() as session:
        other_account = session.scalar(select(LedgerAccount.id).where(LedgerAccount.initiative_id == other))
        payout_account = session.scalar(select(LedgerAccount.id).where(LedgerAccount.system_key == "payout"))
    found = violations_after(
        insert(LedgerTransfer).values(
            debit_account_id=other_account, credit_account_id=payout_account, amount_cents=100, kind="payout"
        )
    )
    assert any("payout transfer without a payout" in v for v in found), found
    found = violations_after(
        update(LedgerTransfer).where(LedgerTransfer.kind == "payout").values(kind="expire")
    )
    assert any("payout transfer not from an initiative to the payout account" in v for v in found), found
    assert_ledger_ok(db)


def test_ledger_verify_command_passes_after_payouts(
    client: TestClient, db: Database, world: World, settings: Settings, tmp_path: object
) -> None:
    from pathlib import Path

    from tests.cli_helpers import Cli, ok

    app_settings = with_debtor(client)
    people = staff(client, db, app_settings)
    centrum = funded(client, db, app_settings, world.codes[0:7], title="Bankjes")
    assert approve(people.admin, centrum).status_code == 303
    assert export(people.admin).status_code == 303
    with db.read() as session:
        batch_id = session.scalar(select(PayoutBatch.id))
    assert (
        people.admin.post(
            f"/staff/payouts/batches/{batch_id}/paid", data={"csrf_token": csrf(people.admin)}
        ).status_code
        == 200
    )
    cli = Cli(settings.database_url, Path(str(tmp_path)))
    ok(cli("ledger", "verify"))
    with db.write() as session:
        session.execute(update(Initiative).where(Initiative.id == centrum).values(paid_out_cents=0))
    broken = cli("ledger", "verify")
    assert broken.returncode != 0 and "Traceback" not in broken.stderr


def test_a_file_the_schema_refuses_is_not_made() -> None:
    from datetime import date, datetime

    import pytest

    from app.payouts.errors import FileNotValid
    from app.payouts.sepa import Debtor, FileRow, pain001

    debtor = Debtor(name="Gemeente Almelo", iban="NL20INGB0001234567", bic="INGBNL2A")
    good = FileRow("BK-1-AB", 1, "Bankjes", "Buurtvereniging", GOOD_IBAN, 5_000, "Beheer", datetime.now(UTC))
    xmlschema.XMLSchema(str(XSD)).validate(
        pain001(debtor, [good], message_id="BK-TEST-1", execution_date=date.today())
    )
    bad = FileRow(
        "BK-2-AB", 2, "Bankjes", "Buurtvereniging", "not an iban", 5_000, "Beheer", datetime.now(UTC)
    )
    with pytest.raises(FileNotValid):
        pain001(debtor, [good, bad], message_id="BK-TEST-2", execution_date=date.today())
