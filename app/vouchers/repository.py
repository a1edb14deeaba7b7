"""Queries on vouchers and periods."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ColumnElement,
    Row,
    Table,
    and_,
    any_,
    bindparam,
    func,
    insert,
    select,
    text,
    tuple_,
)
from sqlalchemy.orm import Session

from app.models import Area, Household, LedgerAccount, Voucher, VoucherPeriod
from app.models.base import UTCDateTime


@dataclass(frozen=True)
class VoucherView:
    id: int
    status: str
    period_id: int
    period_name: str
    ends_on: date
    account_id: int
    balance_cents: int
    household_id: int
    buurt_id: int
    buurt_code: str


_VIEW = (
    select(
        Voucher.id.label("id"),
        Voucher.status.label("status"),
        Voucher.period_id.label("period_id"),
        VoucherPeriod.name.label("period_name"),
        VoucherPeriod.ends_on.label("ends_on"),
        LedgerAccount.id.label("account_id"),
        LedgerAccount.balance_cents.label("balance_cents"),
        Voucher.household_id.label("household_id"),
        Household.buurt_id.label("buurt_id"),
        Area.code.label("buurt_code"),
    )
    .join(VoucherPeriod, VoucherPeriod.id == Voucher.period_id)
    .join(LedgerAccount, LedgerAccount.voucher_id == Voucher.id)
    .join(Household, Household.id == Voucher.household_id)
    .join(Area, Area.id == Household.buurt_id)
)


_BY_HASH = _VIEW.where(Voucher.code_hash == bindparam("code_hash"))


def find_by_hash(session: Session, code_hash: str) -> VoucherView | None:
    row = session.connection().execute(_BY_HASH, {"code_hash": code_hash}).one_or_none()
    return VoucherView(**row._asdict()) if row else None


def find_by_id(session: Session, voucher_id: int) -> VoucherView | None:
    row = session.execute(_VIEW.where(Voucher.id == voucher_id)).one_or_none()
    return VoucherView(**row._asdict()) if row else None


def current_for_household(session: Session, household_id: int, period_id: int) -> Voucher | None:
    return session.execute(
        select(Voucher).where(
            Voucher.household_id == household_id, Voucher.period_id == period_id, Voucher.is_current.is_(True)
        )
    ).scalar_one_or_none()


def period_by_name(session: Session, name: str, *, for_update: bool = False) -> VoucherPeriod | None:
    statement = select(VoucherPeriod).where(VoucherPeriod.name == name)
    if for_update:
        statement = statement.with_for_update()
    return session.execute(statement).scalar_one_or_none()


def _without_voucher(period_id: int | None) -> ColumnElement[bool]:
    """The one rule for who gets a voucher when a period opens: active households without a live voucher
    in it (for a period that does not exist yet: every active household)."""
    if period_id is None:
        return Household.active.is_(True)
    has_voucher = (
        select(Voucher.id)
        .where(
            Voucher.household_id == Household.id, Voucher.period_id == period_id, Voucher.is_current.is_(True)
        )
        .exists()
    )
    return and_(Household.active.is_(True), ~has_voucher)


def households_without_voucher(session: Session, period_id: int) -> list[int]:
    """Ids of active households that have no live voucher in the period, in mail-house order."""
    return list(
        session.scalars(
            select(Household.id)
            .where(_without_voucher(period_id))
            .order_by(Household.postcode, Household.huisnummer, Household.huisletter, Household.toevoeging)
        )
    )


def count_households_without_voucher(session: Session, period_id: int | None) -> int:
    """How many households `households_without_voucher` gives (None: a period not opened yet)."""
    return int(
        session.scalar(select(func.count()).select_from(Household).where(_without_voucher(period_id))) or 0
    )


@dataclass(frozen=True)
class PeriodRow:
    id: int
    name: str
    starts_on: date
    ends_on: date
    value_cents: int
    status: str
    vouchers: int
    """Live vouchers (one per household; replaced ones not counted)."""
    replaced: int


def period_overview(session: Session) -> list[PeriodRow]:
    """Every period, newest start first, with its number of live and replaced vouchers."""
    live = func.count(Voucher.id).filter(Voucher.is_current.is_(True))
    replaced = func.count(Voucher.id).filter(Voucher.is_current.is_(None))
    statement = (
        select(
            VoucherPeriod.id,
            VoucherPeriod.name,
            VoucherPeriod.starts_on,
            VoucherPeriod.ends_on,
            VoucherPeriod.value_cents,
            VoucherPeriod.status,
            live,
            replaced,
        )
        .outerjoin(Voucher, Voucher.period_id == VoucherPeriod.id)
        .group_by(VoucherPeriod.id)
        .order_by(VoucherPeriod.starts_on.desc(), VoucherPeriod.id.desc())
    )
    return [PeriodRow(*row) for row in session.execute(statement)]


def households_by_ids(session: Session, ids: list[int]) -> list[Row[Any]]:
    """Address rows (not ORM objects, so a long issuance keeps no identity map) in the order of `ids`."""
    table: Table = Household.__table__  # type: ignore[assignment]
    if session.get_bind().dialect.name == "postgresql":
        # One array parameter instead of thousands of IN (…) parameters to bind and parse.
        wanted = table.c.id == any_(bindparam("ids", ids, type_=ARRAY(BigInteger)))
    else:
        wanted = table.c.id.in_(ids)
    by_id = {row.id: row for row in session.execute(select(table).where(wanted))}
    return [by_id[i] for i in ids]


_INSERT_VOUCHERS_PG = text(
    "INSERT INTO vouchers (period_id, household_id, code_hash, status, is_current, issued_at) "
    "SELECT :period_id, h, c, 'active', true, :now "
    "FROM unnest(CAST(:ids AS bigint[]), CAST(:hashes AS varchar[])) AS t(h, c)"
).bindparams(bindparam("now", type_=UTCDateTime()))


def insert_vouchers(
    session: Session, *, period_id: int, household_ids: list[int], code_hashes: list[str], now: datetime
) -> None:
    """Insert new live vouchers in one statement (PostgreSQL: two arrays, not thousands of row parameters)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            _INSERT_VOUCHERS_PG,
            {"period_id": period_id, "ids": household_ids, "hashes": code_hashes, "now": now},
        )
        return
    table: Table = Voucher.__table__  # type: ignore[assignment]
    session.execute(
        insert(table),
        [
            {
                "period_id": period_id,
                "household_id": household_id,
                "code_hash": code_hash,
                "status": "active",
                "is_current": True,
                "issued_at": now,
            }
            for household_id, code_hash in zip(household_ids, code_hashes, strict=True)
        ],
    )


AddressKey = tuple[str, int, str, str]
"""(postcode, huisnummer, huisletter, toevoeging) as stored: postcode normalised, letter and addition in
capitals, empty when absent."""
_ADDRESS_CHUNK = 500


def households_at(session: Session, addresses: Sequence[AddressKey]) -> dict[AddressKey, Row[Any]]:
    """The household rows (all columns, as `households_by_ids` gives them) at these addresses."""
    table: Table = Household.__table__  # type: ignore[assignment]
    key = tuple_(table.c.postcode, table.c.huisnummer, table.c.huisletter, table.c.toevoeging)
    found: dict[AddressKey, Row[Any]] = {}
    wanted = list(dict.fromkeys(addresses))
    for start in range(0, len(wanted), _ADDRESS_CHUNK):
        for row in session.execute(select(table).where(key.in_(wanted[start : start + _ADDRESS_CHUNK]))):
            found[(row.postcode, row.huisnummer, row.huisletter, row.toevoeging)] = row
    return found


def current_vouchers(
    session: Session, period_id: int, household_ids: Sequence[int]
) -> dict[int, VoucherView]:
    """The live voucher in the period of each of these households (by household id), where there is one."""
    found: dict[int, VoucherView] = {}
    for start in range(0, len(household_ids), _ADDRESS_CHUNK):
        statement = _VIEW.where(
            Voucher.period_id == period_id,
            Voucher.is_current.is_(True),
            Voucher.household_id.in_(household_ids[start : start + _ADDRESS_CHUNK]),
        )
        for row in session.execute(statement):
            view = VoucherView(**row._asdict())
            found[view.household_id] = view
    return found
