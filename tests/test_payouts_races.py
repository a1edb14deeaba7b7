"""Payout races on a real database: double clicks and several administrators at once move money once."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.db import Database
from app.models import AuditEvent, LedgerAccount, OutboxMessage, Payout, PayoutBatch
from tests.dbstate import assert_ledger_ok
from tests.factories import World
from tests.payout_helpers import csrf, funded, payout_of, payout_transfers, staff, with_debtor
from tests.race_helpers import overlapping, responses_only, run_together
from tests.staff_helpers import staff_browser

pytestmark = pytest.mark.race


def count(db: Database, statement: object) -> int:
    with db.read() as session:
        return int(session.scalar(statement) or 0)  # type: ignore[call-overload]


def audit_count(db: Database, action: str) -> int:
    return count(db, select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))


def test_ten_clicks_on_approve_make_one_payout(client: TestClient, db: Database, world: World) -> None:
    settings = with_debtor(client)
    people = staff(client, db, settings)
    initiative_id = funded(client, db, settings, world.codes[0:7], title="Bankjes")
    tokens = [csrf(people.binnenstad), csrf(people.admin)]
    browsers = [people.binnenstad, people.admin]
    path = f"/staff/payouts/initiatives/{initiative_id}/approve"
    with overlapping(db, at_least=2):
        results = run_together(
            10,
            lambda i: browsers[i % 2].post(path, data={"csrf_token": tokens[i % 2]}, follow_redirects=False),
        )
    statuses = sorted(r.status_code for r in responses_only(results))
    assert statuses.count(303) == 1 and set(statuses) == {303, 409}, statuses
    assert count(db, select(func.count()).select_from(Payout)) == 1
    assert audit_count(db, "payout.approved") == 1
    assert_ledger_ok(db)


def test_twenty_clicks_on_paid_move_the_money_once(client: TestClient, db: Database, world: World) -> None:
    settings = with_debtor(client)
    people = staff(client, db, settings)
    first = funded(client, db, settings, world.codes[0:7], title="Bankjes")
    second = funded(client, db, settings, world.codes[7:14], title="Speeltuin", area_code="BU01411800")
    for initiative_id in (first, second):
        assert (
            people.admin.post(
                f"/staff/payouts/initiatives/{initiative_id}/approve", data={"csrf_token": csrf(people.admin)}
            ).status_code
            == 200
        )
    assert (
        people.admin.post("/staff/payouts/export", data={"csrf_token": csrf(people.admin)}).status_code == 200
    )
    payout = payout_of(db, first)
    batch_id = count(db, select(PayoutBatch.id))
    assert payout is not None and batch_id
    # Several administrators' browsers (each its own session); half click the payout, half the whole file.
    admins = [staff_browser(client, db, people.admin_id) for _ in range(4)]
    tokens = [csrf(browser) for browser in admins]

    def click(i: int) -> object:
        path = f"/staff/payouts/{payout.id}/paid" if i % 2 else f"/staff/payouts/batches/{batch_id}/paid"
        return admins[i % 4].post(path, data={"csrf_token": tokens[i % 4]}, follow_redirects=False)

    with overlapping(db, at_least=2):
        results = run_together(20, click)
    assert {r.status_code for r in responses_only(results)} == {303}
    assert payout_transfers(db) == 2, "each payout's money moved exactly once"
    assert audit_count(db, "payout.paid") == 2
    assert (
        count(db, select(func.count()).select_from(LedgerAccount).where(LedgerAccount.kind == "payout")) == 1
    )
    assert count(
        db, select(func.sum(LedgerAccount.balance_cents)).where(LedgerAccount.system_key == "payout")
    ) == (5_250 + 5_250)
    assert count(db, select(func.count()).select_from(OutboxMessage)) == 0  # neither has an owner account
    assert_ledger_ok(db)


def test_paying_different_initiatives_at_once_opens_one_payout_account(
    client: TestClient, db: Database, world: World
) -> None:
    settings = with_debtor(client)
    people = staff(client, db, settings)
    ids = [
        funded(client, db, settings, world.codes[7 * n : 7 * n + 7], title=f"Initiatief {n}")
        for n in range(5)
    ]
    token = csrf(people.admin)
    for initiative_id in ids:
        path = f"/staff/payouts/initiatives/{initiative_id}/approve"
        assert people.admin.post(path, data={"csrf_token": token}).status_code == 200
    assert people.admin.post("/staff/payouts/export", data={"csrf_token": token}).status_code == 200
    with db.read() as session:
        payout_ids = list(session.scalars(select(Payout.id).order_by(Payout.id)))
    admins = [staff_browser(client, db, people.admin_id) for _ in payout_ids]
    tokens = [csrf(browser) for browser in admins]
    with overlapping(db, at_least=2):
        results = run_together(
            len(payout_ids),
            lambda i: admins[i].post(
                f"/staff/payouts/{payout_ids[i]}/paid", data={"csrf_token": tokens[i]}, follow_redirects=False
            ),
        )
    assert {r.status_code for r in responses_only(results)} == {303}
    assert (
        count(db, select(func.count()).select_from(LedgerAccount).where(LedgerAccount.system_key == "payout"))
        == 1
    )
    assert payout_transfers(db) == 5
    assert_ledger_ok(db)


def test_two_exports_at_once_put_each_payout_in_one_file(
    client: TestClient, db: Database, world: World
) -> None:
    settings = with_debtor(client)
    people = staff(client, db, settings)
    ids = [
        funded(client, db, settings, world.codes[7 * n : 7 * n + 7], title=f"Initiatief {n}")
        for n in range(3)
    ]
    token = csrf(people.admin)
    for initiative_id in ids:
        path = f"/staff/payouts/initiatives/{initiative_id}/approve"
        assert people.admin.post(path, data={"csrf_token": token}).status_code == 200
    admins = [staff_browser(client, db, people.admin_id) for _ in range(6)]
    tokens = [csrf(browser) for browser in admins]
    with overlapping(db, at_least=2):
        results = run_together(
            6,
            lambda i: admins[i].post(
                "/staff/payouts/export", data={"csrf_token": tokens[i]}, follow_redirects=False
            ),
        )
    statuses = sorted(r.status_code for r in responses_only(results))
    assert statuses.count(303) == 1 and set(statuses) == {303, 409}, statuses
    with db.read() as session:
        batch = session.scalars(select(PayoutBatch)).one()
        assert batch.payment_count == 3 and batch.total_cents == 3 * 5_250
        assert set(session.scalars(select(Payout.batch_id))) == {batch.id}
    assert audit_count(db, "payout.exported") == 1
    assert_ledger_ok(db)
