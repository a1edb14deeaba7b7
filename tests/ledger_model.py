"""The small model the stateful ledger test (tests/test_ledger_stateful.py) checks the database against.

Vouchers, periods, initiatives, donations and their refunds as plain records; the life cycle of SPEC §2
written out again; and the operations (import households, open a period, create an initiative, pledge, book
a donation as the Stripe webhook does, book Stripe's answer about a refund) that run through the real
services, each in its own `db.run_write` transaction, and update the model with what they must have done.
An `AppError` is an expected refusal, and the model predicts exactly which one; a webhook booking returns
an outcome text instead, and the model predicts that text.
"""

from __future__ import annotations

import secrets
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
from app.donations import service as donations
from app.donations.gateway import RefundResult
from app.donations.refunds import apply_refund_result
from app.errors import AppError
from app.households.service import COLUMNS as HOUSEHOLD_COLUMNS
from app.households.service import import_households
from app.initiatives.errors import (
    InitiativeAlreadyFunded,
    InitiativeNotFound,
    InitiativeNotOpen,
)
from app.initiatives.service import NewInitiative, create_and_maybe_publish
from app.models import Donation, DonationRefund, DonationStatus, Household
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
MAX_INITIATIVES = 7  # one of them cancelled from the start
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
ACCEPTING = {S.published, S.funded}  # where a donor can start a donation
NEVER_PUBLIC = {S.draft, S.submitted, S.changes_requested}
"""No donation can exist for these: `start_donation` refuses them, and none of them is reachable from a status
that took donations. (The webhook booking itself does not check; see `LedgerMachine.donate`.)"""
ENDED = ENDS_UNFUNDED | {S.rejected}  # a payment booked now goes straight back
BOOKABLE = {"open", "failed", "expired"}  # a confirmed payment counts from these
COUNTING = {"paid", "refunding"}  # the money is on the initiative
DONATION_MIN, DONATION_MAX = 100, 50_000  # the default settings


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
    donated: int = 0  # confirmed donations not refunded yet

    @property
    def raised(self) -> int:
        return self.pledged + self.donated


@dataclass
class MRefund:
    status: str = "requested"
    attempt: int = 1
    failures: int = 0
    stripe_id: str | None = None  # Stripe's id of the refund of the latest answered attempt


@dataclass
class MDonation:
    public_id: str
    initiative_id: int
    amount: int
    status: str = "open"
    payment: str | None = None  # the payment intent that paid it
    refund: MRefund | None = None


def new_payment() -> str:
    """A Stripe payment intent id (unique: one payment pays one donation)."""
    return f"pi_{secrets.token_urlsafe(12)}"


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
        self.donations: dict[str, MDonation] = {}

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

    def queue_refunds(self, initiative: MInitiative) -> None:
        """Every paid donation of an initiative that ended unfunded starts going back (one refund each)."""
        for donation in self.donations.values():
            if donation.initiative_id == initiative.id and donation.status == "paid":
                donation.status, donation.refund = "refunding", MRefund()
                OUTCOMES["donation queued for refund"] += 1

    def end_unfunded(self, initiative: MInitiative, status: S) -> None:
        """Expired, cancelled or withdrawn: pledges go back, paid donations are queued for refund."""
        initiative.status = status
        self.give_back(initiative)
        self.queue_refunds(initiative)

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
        elif initiative.status in (S.funded, S.completed) or initiative.raised >= initiative.target:
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
        given = min(wanted, initiative.target - initiative.raised)
        voucher.balance -= given
        initiative.pledged += given
        initiative.pledges.append((voucher.id, given))
        if initiative.raised == initiative.target:
            initiative.status = S.funded
            OUTCOMES["pledge funded an initiative" + (" (with donations)" if initiative.donated else "")] += 1
        if given < wanted:
            OUTCOMES["pledge lowered to what was still needed"] += 1
        assert (result.amount_cents, result.voucher_balance_cents) == (given, voucher.balance)
        assert (result.raised_cents, result.target_cents, result.status) == (
            initiative.raised,
            initiative.target,
            initiative.status,
        )

    # --------------------------------------------------------------------------------------- donations

    def donation_rows(self) -> dict[str, tuple[Any, ...]]:
        """Per donation, as the invariant reads it: initiative, amount, status, payment, and the refund's
        amount, status, attempt, failures and Stripe id (all None without a refund)."""
        return {
            d.public_id: (
                d.initiative_id,
                d.amount,
                d.status,
                d.payment,
                *(
                    (d.amount, d.refund.status, d.refund.attempt, d.refund.failures, d.refund.stripe_id)
                    if d.refund
                    else (None,) * 5
                ),
            )
            for d in self.donations.values()
        }

    def webhook(self, work: Callable[[Session], str]) -> str:
        """Book a Stripe event the way the webhook does: in one write transaction, returning an outcome."""
        outcome = self.db.run_write(work)
        OUTCOMES["donation: " + outcome.split(" (")[0].split(":")[0]] += 1
        return outcome

    def add_donation(self, initiative_id: int, amount: int, email: str | None) -> MDonation:
        """The open donation `start_donation` records before sending the donor to Stripe."""
        donation = MDonation(public_id=secrets.token_urlsafe(16), initiative_id=initiative_id, amount=amount)
        self.db.run_write(
            lambda session: session.add(
                Donation(
                    public_id=donation.public_id,
                    initiative_id=initiative_id,
                    amount_cents=amount,
                    donor_name="",
                    email=email,
                    locale="nl",
                    status=DonationStatus.open,
                )
            )
        )
        self.donations[donation.public_id] = donation
        return donation

    def confirm(
        self,
        donation: MDonation | None,
        *,
        public_id: str,
        payment: str,
        amount: int,
        currency: str = "eur",
    ) -> None:
        """Stripe says `payment` paid `amount`: booked once, refused when it does not match, never twice."""
        if donation is None:
            expected = "ignored: unknown payment"
        elif currency != "eur" or amount != donation.amount:
            expected = (
                f"refused: Stripe reports {amount} {currency}, donation {public_id} expects"
                f" {donation.amount} eur"
            )
        elif donation.payment not in (None, payment):
            expected = f"refused: donation {public_id} was paid by another payment"
        elif donation.status not in BOOKABLE:
            expected = f"already booked ({donation.status})"
        else:
            initiative = self.initiatives[donation.initiative_id]
            donation.status, donation.payment = "paid", payment
            initiative.donated += donation.amount
            if initiative.status == S.published and initiative.raised >= initiative.target:
                initiative.status = S.funded
                OUTCOMES["donation funded an initiative"] += 1
            if initiative.raised > initiative.target:
                OUTCOMES["donations past the target"] += 1
            if initiative.status in ENDED:
                self.queue_refunds(initiative)
                expected = "booked; initiative has ended, refund queued"
            else:
                expected = "booked"
        outcome = self.webhook(
            lambda session: donations.confirm_payment(
                session,
                self.settings,
                public_id=public_id,
                payment_intent_id=payment,
                amount_cents=amount,
                currency=currency,
            )
        )
        assert outcome == expected

    def fail_payment(self, donation: MDonation) -> None:
        """Stripe says the payment failed: only an open donation becomes failed (a later success counts)."""
        if donation.status == "open":
            expected = "failed"
            donation.status = "failed"
        else:
            expected = f"ignored: donation is {donation.status}"
        outcome = self.webhook(
            lambda session: donations.payment_failed(
                session, public_id=donation.public_id, payment_intent_id=None
            )
        )
        assert outcome == expected

    def deliver(self, donation: MDonation, delivery: str) -> None:
        """Stripe's webhooks about a new donation, as `delivery` names them."""
        public_id, amount, payment = donation.public_id, donation.amount, new_payment()
        if delivery in ("failed, then paid", "failed"):
            self.fail_payment(donation)
        if delivery == "wrong amount":
            self.confirm(donation, public_id=public_id, payment=payment, amount=amount + 1 - 2 * (amount % 2))
        elif delivery not in ("failed", "held", "page expired"):
            self.confirm(donation, public_id=public_id, payment=payment, amount=amount)
        if delivery == "twice":  # Stripe delivers the same payment again
            self.confirm(donation, public_id=public_id, payment=payment, amount=amount)
        if delivery == "other payment":
            self.confirm(donation, public_id=public_id, payment=new_payment(), amount=amount)
        if delivery == "paid, then failed":
            self.fail_payment(donation)
        if delivery == "page expired":
            self.expire_checkout(donation)

    def expire_checkout(self, donation: MDonation) -> None:
        """Stripe's payment page expired unpaid: an open donation becomes expired (a later success counts)."""
        expected = "expired" if donation.status == "open" else "ignored: not open"
        if donation.status == "open":
            donation.status = "expired"
        outcome = self.webhook(
            lambda session: donations.checkout_expired(session, public_id=donation.public_id)
        )
        assert outcome == expected

    def settle_refund_answer(self, donation: MDonation, status: str, *, stale: bool) -> None:
        """Stripe answers about a refund (about another attempt when `stale`): only an answer about the
        current attempt changes anything, and only `succeeded` moves the money back, once."""
        refund = donation.refund
        assert refund is not None
        attempt = (refund.attempt - 1 or refund.attempt + 1) if stale else refund.attempt
        # Stripe keeps a refund's id while it is pending; a new attempt after a failure is a new refund.
        stripe_id = (
            refund.stripe_id
            if refund.status == "pending" and refund.stripe_id
            else f"re_{secrets.token_urlsafe(12)}"
        )
        if refund.status == "succeeded" or stale:
            OUTCOMES["refund answer ignored (" + ("stale" if stale else "after success") + ")"] += 1
        elif status == "succeeded":
            refund.status, refund.stripe_id = "succeeded", stripe_id
            donation.status = "refunded"
            self.initiatives[donation.initiative_id].donated -= donation.amount
            OUTCOMES["refund succeeded"] += 1
        elif status == "failed":
            refund.status, refund.stripe_id = "failed", stripe_id
            refund.failures += 1
            refund.attempt += 1
            OUTCOMES["refund failed"] += 1
        else:
            refund.status, refund.stripe_id = "pending", stripe_id
            OUTCOMES["refund pending"] += 1

        def work(session: Session) -> str | None:
            refund_id = session.execute(
                select(DonationRefund.id)
                .join(Donation, Donation.id == DonationRefund.donation_id)
                .where(Donation.public_id == donation.public_id)
            ).scalar_one()
            result = RefundResult(refund_id=stripe_id, status=status)
            return apply_refund_result(session, self.settings, refund_id, result, attempt=attempt)

        assert self.db.run_write(work) == refund.status
