"""Random sequences of money-moving operations against a real database, checked against a small model.

A Hypothesis `RuleBasedStateMachine` issues vouchers (opening and topping up periods, importing more
households), pledges (any voucher, any initiative, any amount or the default), moves the clock and runs the
tick, moves initiatives through their life cycle (cancel, withdraw, complete, …) and reissues vouchers.
Every operation goes through the real service in its own `db.run_write` transaction; an `AppError` is an
expected refusal, and the model predicts exactly which one. After every step the database must agree with
the model: every voucher's balance and status (also looked up by its live code), every initiative's status
and pledged amount, every period's pool, and `verify_ledger` must report no violation.

Each Hypothesis example gets a fresh, migrated database from the backend's factory (SQLite always,
PostgreSQL when TEST_DATABASE_URL is set). LEDGER_MACHINE_EXAMPLES (default 25) sets the number of examples,
e.g. higher for a nightly run.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from app.errors import AppError
from app.initiatives.errors import TransitionNotAllowed
from app.initiatives.service import transition
from app.kit import codes
from app.ledger.verify import verify_ledger
from app.models import (
    Initiative,
    LedgerAccount,
    Pledge,
    Voucher,
    VoucherPeriod,
)
from app.models import InitiativeStatus as S
from app.ticks import run_tick
from app.vouchers import service as vouchers
from app.vouchers.errors import (
    MalformedVoucherCode,
    PeriodInvalid,
    PeriodRulesFrozen,
    VoucherExpired,
    VoucherReplaced,
)
from tests.databases import PostgresFactory, SqliteFactory
from tests.factories import load_areas
from tests.ledger_model import (
    ALLOWED,
    AREAS,
    ENDS_UNFUNDED,
    MAX_HOUSEHOLDS,
    MAX_INITIATIVES,
    MAX_PERIODS,
    MIN_TARGET,
    NO_SUCH_INITIATIVE,
    OUTCOMES,
    START,
    LedgerModel,
    MVoucher,
    pick,
)


class LedgerMachine(LedgerModel, RuleBasedStateMachine):
    # ------------------------------------------------------------------------------------------ rules

    @initialize()
    def begin(self) -> None:
        self.db.run_write(lambda session: load_areas(session, self.tmp))
        self.import_households(6)
        self.open_period(
            name="Voorjaar 2027",
            starts_on=START - timedelta(days=1),
            ends_on=START + timedelta(days=7),
            value=750,
            expected=None,
        )
        self.create_initiative(target=1_600, deadline_days=10, area="BU01411000", publish=True)
        self.create_initiative(target=5_000, deadline_days=30, area="GM0141", publish=True)

    @precondition(lambda self: self.household_count < MAX_HOUSEHOLDS)
    @rule(count=st.integers(1, 4))
    def more_households(self, count: int) -> None:
        self.import_households(count)

    @precondition(lambda self: len(self.periods) < MAX_PERIODS)
    @rule(value=st.sampled_from([750, 750, 250]), days=st.integers(0, 20))
    def new_period(self, value: int, days: int) -> None:
        self.open_period(
            name=f"Periode {len(self.periods) + 1}",
            starts_on=self.today,
            ends_on=self.today + timedelta(days=days),
            value=value,
            expected=None,
        )

    @rule(pick_=st.integers(0, 10_000), extend=st.integers(0, 10), other_value=st.booleans())
    def top_up_period(self, pick_: int, extend: int, other_value: bool) -> None:
        """Run the opening again: issues to households added since, may extend the end, freezes the rest."""
        period = pick(list(self.periods.values()), pick_)
        ends_on = period.ends_on + timedelta(days=extend)
        value = period.value + (1 if other_value else 0)
        expected: type[AppError] | None = None
        if ends_on < self.today:
            expected = PeriodInvalid
        elif period.status == "closed" or other_value:
            expected = PeriodRulesFrozen
        self.open_period(
            name=period.name, starts_on=period.starts_on, ends_on=ends_on, value=value, expected=expected
        )

    @precondition(lambda self: len(self.initiatives) < MAX_INITIATIVES)
    @rule(
        target_cents=st.sampled_from([MIN_TARGET, 1_000, 1_600, 2_250, 5_000]),
        deadline_days=st.integers(0, 30),
        area=st.sampled_from(AREAS),
        publish=st.booleans(),
    )
    def new_initiative(self, target_cents: int, deadline_days: int, area: str, publish: bool) -> None:
        self.create_initiative(target=target_cents, deadline_days=deadline_days, area=area, publish=publish)

    def _pick_pledge(
        self, which: int, only_usable: bool, initiative_pick: int, code_kind: str, amount: int | None
    ) -> None:
        # Mostly a voucher that can give and an initiative that is open, sometimes anything at all.
        voucher = pick(
            list(self.vouchers.values()),
            which,
            prefer=(lambda v: self.effective_status(v) == "active" and v.balance > 0)
            if only_usable
            else None,
        )
        open_ids = [
            i.id for i in self.initiatives.values() if i.status == S.published and i.deadline >= self.today
        ]
        ids = (
            open_ids
            if only_usable and open_ids and initiative_pick % 4
            else [*self.initiatives, NO_SUCH_INITIATIVE]
        )
        initiative_id = ids[initiative_pick % len(ids)]
        code = voucher.code
        if code_kind == "unknown":
            self.pledge(None, codes.format_code(codes.generate_code()), initiative_id, amount)
            return
        if code_kind == "sloppy":  # typed by hand: lower case, spaces instead of dashes
            code = code.lower().replace("-", " ")
        if code_kind == "malformed":
            code = code[:-1]
            self.expect(
                MalformedVoucherCode,
                self.pledge_call(code, initiative_id, amount),
            )
            return
        self.pledge(voucher, code, initiative_id, amount)

    @rule(
        which=st.integers(0, 10_000),
        only_usable=st.booleans(),
        initiative_pick=st.integers(0, 10_000),
        code_kind=st.sampled_from(["plain"] * 6 + ["sloppy", "unknown", "malformed"]),
        amount=st.one_of(st.none(), st.integers(0, 900), st.sampled_from([50, 99, 100, 250, 750])),
    )
    def pledge_amount(
        self, which: int, only_usable: bool, initiative_pick: int, code_kind: str, amount: int | None
    ) -> None:
        self._pick_pledge(which, only_usable, initiative_pick, code_kind, amount)

    @rule(which=st.integers(0, 10_000), initiative_pick=st.integers(0, 10_000))
    def pledge_default(self, which: int, initiative_pick: int) -> None:
        self._pick_pledge(which, True, initiative_pick, "plain", None)

    @rule(days=st.integers(1, 6))
    def advance_clock(self, days: int) -> None:
        """Time passes without the tick: vouchers and initiatives past their end are refused already."""
        self.today += timedelta(days=days)

    @rule(days=st.integers(0, 8))
    def tick(self, days: int) -> None:
        """The clock moves on (or not) and the tick runs: initiatives past their deadline expire and give
        their pledges back, then periods past their end close and their vouchers' balances go to the pool."""
        self.today += timedelta(days=days)
        report = run_tick(self.db, today=self.today, actor="tick")
        assert report.ran
        expired = sorted(
            i.id for i in self.initiatives.values() if i.status == S.published and i.deadline < self.today
        )
        for initiative_id in expired:
            initiative = self.initiatives[initiative_id]
            initiative.status = S.expired
            self.give_back(initiative)
            OUTCOMES["tick expired an initiative"] += 1
        closed = []
        for period in sorted(self.periods.values(), key=lambda p: p.id):
            if period.status != "open" or period.ends_on >= self.today:
                continue
            members = [v for v in self.vouchers.values() if v.period_id == period.id]
            returned = sum(v.balance for v in members)
            count = sum(1 for v in members if v.status == "active")
            for voucher in members:
                voucher.balance = 0
                if voucher.status == "active":
                    voucher.status = "expired"
            period.pool += returned
            period.status = "closed"
            OUTCOMES["tick closed a period"] += 1
            closed.append((period.name, count, returned))
        assert report.initiatives_expired == expired
        assert sorted(report.periods_closed) == sorted(closed)

    @rule(
        pick_=st.integers(0, 10_000),
        valid=st.booleans(),
        to=st.sampled_from(
            [
                S.cancelled,
                S.withdrawn,
                S.completed,
                S.expired,
                S.submitted,
                S.published,
                S.changes_requested,
                S.funded,
            ]
        ),
    )
    def move_initiative(self, pick_: int, to: S, valid: bool) -> None:
        """A step of the life cycle: usually one that is allowed (cancel or withdraw one with pledges, …)."""
        if valid:
            movable = [i for i in self.initiatives.values() if ALLOWED.get(i.status)]
            initiative = pick(
                movable or list(self.initiatives.values()), pick_, prefer=lambda i: bool(i.pledges)
            )
            choices = sorted(ALLOWED.get(initiative.status, set()))
            to = choices[pick_ % len(choices)] if choices else to
        else:
            initiative = list(self.initiatives.values())[pick_ % len(self.initiatives)]
        allowed = to in ALLOWED.get(initiative.status, set())
        self.expect(
            None if allowed else TransitionNotAllowed,
            lambda session: transition(
                session, initiative.id, to, actor="staff", reason="stateful test", today=self.today
            ),
        )
        if not allowed:
            return
        initiative.status = to
        if to in ENDS_UNFUNDED:
            self.give_back(initiative)

    @rule(pick_=st.integers(0, 10_000), pledged=st.booleans())
    def reissue(self, pick_: int, pledged: bool) -> None:
        """Reissue a voucher; often one whose pledges may come back later (to the new code, then)."""
        supporting = {voucher_id for i in self.initiatives.values() for voucher_id, _ in i.pledges}
        old = pick(
            list(self.vouchers.values()), pick_, prefer=(lambda v: v.id in supporting) if pledged else None
        )
        status = self.effective_status(old)
        expected = {"replaced": VoucherReplaced, "expired": VoucherExpired}.get(status)
        result = self.expect(
            expected,
            lambda session: vouchers.reissue(session, voucher_id=old.id, actor="staff", today=self.today),
        )
        if result is None:
            return
        new_id, new_code = result
        assert new_id not in self.vouchers
        self.vouchers[new_id] = MVoucher(
            id=new_id, code=new_code, period_id=old.period_id, balance=old.balance
        )
        old.balance, old.status, old.successor = 0, "replaced", new_id

    # ------------------------------------------------------------------------------------ invariants

    @invariant()
    def database_matches_model(self) -> None:
        if not self.periods:  # before `begin`
            return
        with self.db.read() as session:
            report = verify_ledger(session)
            assert report.violations == []
            assert report.total_cents == 0

            # Every voucher: status, successor, period, balance; and every live code finds its voucher the
            # way `vouchers.lookup` does (normalise, keyed hash), checked in the same query.
            key = session.info["code_key"]
            voucher_rows = session.execute(
                select(
                    Voucher.id,
                    Voucher.status,
                    Voucher.replaced_by_id,
                    Voucher.period_id,
                    LedgerAccount.balance_cents,
                    Voucher.code_hash,
                ).join(LedgerAccount, LedgerAccount.voucher_id == Voucher.id)
            ).all()
            assert {
                row.id: (row.status, row.replaced_by_id, row.period_id, row.balance_cents)
                for row in voucher_rows
            } == {v.id: (v.status, v.successor, v.period_id, v.balance) for v in self.vouchers.values()}
            by_hash = {row.code_hash: row.id for row in voucher_rows}
            for voucher in self.vouchers.values():
                if voucher.status != "replaced":
                    assert by_hash[codes.hash_code(codes.normalize_code(voucher.code), key)] == voucher.id

            open_pledges = (
                select(
                    Pledge.initiative_id,
                    func.count().label("count"),
                    func.sum(Pledge.amount_cents).label("total"),
                )
                .where(Pledge.returned_at.is_(None))
                .group_by(Pledge.initiative_id)
                .subquery()
            )
            initiative_rows = session.execute(
                select(
                    Initiative.id,
                    Initiative.status,
                    Initiative.pledged_cents,
                    Initiative.target_cents,
                    func.coalesce(open_pledges.c.count, 0),
                    func.coalesce(open_pledges.c.total, 0),
                ).outerjoin(open_pledges, open_pledges.c.initiative_id == Initiative.id)
            ).all()
            assert {row[0]: tuple(row[1:]) for row in initiative_rows} == {
                i.id: (i.status.value, i.pledged, i.target, len(i.pledges), i.pledged)
                for i in self.initiatives.values()
            }

            period_rows = session.execute(
                select(
                    VoucherPeriod.id, VoucherPeriod.status, VoucherPeriod.ends_on, LedgerAccount.balance_cents
                ).join(LedgerAccount, LedgerAccount.period_id == VoucherPeriod.id)
            ).all()
            assert {row[0]: tuple(row[1:]) for row in period_rows} == {
                p.id: (p.status, p.ends_on, p.pool) for p in self.periods.values()
            }
        # What the municipality put into circulation equals what is on vouchers, initiatives and back in pools.
        on_vouchers = sum(v.balance for v in self.vouchers.values())
        on_initiatives = sum(i.pledged for i in self.initiatives.values())
        assert on_vouchers + on_initiatives + sum(p.pool for p in self.periods.values()) == 0


@pytest.mark.parametrize("backend_name", ["sqlite", "postgresql"])
def test_ledger_state_machine(
    backend_name: str, sqlite_factory: SqliteFactory, postgres_factory: PostgresFactory | None
) -> None:
    factory: SqliteFactory | PostgresFactory | None = (
        sqlite_factory if backend_name == "sqlite" else postgres_factory
    )
    if factory is None:
        pytest.skip("PostgreSQL: set TEST_DATABASE_URL to run this backend")
    OUTCOMES.clear()
    machine = type(f"LedgerMachine_{backend_name}", (LedgerMachine,), {"factory": factory})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=int(os.environ.get("LEDGER_MACHINE_EXAMPLES", "25")),
            stateful_step_count=25,
            deadline=None,
        ),
    )
    print(backend_name, sorted(OUTCOMES.items()))  # shown with `pytest -s`
    # Guard against a vacuous run (a model and an app that both refuse everything would agree).
    assert OUTCOMES["done: PledgeResult"] > 0
    assert sum(n for outcome, n in OUTCOMES.items() if outcome.startswith("refused: ")) > 0
