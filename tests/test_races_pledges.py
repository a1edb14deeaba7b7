"""Real concurrency against a real database (SPEC §4 "Correct under concurrency"): pledges race each other.

Every test starts its threads behind a `threading.Barrier` so they hit the database together. HTTP races
go through one `TestClient` shared by all threads: its requests run as concurrent tasks on the client's
event loop, and the sync route runs in AnyIO's worker threads (up to 40 at once), each with its own
database connection. `PeakConnections` measures how many connections were really in use at the same
time, so a test that accidentally serialised would fail instead of passing vacuously.

The expected outcomes are exact: they follow from the rules of SPEC §2 (default amount = min(balance,
still needed), at least 100 cents unless it empties the voucher, never past the target).
"""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import Database
from app.ledger.verify import verify_ledger
from app.vouchers import service as voucher_service
from tests.databases import TEST_SECRET
from tests.race_helpers import (
    FACE,
    assert_ledger_ok,
    overlapping,
    pledge,
    pledge_rows,
    pledged_cents,
    populate,
    responses_only,
    run_together,
    voucher_balance,
    voucher_balances,
)
from tests.served import ServedClient

# Each test that takes `client` runs in-process and through `buurtkas serve --workers 4` (tests.served).
pytestmark = [pytest.mark.race, pytest.mark.served]

ROOT = Path(__file__).resolve().parent.parent


def cli_verify(settings: Settings) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DATABASE_URL": settings.database_url,
        "SECRET_KEY": TEST_SECRET,
        "ENVIRONMENT": "test",
    }
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "buurtkas"), "ledger", "verify"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


# ----------------------------------------------------------------------------------------------- tests


def test_200_clients_race_for_the_last_euro(client: TestClient, db: Database, settings: Settings) -> None:
    """200 vouchers of 750 (150 000 available) race for one initiative of 100 000 (not a multiple of 750)."""
    households, target = 200, 100_000
    setup = populate(db, settings, households=households, targets=[target])
    initiative_id = setup.initiative_ids[0]

    with overlapping(db, at_least=5):
        results = run_together(households, lambda i: pledge(client, setup.codes[i], initiative_id))
    responses = responses_only(results)
    if isinstance(client, ServedClient):  # through `buurtkas serve --workers 4`: several processes took part
        assert client.server.busy_workers() >= 2

    full, rest = divmod(target, FACE)  # 133 full vouchers and one last pledge of 250
    winners = full + (1 if rest else 0)
    assert Counter(r.status_code for r in responses) == {201: winners, 409: households - winners}
    created = [r.json() for r in responses if r.status_code == 201]
    refused = [r.json() for r in responses if r.status_code == 409]
    assert sorted(body["amount_cents"] for body in created) == [rest] * (rest > 0) + [FACE] * full
    assert {body["type"] for body in refused} == {"/problems/initiative-funded"}
    assert all(
        r.headers["content-type"] == "application/problem+json" for r in responses if r.status_code == 409
    )
    # Each winner saw the initiative right after its own pledge: together the running totals 750, 1500, …
    assert sorted(body["initiative"]["raised_cents"] for body in created) == [
        *range(FACE, full * FACE + 1, FACE),
        *([target] if rest else []),
    ]
    funded_by = [body for body in created if body["initiative"]["status"] == "funded"]
    assert len(funded_by) == 1
    assert funded_by[0]["initiative"]["raised_cents"] == target

    shown = client.get(f"/api/v1/initiatives/{initiative_id}").json()
    assert (shown["raised_cents"], shown["target_cents"], shown["status"]) == (target, target, "funded")
    balances = voucher_balances(db, setup.codes)
    assert FACE * households - sum(balances) == target
    for response, code, balance in zip(results, setup.codes, balances, strict=True):
        assert isinstance(response, httpx2.Response)
        if response.status_code == 201:
            assert (
                response.json()["voucher_balance_cents"] == balance == FACE - response.json()["amount_cents"]
            )
        else:
            assert balance == FACE, code
    assert sum(amount for _v, _i, amount in pledge_rows(db)) == target
    assert len(pledge_rows(db)) == winners
    assert pledged_cents(db, initiative_id) == target
    assert_ledger_ok(db)

    # The real command agrees, and says so in its summary line.
    with db.read() as session:
        report = verify_ledger(session)
    done = cli_verify(settings)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == (
        f"ledger: {report.accounts} accounts, {report.transfers} transfers, total 0 cents: OK"
    )


def test_fifty_tabs_spend_one_voucher_with_the_default_amount(
    client: TestClient, db: Database, settings: Settings
) -> None:
    setup = populate(db, settings, households=3, targets=[5_000])
    code, initiative_id = setup.codes[0], setup.initiative_ids[0]

    with overlapping(db, at_least=5):
        results = run_together(50, lambda _i: pledge(client, code, initiative_id))
    responses = responses_only(results)

    assert Counter(r.status_code for r in responses) == {201: 1, 409: 49}
    (winner,) = [r.json() for r in responses if r.status_code == 201]
    assert winner["amount_cents"] == FACE
    assert winner["voucher_balance_cents"] == 0
    assert winner["initiative"] == {
        "id": initiative_id,
        "raised_cents": FACE,
        "target_cents": 5_000,
        "status": "published",
    }
    # A loser either read the balance after the winner committed, or lost the guarded debit and was
    # retried whole by the API, after which it read the empty balance: never "voucher-changed" at the end.
    assert {r.json()["type"] for r in responses if r.status_code == 409} == {"/problems/voucher-empty"}
    assert voucher_balance(db, code) == 0
    assert voucher_balances(db, setup.codes[1:]) == [FACE, FACE]
    assert pledged_cents(db, initiative_id) == FACE
    assert [amount for _v, _i, amount in pledge_rows(db)] == [FACE]
    assert_ledger_ok(db)


def test_fifty_tabs_give_one_euro_each_from_one_voucher(
    client: TestClient, db: Database, settings: Settings
) -> None:
    """750 cents in steps of 100: seven pledges fit and leave 50, which is below 100 and not the whole
    amount asked, so the other 43 are refused as "not enough balance" (they asked 100 of 50)."""
    setup = populate(db, settings, households=3, targets=[5_000] * 5)
    code, ids = setup.codes[0], setup.initiative_ids

    with overlapping(db, at_least=5):
        results = run_together(50, lambda i: pledge(client, code, ids[i % len(ids)], 100))
    responses = responses_only(results)

    fits = FACE // 100  # 7
    assert Counter(r.status_code for r in responses) == {201: fits, 409: 50 - fits}
    created = [r.json() for r in responses if r.status_code == 201]
    assert [body["amount_cents"] for body in created] == [100] * fits
    # Every debit returned the balance right after it: 650, 550, …, 50, each exactly once.
    assert sorted(body["voucher_balance_cents"] for body in created) == list(
        range(FACE % 100, FACE - 99, 100)
    )
    refused = [r.json() for r in responses if r.status_code == 409]
    assert {(body["type"], body["balance_cents"]) for body in refused} == {
        ("/problems/voucher-insufficient", FACE % 100)
    }
    assert voucher_balance(db, code) == FACE - 100 * fits == 50
    rows = pledge_rows(db)
    assert [amount for _v, _i, amount in rows] == [100] * fits
    assert len({voucher for voucher, _i, _a in rows}) == 1
    per_initiative = Counter(body["initiative"]["id"] for body in created)
    assert [pledged_cents(db, i) for i in ids] == [100 * per_initiative[i] for i in ids]
    assert sum(pledged_cents(db, i) for i in ids) == 100 * fits
    assert_ledger_ok(db)

    # What is left can still be given, but only as a whole (50 < the 100 minimum).
    assert pledge(client, code, ids[0], 49).status_code == 422
    last = pledge(client, code, ids[0], 50)
    assert last.status_code == 201, last.text
    assert (last.json()["amount_cents"], last.json()["voucher_balance_cents"]) == (50, 0)
    assert_ledger_ok(db)


def test_replayed_idempotency_keys_move_money_once(
    client: TestClient, db: Database, settings: Settings
) -> None:
    setup = populate(db, settings, households=3, targets=[5_000])
    code, initiative_id = setup.codes[0], setup.initiative_ids[0]
    body = {"code": code, "initiative_id": initiative_id, "amount_cents": 300}
    key = {"Idempotency-Key": "tab-7f3a9c"}

    with overlapping(db, at_least=3):
        results = run_together(20, lambda _i: client.post("/api/v1/pledges", json=body, headers=key))
    responses = responses_only(results)

    assert [r.status_code for r in responses] == [201] * 20
    first = responses[0].json()
    assert all(r.json() == first for r in responses)
    assert first["amount_cents"] == 300
    assert first["voucher_balance_cents"] == FACE - 300
    assert first["initiative"]["raised_cents"] == 300
    assert Counter(r.headers.get("Idempotent-Replayed") for r in responses) == {None: 1, "true": 19}
    assert voucher_balance(db, code) == FACE - 300
    assert pledged_cents(db, initiative_id) == 300
    assert len(pledge_rows(db)) == 1
    assert_ledger_ok(db)

    # The same key with another body is refused and moves nothing.
    other = client.post("/api/v1/pledges", json={**body, "amount_cents": 200}, headers=key)
    assert other.status_code == 422
    assert other.json()["type"] == "/problems/idempotency-key-reused"
    # A later replay of the original returns the first response again.
    again = client.post("/api/v1/pledges", json=body, headers=key)
    assert (again.status_code, again.json(), again.headers.get("Idempotent-Replayed")) == (201, first, "true")
    assert voucher_balance(db, code) == FACE - 300
    assert len(pledge_rows(db)) == 1
    # A new key is a new pledge.
    fresh = client.post("/api/v1/pledges", json=body, headers={"Idempotency-Key": "tab-8b11d0"})
    assert fresh.status_code == 201
    assert fresh.json()["id"] != first["id"]
    assert fresh.json()["voucher_balance_cents"] == FACE - 600
    assert "Idempotent-Replayed" not in fresh.headers
    assert voucher_balance(db, code) == FACE - 600
    assert pledged_cents(db, initiative_id) == 600
    assert_ledger_ok(db)


def test_ledger_verify_command_fails_on_a_tampered_balance(db: Database, settings: Settings) -> None:
    """The oracle the race tests rely on can fail: one cent moved outside the ledger is caught."""
    setup = populate(db, settings, households=2, targets=[5_000])
    assert_ledger_ok(db)
    with db.read() as session:
        account_id = voucher_service.lookup(session, setup.codes[0]).account_id

    def tamper(session: Session) -> None:
        session.execute(
            text("UPDATE ledger_accounts SET balance_cents = balance_cents + 1 WHERE id = :id"),
            {"id": account_id},
        )

    db.run_write(tamper)
    done = cli_verify(settings)
    assert done.returncode == 1
    assert "balance differs from the sum of its transfers" in done.stderr
    assert done.stdout.strip().endswith("violation(s)")
