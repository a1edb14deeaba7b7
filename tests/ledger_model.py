"""The small model the stateful ledger test (tests/test_ledger_stateful.py) checks the database against.

Vouchers, periods and initiatives as plain records; the life cycle of SPEC §2 written out again; and the
operations (import households, open a period, create an initiative, pledge) that run through the real
services, each in its own `db.run_write` transaction, and update the model with what they must have done.
An `AppError` is an expected refusal, and the model predicts exactly which one.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from app.db import Database
from app.errors import AppError
from app.households.service import COLUMNS as HOUSEHOLD_COLUMNS
from app.households.service import import_households
from app.initiatives.errors import (
    InitiativeAlreadyFunded,
    InitiativeNotFound,
    InitiativeNotOpen,
)
from app.initiatives.service import NewInitiative, create_and_maybe_publish
from app.models import Household
from app.models import InitiativeStatus as S
from app.pledges.service import PledgeTooSmall, create_pledge
from app.vouchers import service as vouchers
from app.vouchers.errors import (
    UnknownVoucher,
    VoucherEmpty,
    VoucherExpired,
    VoucherInsufficient,
    VoucherReplaced,
)
from tests.databases import PostgresFactory, SqliteFactory, test_settings
from tests.factories import household_rows, write_csv

START = date(2027, 3, 1)
MIN_TARGET = 500
MIN_PLEDGE = 100
AREAS = ["GM0141", "WK014110", "BU01411000", "BU01411001", "WK014118", "BU01411800"]
MAX_HOUSEHOLDS = 40
MAX_PERIODS = 3
MAX_INITIATIVES = 6
NO_SUCH_INITIATIVE = 987_654

# What the runs exercised, per backend: a model that silently stopped doing anything would still "agree".
OUTCOMES: Counter[str] = Counter()

# The life cycle as SPEC §2 states it, written out again here so the model does not borrow the app's table.
ALLOWED: dict[S, set[S]] = {
    S.draft: {S.submitted, S.withdrawn},
    S.submitted: {S.changes_requested, S.published, S.rejected, S.withdrawn},
    S.changes_requested: {S.submitted, S.withdrawn},
    S.published: {S.expired, S.cancelled, S.withdrawn},  # → funded happens only by reaching the target
    S.funded: {S.completed},
}
PUBLIC = {S.published, S.funded, S.completed}
ENDS_UNFUNDED = {S.expired, S.cancelled, S.withdrawn}


@dataclass
class MVoucher:
    id: int
    code: str
    period_id: int
    balance: int
    status: str = "active"
    successor: int | None = None


@dataclass
class MPeriod:
    id: int
    name: str
    starts_on: date
    ends_on: date
    value: int
    pool: int = 0
    status: str = "open"
    holders: set[int] = field(default_factory=set)  # household ids with a current voucher


@dataclass
class MInitiative:
    id: int
    target: int
    deadline: date
    status: S
    pledged: int = 0
    pledges: list[tuple[int, int]] = field(default_factory=list)  # open (voucher id, amount), in pledge order


def pick(items: list[Any], index: int, *, prefer: Callable[[Any], bool] | None = None) -> Any:
    """items[index] (modulo), among the preferred items when there are any."""
    preferred = [item for item in items if prefer(item)] if prefer else []
    chosen = preferred or items
    return chosen[index % len(chosen)]


class LedgerModel:
    """The model and the operations that change both the database and the model.

    `LedgerMachine` in tests/test_ledger_stateful.py adds the rules and the invariant; it is also a
    `RuleBasedStateMachine`, whose `__init__` is reached through `super().__init__()` here.
    """

    factory: ClassVar[SqliteFactory | PostgresFactory]

    def __init__(self) -> None:
        super().__init__()
        self.url = self.factory.create()
        self.settings = test_settings(self.url, initiative_min_target_cents=MIN_TARGET, db_pool_size=2)
        self.db = Database(self.settings)
        self.tmp = Path(tempfile.mkdtemp(prefix="ledger-machine-"))
        self.today = START
        self.household_count = 0
        self.household_ids: set[int] = set()
        self.periods: dict[int, MPeriod] = {}
        self.vouchers: dict[int, MVoucher] = {}
        self.initiatives: dict[int, MInitiative] = {}

    def teardown(self) -> None:
        self.db.dispose()
        self.factory.drop(self.url)
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ------------------------------------------------------------------------------------------- model

    def effective_status(self, voucher: MVoucher) -> str:
        if voucher.status == "active" and self.periods[voucher.period_id].ends_on < self.today:
            return "expired"
        return voucher.status

    def give_back(self, initiative: MInitiative) -> None:
        """The initiative ended unfunded: each open pledge goes to its live voucher, or to the pool."""
        for voucher_id, amount in initiative.pledges:
            voucher = self.vouchers[voucher_id]
            while voucher.status == "replaced" and voucher.successor is not None:
                voucher = self.vouchers[voucher.successor]
            period = self.periods[voucher.period_id]
            if voucher.status == "active" and period.ends_on >= self.today:
                voucher.balance += amount
                OUTCOMES["returned to a voucher" + (" (reissued)" if voucher.id != voucher_id else "")] += 1
            else:
                period.pool += amount
                OUTCOMES["returned to the pool"] += 1
        initiative.pledges = []
        initiative.pledged = 0

    def expect(self, expected: type[AppError] | None, work: Any) -> Any:
        """Run `work` in one write transaction; it must raise exactly `expected` (or nothing if None)."""
        try:
            result = self.db.run_write(work)
        except AppError as exc:
            assert type(exc) is expected, f"expected {expected and expected.__name__}, got {exc!r}"
            OUTCOMES[f"refused: {expected.__name__}"] += 1
            return None
        assert expected is None, f"expected {expected.__name__}, but it succeeded with {result!r}"
        OUTCOMES[f"done: {type(result).__name__}"] += 1
        return result

    # ---------------------------------------------------------------------------------------- actions

    def pledge_call(self, code: str, initiative_id: int, amount: int | None) -> Callable[[Session], Any]:
        """The pledge as the app makes it, to run in one write transaction."""
        return lambda session: create_pledge(
            session,
            code=code,
            initiative_id=initiative_id,
            amount_cents=amount,
            settings=self.settings,
            today=self.today,
        )

    def import_households(self, count: int) -> None:
        start = self.household_count
        rows = household_rows(count, start=start)
        path = write_csv(self.tmp / f"households-{start}.csv", HOUSEHOLD_COLUMNS, rows)

        def work(session: Session) -> set[int]:
            result = import_households(session, path, actor="test", deactivate_missing=False)
            assert result.created == count
            return set(session.scalars(select(Household.id)).all())

        self.household_ids = self.db.run_write(work)
        self.household_count += count
        assert len(self.household_ids) == self.household_count

    def open_period(
        self, *, name: str, starts_on: date, ends_on: date, value: int, expected: type[AppError] | None
    ) -> None:
        issued: dict[int, str] = {}

        def sink(household: Row[Any], code: str) -> None:
            issued[household.id] = code

        result = self.expect(
            expected,
            lambda session: vouchers.open_period(
                session,
                name=name,
                starts_on=starts_on,
                ends_on=ends_on,
                value_cents=value,
                actor="test",
                today=self.today,
                sink=sink,
            ),
        )
        if result is None:
            return
        period = self.periods.get(result.period_id)
        if period is None:
            assert result.created
            period = self.periods[result.period_id] = MPeriod(
                id=result.period_id, name=name, starts_on=starts_on, ends_on=ends_on, value=value
            )
        else:
            assert not result.created
            assert result.extended == (ends_on > period.ends_on)
            period.ends_on = ends_on
        missing = self.household_ids - period.holders
        assert set(issued) == missing
        assert result.issued == len(missing)
        with self.db.read() as session:
            for code in issued.values():
                found = vouchers.lookup(session, code)
                assert found.period_id == period.id
                self.vouchers[found.id] = MVoucher(id=found.id, code=code, period_id=period.id, balance=value)
        period.holders |= missing
        period.pool -= value * len(missing)

    def create_initiative(self, *, target: int, deadline_days: int, area: str, publish: bool) -> None:
        deadline = self.today + timedelta(days=deadline_days)
        initiative_id = self.db.run_write(
            lambda session: create_and_maybe_publish(
                session,
                NewInitiative(
                    title=f"Initiatief {len(self.initiatives) + 1}",
                    area_code=area,
                    target_cents=target,
                    deadline=deadline,
                ),
                publish=publish,
                settings=self.settings,
                actor="test",
                today=self.today,
            )
        )
        self.initiatives[initiative_id] = MInitiative(
            id=initiative_id, target=target, deadline=deadline, status=S.published if publish else S.draft
        )

    def pledge(self, voucher: MVoucher | None, code: str, initiative_id: int, amount: int | None) -> None:
        initiative = self.initiatives.get(initiative_id)
        expected: type[AppError] | None = None
        balance = voucher.balance if voucher else 0
        if voucher is None:
            expected = UnknownVoucher
        elif self.effective_status(voucher) == "replaced":
            expected = VoucherReplaced
        elif self.effective_status(voucher) == "expired":
            expected = VoucherExpired
        elif balance <= 0:
            expected = VoucherEmpty
        elif initiative is None or initiative.status not in PUBLIC:
            expected = InitiativeNotFound
        elif initiative.status in (S.funded, S.completed) or initiative.pledged >= initiative.target:
            expected = InitiativeAlreadyFunded
        elif initiative.status != S.published or initiative.deadline < self.today:
            expected = InitiativeNotOpen
        elif amount is not None and amount > balance:
            expected = VoucherInsufficient
        elif amount is not None and amount < MIN_PLEDGE and amount != balance:
            expected = PledgeTooSmall

        result = self.expect(
            expected,
            self.pledge_call(code, initiative_id, amount),
        )
        if result is None:
            return
        assert voucher is not None and initiative is not None
        wanted = amount if amount is not None else balance
        given = min(wanted, initiative.target - initiative.pledged)
        voucher.balance -= given
        initiative.pledged += given
        initiative.pledges.append((voucher.id, given))
        if initiative.pledged == initiative.target:
            initiative.status = S.funded
            OUTCOMES["pledge funded an initiative"] += 1
        if given < wanted:
            OUTCOMES["pledge lowered to what was still needed"] += 1
        assert (result.amount_cents, result.voucher_balance_cents) == (given, voucher.balance)
        assert (result.raised_cents, result.target_cents, result.status) == (
            initiative.pledged,
            initiative.target,
            initiative.status,
        )
