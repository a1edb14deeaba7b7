"""Real concurrency against a real database (SPEC §4 "Correct under concurrency"): pledges and the life
cycle race, that is the tick that closes a period, staff cancelling an initiative, and reissuing a voucher.

Threads start behind a `threading.Barrier` so they hit the database together (see tests.race_helpers). The
expected outcomes follow from the rules of SPEC §2.

The last tests force one specific interleaving on PostgreSQL (a third transaction holds a row lock so that
one side stops at a known point) instead of hoping that threads hit it: they are deterministic.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from app.config import Settings
from app.db import Database
from app.initiatives.service import transition
from app.kit.clock import today as amsterdam_today
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
from tests.race_helpers import (
    FACE,
    Setup,
    assert_ledger_ok,
    overlapping,
    pledge,
    pledge_rows,
    pledged_cents,
    populate,
    responses_only,
    run_together,
    voucher_balances,
    wait_until,
)

# Each test that takes `client` runs in-process and through `buurtkas serve --workers 4` (tests.served).
pytestmark = [pytest.mark.race, pytest.mark.served]


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
