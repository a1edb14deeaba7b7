"""Real concurrency against a real database (SPEC §4 "Correct under concurrency").

Every test starts its threads behind a `threading.Barrier` so they hit the database together. HTTP races
go through one `TestClient` shared by all threads: its requests run as concurrent tasks on the client's
event loop, and the sync route runs in AnyIO's worker threads (up to 40 at once), each with its own
database connection. `PeakConnections` measures how many connections were really in use at the same
time, so a test that accidentally serialised would fail instead of passing vacuously.

The expected outcomes are exact: they follow from the rules of SPEC §2 (default amount = min(balance,
still needed), at least 100 cents unless it empties the voucher, never past the target).

The last tests force one specific interleaving on PostgreSQL (a third transaction holds a row lock so that
one side stops at a known point) instead of hoping that threads hit it: they are deterministic.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import Database
from app.households.service import COLUMNS as HOUSEHOLD_COLUMNS
from app.households.service import import_households
from app.initiatives.service import transition
from app.kit.clock import today as amsterdam_today
from app.ledger.verify import verify_ledger
from app.models import (
    AccountKind,
    InitiativeStatus,
    LedgerAccount,
    Pledge,
    Voucher,
    VoucherPeriod,
    VoucherStatus,
)
from app.pledges.service import PledgeResult, VoucherChanged, create_pledge
from app.ticks import TickReport, run_tick
from app.vouchers import service as voucher_service
from app.vouchers.errors import VoucherExpired
from tests.databases import TEST_SECRET
from tests.factories import BUURTEN, issue_period, load_areas, make_initiative, write_csv

pytestmark = pytest.mark.race

ROOT = Path(__file__).resolve().parent.parent
FACE = 750
T = TypeVar("T")


# --------------------------------------------------------------------------------------------- helpers


def household_csv_rows(count: int) -> list[tuple[Any, ...]]:
    """`count` distinct addresses (tests.factories.household_rows repeats addresses from 199 on)."""
    return [
        ("", f"76{n // 100:02d}AB", n % 100 + 1, "", "", "Grotestraat", "Almelo", BUURTEN[n % len(BUURTEN)])
        for n in range(count)
    ]


@dataclass
class Setup:
    codes: list[str]
    initiative_ids: list[int]


def populate(
    db: Database,
    settings: Settings,
    *,
    households: int,
    targets: list[int],
    today: date | None = None,
    ends_on: date | None = None,
) -> Setup:
    """Areas, `households` households with one voucher each (an open period), published initiatives."""
    day = today or amsterdam_today()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)

        def work(session: Session) -> Setup:
            load_areas(session, tmp)
            path = write_csv(tmp / "households.csv", HOUSEHOLD_COLUMNS, household_csv_rows(households))
            import_households(session, path, actor="test", deactivate_missing=False)
            codes = issue_period(session, today=day, ends_on=ends_on)
            ids = [
                make_initiative(
                    session,
                    settings,
                    target_cents=target,
                    title=f"Initiatief {n}",
                    today=day,
                    deadline=day + timedelta(days=60),
                )
                for n, target in enumerate(targets)
            ]
            return Setup(codes=[codes[k] for k in sorted(codes)], initiative_ids=ids)

        setup = db.run_write(work)
    assert len(setup.codes) == households
    return setup


def run_together(count: int, task: Callable[[int], T], *, timeout: float = 120) -> list[T | BaseException]:
    """Run `task(0..count-1)` in `count` threads released at once by a barrier; returns results in order."""
    barrier = threading.Barrier(count)
    results: list[T | BaseException | None] = [None] * count

    def runner(index: int) -> None:
        try:
            barrier.wait(timeout=timeout)
            results[index] = task(index)
        except BaseException as exc:  # reported to the test below, never swallowed
            results[index] = exc

    threads = [threading.Thread(target=runner, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    assert not any(thread.is_alive() for thread in threads), "threads still running after the timeout"
    return results  # type: ignore[return-value]


def responses_only(results: list[httpx2.Response | BaseException]) -> list[httpx2.Response]:
    """Every request got an HTTP answer (an exception here is a server error re-raised by TestClient)."""
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, f"{len(errors)} request(s) raised, first: {errors[0]!r}"
    responses = [r for r in results if isinstance(r, httpx2.Response)]
    assert len(responses) == len(results)
    return responses


class PeakConnections:
    """Samples how many pooled connections are checked out at once while a race runs."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        pool: Any = self.db.engine.pool
        while not self._stop.is_set():
            self.peak = max(self.peak, int(pool.checkedout()))
            time.sleep(0.0005)

    def __enter__(self) -> PeakConnections:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


@contextmanager
def overlapping(db: Database, *, at_least: int) -> Iterator[PeakConnections]:
    with PeakConnections(db) as peak:
        yield peak
    assert peak.peak >= at_least, f"only {peak.peak} connection(s) in use at once: the race did not overlap"


def assert_ledger_ok(db: Database) -> None:
    with db.read() as session:
        report = verify_ledger(session)
    assert report.violations == []
    assert report.total_cents == 0


def voucher_balance(db: Database, code: str) -> int:
    with db.read() as session:
        return voucher_service.lookup(session, code).balance_cents


def voucher_balances(db: Database, codes: list[str]) -> list[int]:
    with db.read() as session:
        return [voucher_service.lookup(session, code).balance_cents for code in codes]


def pledged_cents(db: Database, initiative_id: int) -> int:
    with db.read() as session:
        return int(
            session.execute(
                text("SELECT pledged_cents FROM initiatives WHERE id = :id"), {"id": initiative_id}
            ).scalar_one()
        )


def pledge_rows(db: Database) -> list[tuple[int, int, int]]:
    """(voucher id, initiative id, amount) of every pledge, in id order."""
    with db.read() as session:
        return [
            (int(v), int(i), int(a))
            for v, i, a in session.execute(
                select(Pledge.voucher_id, Pledge.initiative_id, Pledge.amount_cents).order_by(Pledge.id)
            ).all()
        ]


def pledge(client: TestClient, code: str, initiative_id: int, amount: int | None = None, **kw: Any) -> Any:
    body: dict[str, Any] = {"code": code, "initiative_id": initiative_id}
    if amount is not None:
        body["amount_cents"] = amount
    return client.post("/api/v1/pledges", json=body, **kw)


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


def lock_waiters(db: Database) -> int:
    """PostgreSQL backends of this database that wait for a lock."""
    with db.read() as session:
        return int(
            session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
            or 0
        )


def wait_until(condition: Callable[[], bool], *, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.005)


def interleave_around_a_cancel(
    db: Database, initiative_id: int, *, today: date, other: Callable[[], object]
) -> dict[str, Any]:
    """Force one interleaving on PostgreSQL: staff cancel `initiative_id`, and the cancel decides where each
    pledge goes back, then stops (a third transaction holds the initiative's ledger row); `other` runs
    meanwhile, to its end or until it waits for a lock; then the cancel goes on.

    Returns each side's result (or the exception it raised) under "cancel" and "other".
    """
    outcome: dict[str, Any] = {}

    def capture(name: str, work: Callable[[], object]) -> None:
        try:
            outcome[name] = work()
        except BaseException as exc:
            outcome[name] = exc

    def cancel() -> None:
        db.run_write(
            lambda session: transition(
                session, initiative_id, InitiativeStatus.cancelled, actor="staff", today=today
            )
        )

    holder = db.engine.connect()
    holding = holder.begin()
    canceller = threading.Thread(target=capture, args=("cancel", cancel), daemon=True)
    runner = threading.Thread(target=capture, args=("other", other), daemon=True)
    try:
        holder.execute(
            text("SELECT id FROM ledger_accounts WHERE initiative_id = :id FOR UPDATE"), {"id": initiative_id}
        )
        canceller.start()
        wait_until(lambda: lock_waiters(db) == 1)  # the cancel now waits for the held row
        runner.start()
        wait_until(lambda: "other" in outcome or lock_waiters(db) == 2)
    finally:
        holding.rollback()
        holder.close()
    canceller.join(30)
    if runner.ident is not None:
        runner.join(30)
    assert not canceller.is_alive() and not runner.is_alive()
    return outcome


# ----------------------------------------------------------------------------------------------- tests


def test_200_clients_race_for_the_last_euro(client: TestClient, db: Database, settings: Settings) -> None:
    """200 vouchers of 750 (150 000 available) race for one initiative of 100 000 (not a multiple of 750)."""
    households, target = 200, 100_000
    setup = populate(db, settings, households=households, targets=[target])
    initiative_id = setup.initiative_ids[0]

    with overlapping(db, at_least=5):
        results = run_together(households, lambda i: pledge(client, setup.codes[i], initiative_id))
    responses = responses_only(results)

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


def test_tick_closes_a_period_while_pledges_race(db: Database, settings: Settings) -> None:
    """On the last day of a period, pledges race the tick that runs at the next day's start."""
    start = amsterdam_today()
    last_day = start + timedelta(days=10)
    vouchers, early = 16, 3
    setup = populate(db, settings, households=vouchers, targets=[50_000], today=start, ends_on=last_day)
    initiative_id = setup.initiative_ids[0]

    def task(index: int) -> Any:
        if index == vouchers:
            # Start closing once a few pledges are in, so that some land before the tick and some after.
            wait_until(lambda: len(pledge_rows(db)) >= early)
            return run_tick(db, today=last_day + timedelta(days=1), actor="tick")
        return db.run_write(
            lambda session: create_pledge(
                session,
                code=setup.codes[index],
                initiative_id=initiative_id,
                amount_cents=None,
                settings=settings,
                today=last_day,
            ),
            retry_on=(VoucherChanged,),
        )

    with overlapping(db, at_least=2):
        results = run_together(vouchers + 1, task)

    tick = results[vouchers]
    assert not isinstance(tick, BaseException), repr(tick)
    assert tick.ran
    pledged = [r for r in results[:vouchers] if isinstance(r, PledgeResult)]
    refused = [r for r in results[:vouchers] if not isinstance(r, PledgeResult)]
    assert all(isinstance(r, VoucherExpired) for r in refused), refused
    assert len(pledged) >= early
    assert [r.amount_cents for r in pledged] == [FACE] * len(pledged)
    assert tick.initiatives_expired == []
    assert len(tick.periods_closed) == 1
    _name, expired_count, returned = tick.periods_closed[0]
    assert expired_count == vouchers
    assert returned == FACE * len(refused)
    assert returned + FACE * len(pledged) == FACE * vouchers

    assert pledged_cents(db, initiative_id) == FACE * len(pledged)
    assert voucher_balances(db, setup.codes) == [0] * vouchers
    with db.read() as session:
        statuses = session.scalars(select(Voucher.status)).all()
        pool = session.scalar(
            select(LedgerAccount.balance_cents).where(LedgerAccount.kind == AccountKind.pool)
        )
        period_status = session.scalar(select(VoucherPeriod.status))
        pledge_count = session.scalar(select(func.count()).select_from(Pledge))
    assert statuses == [VoucherStatus.expired] * vouchers
    assert period_status == "closed"
    assert pool == -FACE * vouchers + returned
    assert pledge_count == len(pledged)
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


def test_pledges_race_a_staff_cancel(client: TestClient, db: Database, settings: Settings) -> None:
    """Staff cancel an initiative while 30 households pledge to it: every pledge that got in goes back."""
    households = 30
    setup = populate(db, settings, households=households, targets=[50_000])
    initiative_id = setup.initiative_ids[0]
    first_pledges = 5

    def task(index: int) -> Any:
        if index < households:
            return pledge(client, setup.codes[index], initiative_id)
        wait_until(lambda: len(pledge_rows(db)) >= first_pledges)
        return db.run_write(
            lambda session: transition(
                session, initiative_id, InitiativeStatus.cancelled, actor="staff", today=amsterdam_today()
            )
        )

    with overlapping(db, at_least=5):
        results = run_together(households + 1, task)

    assert results[households] is None
    responses = responses_only(results[:households])
    created = [r.json() for r in responses if r.status_code == 201]
    refused = [r.json() for r in responses if r.status_code != 201]
    assert len(created) >= first_pledges
    assert {body["amount_cents"] for body in created} == {FACE}
    # Refused: 409 when the pledge had read the initiative while it was still published, 404 once the
    # cancelled initiative is no longer public.
    assert {(body["status"], body["type"]) for body in refused} <= {
        (409, "/problems/initiative-not-open"),
        (404, "/problems/initiative-not-found"),
    }
    rows = pledge_rows(db)
    assert len(rows) == len(created)
    with db.read() as session:
        open_count = session.scalar(
            select(func.count()).select_from(Pledge).where(Pledge.returned_at.is_(None))
        )
    assert open_count == 0
    assert pledged_cents(db, initiative_id) == 0
    assert voucher_balances(db, setup.codes) == [FACE] * households
    assert client.get(f"/api/v1/initiatives/{initiative_id}").status_code == 404
    assert_ledger_ok(db)


def pledged_voucher(db: Database, settings: Settings, *, ends_on: date) -> tuple[Setup, int]:
    """Two households; the first gives its whole voucher to an initiative, on the period's last day."""
    setup = populate(db, settings, households=2, targets=[5_000], today=amsterdam_today(), ends_on=ends_on)
    initiative_id = setup.initiative_ids[0]
    db.run_write(
        lambda session: create_pledge(
            session,
            code=setup.codes[0],
            initiative_id=initiative_id,
            amount_cents=None,
            settings=settings,
            today=ends_on,
        )
    )
    return setup, initiative_id


def test_cancel_returning_pledges_races_the_tick_that_closes_the_period(
    backend: str, db: Database, settings: Settings
) -> None:
    """Just before midnight on a period's last day staff cancel an initiative, while the tick of the next
    day closes the period. Returned value must end on a live voucher or in the pool, never on an expired
    voucher."""
    if backend != "postgresql":
        pytest.skip("SQLite runs write transactions one at a time (BEGIN IMMEDIATE): no interleaving")
    last_day = amsterdam_today() + timedelta(days=5)
    setup, initiative_id = pledged_voucher(db, settings, ends_on=last_day)

    outcome = interleave_around_a_cancel(
        db,
        initiative_id,
        today=last_day,
        other=lambda: run_tick(db, today=last_day + timedelta(days=1), actor="tick"),
    )

    assert outcome["cancel"] is None
    report = outcome["other"]
    assert isinstance(report, TickReport)
    assert_ledger_ok(db)
    # The cancel decided first (the voucher was usable on its last day), so its 750 went back to the
    # voucher, and the tick then swept both vouchers into the pool.
    assert report.periods_closed == [("Voorjaar 2027", 2, 2 * FACE)]
    assert voucher_balances(db, setup.codes) == [0, 0]
    with db.read() as session:
        pool = session.scalar(
            select(LedgerAccount.balance_cents).where(LedgerAccount.kind == AccountKind.pool)
        )
    assert pool == 0


def test_cancel_returning_pledges_races_a_reissue(backend: str, db: Database, settings: Settings) -> None:
    """Staff cancel an initiative while another staff member reissues a lost voucher that supported it:
    the returned value must reach the new code, never stay behind on the replaced one."""
    if backend != "postgresql":
        pytest.skip("SQLite runs write transactions one at a time (BEGIN IMMEDIATE): no interleaving")
    last_day = amsterdam_today() + timedelta(days=30)
    setup, initiative_id = pledged_voucher(db, settings, ends_on=last_day)
    with db.read() as session:
        old_id = voucher_service.lookup(session, setup.codes[0]).id

    outcome = interleave_around_a_cancel(
        db,
        initiative_id,
        today=amsterdam_today(),
        other=lambda: db.run_write(
            lambda session: voucher_service.reissue(
                session, voucher_id=old_id, actor="staff", today=amsterdam_today()
            )
        ),
    )

    assert outcome["cancel"] is None
    reissued = outcome["other"]
    assert isinstance(reissued, tuple), repr(reissued)
    _new_id, new_code = reissued
    assert_ledger_ok(db)
    assert voucher_balances(db, [setup.codes[0], new_code, setup.codes[1]]) == [0, FACE, FACE]
    assert pledged_cents(db, initiative_id) == 0
