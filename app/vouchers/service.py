"""Opening periods, issuing and reissuing vouchers, checking them, and expiring them at period end."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Row, Table, func, insert, literal, select, update
from sqlalchemy.orm import Session

from app.audit.service import record
from app.db import rowcount
from app.kit import codes
from app.kit.ratelimit import FailureLimiter
from app.ledger import service as ledger
from app.models import (
    AccountKind,
    LedgerAccount,
    LedgerTransfer,
    PeriodStatus,
    TransferKind,
    Voucher,
    VoucherPeriod,
    VoucherStatus,
)
from app.models.base import UTCDateTime, utcnow
from app.vouchers import repository
from app.vouchers.errors import (
    MalformedVoucherCode,
    PeriodInvalid,
    PeriodRulesFrozen,
    UnknownVoucher,
    VoucherEmpty,
    VoucherExpired,
    VoucherReplaced,
)
from app.vouchers.repository import VoucherView

ISSUE_BATCH = 5_000
MAX_VALUE_CENTS = 100_000

# Receives each newly issued voucher's household row and its code (grouped form) for the print batch.
CodeSink = Callable[[Row[Any], str], None]


@dataclass
class PeriodOpenResult:
    period_id: int
    created: bool
    issued: int
    extended: bool = False


def lookup(session: Session, code_text: str) -> VoucherView:
    """The voucher for a typed or scanned code; MalformedVoucherCode or UnknownVoucher otherwise."""
    try:
        canonical = codes.normalize_code(code_text)
    except codes.MalformedCode as exc:
        raise MalformedVoucherCode() from exc
    voucher = repository.find_by_hash(session, codes.hash_code(canonical, _code_key(session)))
    if voucher is None:
        raise UnknownVoucher()
    return voucher


def lookup_counting_failures(
    session: Session, code_text: str, *, limiter: FailureLimiter, client: str
) -> VoucherView:
    """`lookup`, refused while `client` (or everyone) has tried too many wrong codes; a wrong code counts."""
    limiter.check(client, session)
    try:
        return lookup(session, code_text)
    except UnknownVoucher:
        limiter.record_failure(client)
        raise


def effective_status(voucher: VoucherView, today: date) -> str:
    if voucher.status == VoucherStatus.active and voucher.ends_on < today:
        return VoucherStatus.expired
    return voucher.status


def ensure_spendable(voucher: VoucherView, today: date) -> None:
    status = effective_status(voucher, today)
    if status == VoucherStatus.replaced:
        raise VoucherReplaced()
    if status == VoucherStatus.expired:
        raise VoucherExpired()
    if voucher.balance_cents <= 0:
        raise VoucherEmpty()


def open_period(
    session: Session,
    *,
    name: str,
    starts_on: date,
    ends_on: date,
    value_cents: int,
    actor: str,
    today: date,
    sink: CodeSink,
) -> PeriodOpenResult:
    """Open a period (or top it up) and issue one voucher to every active household that has none yet.

    Idempotent: running it again with the same rules issues only to households added since. The face value
    and start are frozen once open; the end may only move later.
    """
    name = check_period_input(
        name=name, starts_on=starts_on, ends_on=ends_on, value_cents=value_cents, today=today
    )

    period = repository.period_by_name(session, name, for_update=True)
    created = extended = False
    if period is None:
        period_id = session.execute(
            insert(VoucherPeriod)
            .values(
                name=name,
                starts_on=starts_on,
                ends_on=ends_on,
                value_cents=value_cents,
                status=PeriodStatus.open,
                opened_at=utcnow(),
            )
            .returning(VoucherPeriod.id)
        ).scalar_one()
        ledger.open_account(session, AccountKind.pool, period_id=period_id)
        record(
            session,
            actor=actor,
            action="period.opened",
            subject_type="period",
            subject_id=period_id,
            after={"name": name, "starts_on": starts_on, "ends_on": ends_on, "value_cents": value_cents},
        )
        created = True
    else:
        period_id = period.id
        check_frozen_rules(period, starts_on=starts_on, ends_on=ends_on, value_cents=value_cents)
        if ends_on > period.ends_on:
            session.execute(
                update(VoucherPeriod).where(VoucherPeriod.id == period_id).values(ends_on=ends_on)
            )
            record(
                session,
                actor=actor,
                action="period.extended",
                subject_type="period",
                subject_id=period_id,
                before={"ends_on": period.ends_on},
                after={"ends_on": ends_on},
            )
            extended = True

    issued = issue_missing_vouchers(session, period_id=period_id, value_cents=value_cents, sink=sink)
    if issued:
        record(
            session,
            actor=actor,
            action="vouchers.issued",
            subject_type="period",
            subject_id=period_id,
            after={"count": issued},
        )
    return PeriodOpenResult(period_id=period_id, created=created, issued=issued, extended=extended)


def check_period_input(*, name: str, starts_on: date, ends_on: date, value_cents: int, today: date) -> str:
    """The rules for a period's name, dates and value; returns the name stripped. PeriodInvalid otherwise."""
    name = name.strip()
    if not 1 <= len(name) <= 80:
        raise PeriodInvalid(
            "De naam van de periode moet 1 tot 80 tekens hebben.",
            "The period name must be 1 to 80 characters.",
        )
    if ends_on < starts_on:
        raise PeriodInvalid("De einddatum ligt voor de begindatum.", "The end date is before the start date.")
    if ends_on < today:
        raise PeriodInvalid("De einddatum ligt in het verleden.", "The end date is in the past.")
    if not 0 < value_cents <= MAX_VALUE_CENTS:
        raise PeriodInvalid(
            f"De waarde moet tussen 1 en {MAX_VALUE_CENTS} cent liggen.",
            f"The value must be between 1 and {MAX_VALUE_CENTS} cents.",
        )
    return name


def check_frozen_rules(period: VoucherPeriod, *, starts_on: date, ends_on: date, value_cents: int) -> None:
    """An open period keeps its value and start; its end only moves later. PeriodRulesFrozen otherwise."""
    name = period.name
    if period.status != PeriodStatus.open:
        raise PeriodRulesFrozen(f"Periode {name!r} is al gesloten.", f"Period {name!r} is already closed.")
    if period.value_cents != value_cents or period.starts_on != starts_on:
        raise PeriodRulesFrozen(
            f"Periode {name!r} is al open met waarde {period.value_cents} cent en begin {period.starts_on}; "
            "die liggen vast.",
            f"Period {name!r} is already open with value {period.value_cents} cents and start "
            f"{period.starts_on}; these are frozen.",
        )
    if ends_on < period.ends_on:
        raise PeriodRulesFrozen(
            f"De einddatum van {name!r} kan alleen later worden ({period.ends_on} of later).",
            f"The end of {name!r} can only be extended ({period.ends_on} or later).",
        )


@dataclass(frozen=True)
class PeriodPreview:
    name: str
    households: int
    """Exactly the households `open_period` would issue a voucher to now."""
    value_cents: int
    existing: bool
    """The period is open already: opening it again tops it up (and may extend its end)."""

    @property
    def total_cents(self) -> int:
        return self.households * self.value_cents


def households_to_issue(session: Session, name: str) -> int:
    """How many vouchers `open_period` issues for this period name now: the same rule as
    `issue_missing_vouchers` (active households without a live voucher in the period)."""
    period = repository.period_by_name(session, name.strip())
    return repository.count_households_without_voucher(session, period.id if period is not None else None)


def preview_period(
    session: Session, *, name: str, starts_on: date, ends_on: date, value_cents: int, today: date
) -> PeriodPreview:
    """What opening this period would do, refused by the same rules as `open_period`; changes nothing."""
    name = check_period_input(
        name=name, starts_on=starts_on, ends_on=ends_on, value_cents=value_cents, today=today
    )
    period = repository.period_by_name(session, name)
    if period is not None:
        check_frozen_rules(period, starts_on=starts_on, ends_on=ends_on, value_cents=value_cents)
    return PeriodPreview(
        name=name,
        households=households_to_issue(session, name),
        value_cents=value_cents,
        existing=period is not None,
    )


def issue_missing_vouchers(session: Session, *, period_id: int, value_cents: int, sink: CodeSink) -> int:
    """Issue a voucher to every active household without one in this period; returns the count.

    Per batch one read of the addresses and one multi-row insert of the vouchers (no RETURNING); then the
    ledger opens and credits all the new accounts in three set-based statements.
    """
    household_ids = repository.households_without_voucher(session, period_id)
    if not household_ids:
        return 0
    pool_account_id = ledger.account_id_for(session, period_id=period_id)
    key = _code_key(session)
    now = utcnow()
    for start in range(0, len(household_ids), ISSUE_BATCH):
        batch = household_ids[start : start + ISSUE_BATCH]
        hashes = []
        for household in repository.households_by_ids(session, batch):
            code = codes.generate_code()
            hashes.append(codes.hash_code(code, key))
            sink(household, codes.format_code(code))
        repository.insert_vouchers(
            session, period_id=period_id, household_ids=batch, code_hashes=hashes, now=now
        )
    issued = ledger.issue_to_new_vouchers(
        session, pool_account_id=pool_account_id, period_id=period_id, value_cents=value_cents
    )
    if issued != len(household_ids):
        raise RuntimeError(f"issued {issued} vouchers into the ledger, expected {len(household_ids)}")
    return issued


def reissue(session: Session, *, voucher_id: int, actor: str, today: date) -> tuple[int, str]:
    """Replace a lost voucher: the old code stops working and its balance moves to a new code.

    Returns the new voucher's id and its code (grouped); the code is shown once and never stored.
    """
    old = session.execute(
        select(Voucher).where(Voucher.id == voucher_id).with_for_update()
    ).scalar_one_or_none()
    if old is None:
        raise UnknownVoucher()
    view = repository.find_by_id(session, voucher_id)
    assert view is not None
    status = effective_status(view, today)
    if status == VoucherStatus.replaced:
        raise VoucherReplaced()
    if status == VoucherStatus.expired:
        raise VoucherExpired()
    changed = rowcount(
        session.execute(
            update(Voucher)
            .where(Voucher.id == voucher_id, Voucher.status == VoucherStatus.active)
            .values(status=VoucherStatus.replaced, is_current=None)
        )
    )
    if changed != 1:
        raise VoucherReplaced()
    code = codes.generate_code()
    new_id = session.execute(
        insert(Voucher)
        .values(
            period_id=old.period_id,
            household_id=old.household_id,
            code_hash=codes.hash_code(code, _code_key(session)),
            status=VoucherStatus.active,
            is_current=True,
            issued_at=utcnow(),
        )
        .returning(Voucher.id)
    ).scalar_one()
    session.execute(update(Voucher).where(Voucher.id == voucher_id).values(replaced_by_id=new_id))
    new_account = ledger.open_account(session, AccountKind.voucher, voucher_id=new_id)
    balance = session.execute(
        select(LedgerAccount.balance_cents).where(LedgerAccount.id == view.account_id).with_for_update()
    ).scalar_one()
    if balance > 0:
        ledger.transfer(
            session,
            debit_account_id=view.account_id,
            credit_account_id=new_account,
            amount_cents=balance,
            kind=TransferKind.reissue,
        )
    record(
        session,
        actor=actor,
        action="voucher.reissued",
        subject_type="voucher",
        subject_id=voucher_id,
        before={"voucher_id": voucher_id, "balance_cents": balance},
        after={"voucher_id": new_id, "balance_cents": balance},
    )
    return new_id, codes.format_code(code)


def expire_ended_periods(session: Session, *, today: date, actor: str) -> list[tuple[str, int, int]]:
    """Close every open period whose end has passed: vouchers expire, their balances return to the pool.

    Returns (period name, vouchers expired, cents returned) per period closed.
    """
    closed = []
    periods = session.scalars(
        select(VoucherPeriod)
        .where(VoucherPeriod.status == PeriodStatus.open, VoucherPeriod.ends_on < today)
        .with_for_update()
    ).all()
    accounts: Table = LedgerAccount.__table__  # type: ignore[assignment]
    transfers: Table = LedgerTransfer.__table__  # type: ignore[assignment]
    for period in periods:
        pool_id = ledger.account_id_for(session, period_id=period.id)
        voucher_accounts = (
            select(accounts.c.id)
            .join(Voucher, Voucher.id == accounts.c.voucher_id)
            .where(Voucher.period_id == period.id, accounts.c.balance_cents > 0)
        )
        # Lock the balances we are about to move (PostgreSQL); SQLite's BEGIN IMMEDIATE already excludes writers.
        session.execute(
            select(accounts.c.id).where(accounts.c.id.in_(voucher_accounts)).with_for_update()
        ).all()
        total = session.scalar(
            select(func.coalesce(func.sum(accounts.c.balance_cents), 0)).where(
                accounts.c.id.in_(voucher_accounts)
            )
        )
        session.execute(
            insert(transfers).from_select(
                ["debit_account_id", "credit_account_id", "amount_cents", "kind", "created_at"],
                select(
                    accounts.c.id,
                    literal(pool_id),
                    accounts.c.balance_cents,
                    literal(TransferKind.expire.value),
                    literal(utcnow(), UTCDateTime()),
                ).where(accounts.c.id.in_(voucher_accounts)),
            )
        )
        session.execute(update(accounts).where(accounts.c.id.in_(voucher_accounts)).values(balance_cents=0))
        session.execute(
            update(accounts)
            .where(accounts.c.id == pool_id)
            .values(balance_cents=accounts.c.balance_cents + total)
        )
        expired = rowcount(
            session.execute(
                update(Voucher)
                .where(Voucher.period_id == period.id, Voucher.status == VoucherStatus.active)
                .values(status=VoucherStatus.expired)
            )
        )
        session.execute(
            update(VoucherPeriod)
            .where(VoucherPeriod.id == period.id)
            .values(status=PeriodStatus.closed, closed_at=utcnow())
        )
        record(
            session,
            actor=actor,
            action="period.closed",
            subject_type="period",
            subject_id=period.id,
            after={"vouchers_expired": expired, "returned_cents": total},
        )
        closed.append((period.name, expired, int(total or 0)))
    return closed


def _code_key(session: Session) -> bytes:
    key = session.info.get("code_key")
    if not isinstance(key, bytes):
        raise RuntimeError("session.info['code_key'] is not set; Database sets it for every session")
    return key


def reissue_for_address(
    session: Session,
    *,
    postcode: str,
    huisnummer: int,
    huisletter: str,
    toevoeging: str,
    period_name: str,
    actor: str,
    today: date,
) -> str:
    """Reissue the live voucher of the household at this address in the named period; returns the new code."""
    from app.kit.postcode import normalize_postcode
    from app.models import Household

    normal = normalize_postcode(postcode)
    if normal is None:
        raise PeriodInvalid(f"Postcode {postcode!r} klopt niet.", f"Postcode {postcode!r} is not valid.")
    household_id = session.execute(
        select(Household.id).where(
            Household.postcode == normal,
            Household.huisnummer == huisnummer,
            Household.huisletter == huisletter.upper(),
            Household.toevoeging == toevoeging.upper(),
        )
    ).scalar_one_or_none()
    period = repository.period_by_name(session, period_name)
    if household_id is None or period is None:
        raise UnknownVoucher()
    voucher = repository.current_for_household(session, household_id, period.id)
    if voucher is None:
        raise UnknownVoucher()
    _new_id, code = reissue(session, voucher_id=voucher.id, actor=actor, today=today)
    return code
