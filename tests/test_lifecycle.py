"""Periods, reissue, tick: value always ends where SPEC §2 says, and the ledger stays whole."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.config import Settings
from app.db import Database
from app.initiatives.service import transition
from app.kit.clock import today as amsterdam_today
from app.ledger.verify import verify_ledger
from app.models import (
    InitiativeStatus,
    InitiativeTransition,
    LedgerAccount,
    Pledge,
    Voucher,
    VoucherPeriod,
)
from app.pledges.service import create_pledge
from app.ticks import run_tick
from app.vouchers import service as vouchers
from app.vouchers.errors import (
    PeriodInvalid,
    PeriodRulesFrozen,
    UnknownVoucher,
    VoucherExpired,
    VoucherReplaced,
)
from tests.factories import World, issue_period, load_households, make_initiative

TODAY = amsterdam_today()


def pledge(
    db: Database,
    world: World,
    code: str,
    amount: int | None = None,
    *,
    initiative_id: int | None = None,
    day=TODAY,
):  # type: ignore[no-untyped-def]
    return db.run_write(
        lambda s: create_pledge(
            s,
            code=code,
            initiative_id=initiative_id or world.initiative_id,
            amount_cents=amount,
            settings=world.settings,
            today=day,
        )
    )


def balance(db: Database, code: str) -> int:
    with db.read() as session:
        return vouchers.lookup(session, code).balance_cents


def pool_balance(db: Database) -> int:
    with db.read() as session:
        return int(
            session.scalar(select(func.sum(LedgerAccount.balance_cents)).where(LedgerAccount.kind == "pool"))
            or 0
        )


def assert_ledger_ok(db: Database) -> None:
    with db.read() as session:
        report = verify_ledger(session)
    assert report.ok, report.violations


def test_reopening_a_period_issues_only_to_new_households(db: Database, world: World) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        again = db.run_write(lambda s: issue_period(s))
        assert again == {}
        db.run_write(lambda s: load_households(s, Path(tmp), count=5, start=1000))
        added = db.run_write(lambda s: issue_period(s))
    assert len(added) == 5
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Voucher)) == 45
    assert pool_balance(db) == -45 * 750
    assert_ledger_ok(db)


def test_period_rules_are_frozen_and_end_only_extends(db: Database, world: World) -> None:
    with pytest.raises(PeriodRulesFrozen):
        db.run_write(lambda s: issue_period(s, value_cents=1000))
    with pytest.raises(PeriodRulesFrozen):
        db.run_write(lambda s: issue_period(s, ends_on=TODAY + timedelta(days=10)))
    db.run_write(lambda s: issue_period(s, ends_on=TODAY + timedelta(days=200)))
    with db.read() as session:
        assert session.scalar(select(VoucherPeriod.ends_on)) == TODAY + timedelta(days=200)
    with pytest.raises(PeriodInvalid):
        db.run_write(
            lambda s: issue_period(
                s, name="Oud", ends_on=TODAY - timedelta(days=1), starts_on=TODAY - timedelta(days=9)
            )
        )


def test_reissue_moves_the_balance_and_kills_the_old_code(db: Database, world: World) -> None:
    old_code = world.codes[0]
    pledge(db, world, old_code, 300)
    with db.read() as session:
        old = vouchers.lookup(session, old_code)
    _new_id, new_code = db.run_write(
        lambda s: vouchers.reissue(s, voucher_id=old.id, actor="test", today=TODAY)
    )
    assert balance(db, new_code) == 450
    with db.read() as session:
        assert vouchers.lookup(session, old_code).status == "replaced"
    with pytest.raises(VoucherReplaced):
        pledge(db, world, old_code, 100)
    assert pledge(db, world, new_code, 100).voucher_balance_cents == 350
    assert_ledger_ok(db)


def test_unfunded_end_returns_pledges_to_the_live_voucher(db: Database, world: World) -> None:
    # A pledge from a voucher that was later reissued goes back to the replacement.
    first, second = world.codes[0], world.codes[1]
    pledge(db, world, first, 500)
    pledge(db, world, second)
    with db.read() as session:
        old_id = vouchers.lookup(session, first).id
    _id, replacement = db.run_write(
        lambda s: vouchers.reissue(s, voucher_id=old_id, actor="test", today=TODAY)
    )
    assert balance(db, replacement) == 250
    db.run_write(
        lambda s: transition(
            s, world.initiative_id, InitiativeStatus.cancelled, actor="staff", reason="test", today=TODAY
        )
    )
    assert balance(db, replacement) == 750
    assert balance(db, second) == 750
    with db.read() as session:
        assert (
            session.scalar(select(func.count()).select_from(Pledge).where(Pledge.returned_at.is_(None))) == 0
        )
    assert_ledger_ok(db)


def test_tick_expires_initiatives_past_deadline(db: Database, world: World, settings: Settings) -> None:
    late = db.run_write(
        lambda s: make_initiative(s, settings, deadline=TODAY + timedelta(days=2), title="Bijna te laat")
    )
    pledge(db, world, world.codes[0], 400, initiative_id=late)
    report = run_tick(db, today=TODAY + timedelta(days=2), actor="tick")
    assert report.initiatives_expired == []
    report = run_tick(db, today=TODAY + timedelta(days=3), actor="tick")
    assert report.initiatives_expired == [late]
    assert balance(db, world.codes[0]) == 750
    with db.read() as session:
        steps = session.execute(
            select(
                InitiativeTransition.from_status, InitiativeTransition.to_status, InitiativeTransition.actor
            )
            .where(InitiativeTransition.initiative_id == late)
            .order_by(InitiativeTransition.id)
        ).all()
    assert [tuple(s) for s in steps][-1] == ("published", "expired", "tick")
    # Running it again changes nothing.
    again = run_tick(db, today=TODAY + timedelta(days=3), actor="tick")
    assert again.initiatives_expired == [] and again.periods_closed == []
    assert_ledger_ok(db)


def test_tick_closes_ended_periods_into_the_pool(db: Database, world: World, settings: Settings) -> None:
    long_running = db.run_write(lambda s: make_initiative(s, settings, deadline=TODAY + timedelta(days=200)))
    pledge(db, world, world.codes[0], 300, initiative_id=long_running)
    with db.read() as session:
        ends_on = session.scalar(select(VoucherPeriod.ends_on))
    assert ends_on is not None
    # The day after the end, the voucher can no longer be used even before the tick ran.
    with pytest.raises(VoucherExpired):
        pledge(db, world, world.codes[1], day=ends_on + timedelta(days=1), initiative_id=long_running)
    report = run_tick(db, today=ends_on + timedelta(days=1), actor="tick")
    assert report.periods_closed == [("Voorjaar 2027", 40, 40 * 750 - 300)]
    assert pool_balance(db) == -300  # only what was given is still out of the pool
    with db.read() as session:
        assert vouchers.lookup(session, world.codes[1]).status == "expired"
    assert_ledger_ok(db)


def test_pledges_of_expired_vouchers_return_to_the_pool(
    db: Database, world: World, settings: Settings
) -> None:
    long_running = db.run_write(lambda s: make_initiative(s, settings, deadline=TODAY + timedelta(days=200)))
    pledge(db, world, world.codes[0], 300, initiative_id=long_running)
    with db.read() as session:
        ends_on = session.scalar(select(VoucherPeriod.ends_on))
    assert ends_on is not None
    after = ends_on + timedelta(days=1)
    run_tick(db, today=after, actor="tick")
    assert pool_balance(db) == -300
    db.run_write(
        lambda s: transition(s, long_running, InitiativeStatus.withdrawn, actor="initiator", today=after)
    )
    assert pool_balance(db) == 0
    assert balance(db, world.codes[0]) == 0
    assert_ledger_ok(db)


def test_unknown_code_for_reissue(db: Database, world: World) -> None:
    with pytest.raises(UnknownVoucher):
        db.run_write(lambda s: vouchers.reissue(s, voucher_id=999_999, actor="test", today=TODAY))


@pytest.mark.race
def test_two_ticks_at_once_do_the_work_once(db: Database, world: World, settings: Settings) -> None:
    import threading

    late = db.run_write(
        lambda s: make_initiative(s, settings, deadline=TODAY + timedelta(days=2), title="Loopt af")
    )
    for code in world.codes[:5]:
        pledge(db, world, code, 300, initiative_id=late)
    with db.read() as session:
        ends_on = session.scalar(select(VoucherPeriod.ends_on))
    assert ends_on is not None
    barrier = threading.Barrier(4)
    reports = []

    def tick() -> None:
        barrier.wait()
        reports.append(run_tick(db, today=ends_on + timedelta(days=1), actor="tick"))

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(reports) == 4
    assert sum(len(r.initiatives_expired) for r in reports) == 2  # the world's initiative and `late`
    assert sum(len(r.periods_closed) for r in reports) == 1
    assert pool_balance(db) == 0
    with db.read() as session:
        returned = session.scalar(
            select(func.count()).select_from(Pledge).where(Pledge.returned_at.is_not(None))
        )
    assert returned == 5
    assert_ledger_ok(db)
