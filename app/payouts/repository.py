"""Queries for payouts; every list is filtered by the staff member's scope (`Initiative.area_id`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from app.models import (
    Area,
    Initiative,
    InitiativeStatus,
    LedgerAccount,
    Payout,
    PayoutBatch,
    PayoutStatus,
    StaffMember,
)
from app.payouts.sepa import FileRow
from app.staff.scope import Scope

PAYABLE = (InitiativeStatus.funded, InitiativeStatus.completed)
WAITING = "waiting"
"""Filter value: funded without a payout yet."""
FILTERS = ("", WAITING, *(status.value for status in PayoutStatus))


@dataclass(frozen=True)
class PayoutLine:
    """A funded (or completed) initiative and its payout, if any, for the list and the detail page."""

    initiative_id: int
    title: str
    initiative_status: str
    area_id: int
    area_name: str
    raised_cents: int
    paid_out_cents: int
    balance_cents: int
    iban: str | None
    account_holder: str | None
    payout_id: int | None
    payout_status: str | None
    amount_cents: int | None
    end_to_end_id: str | None
    batch_id: int | None
    approved_at: datetime | None
    approved_by: str | None
    paid_at: datetime | None


def _lines_query():  # type: ignore[no-untyped-def]
    approver = StaffMember
    return (
        select(
            Initiative.id,
            Initiative.title,
            Initiative.status,
            Initiative.area_id,
            Area.name,
            Initiative.pledged_cents + Initiative.donated_cents,
            Initiative.paid_out_cents,
            func.coalesce(LedgerAccount.balance_cents, 0),
            Initiative.payout_iban,
            Initiative.payout_account_holder,
            Payout.id,
            Payout.status,
            Payout.amount_cents,
            Payout.end_to_end_id,
            Payout.batch_id,
            Payout.approved_at,
            approver.name,
            Payout.paid_at,
        )
        .join(Area, Area.id == Initiative.area_id)
        .outerjoin(LedgerAccount, LedgerAccount.initiative_id == Initiative.id)
        .outerjoin(Payout, Payout.initiative_id == Initiative.id)
        .outerjoin(approver, approver.id == Payout.approved_by_staff_id)
    )


def _line(row: tuple[object, ...]) -> PayoutLine:
    return PayoutLine(*row)  # type: ignore[arg-type]


def payout_lines(session: Session, scope: Scope, status: str = "") -> list[PayoutLine]:
    """Funded and completed initiatives in scope (plus any with a payout), newest funded first."""
    conditions: list[ColumnElement[bool]] = [scope.clause(Initiative.area_id)]
    if status == WAITING:
        conditions += [Initiative.status.in_(PAYABLE), Payout.id.is_(None)]
    elif status:
        conditions.append(Payout.status == status)
    else:
        conditions.append(Initiative.status.in_(PAYABLE) | Payout.id.is_not(None))
    rows = session.execute(
        _lines_query().where(*conditions).order_by(Initiative.funded_at.desc(), Initiative.id.desc())
    ).all()
    return [_line(tuple(row)) for row in rows]


def payout_line(session: Session, initiative_id: int) -> PayoutLine | None:
    """One initiative's line, whatever its status (the caller checks the scope)."""
    row = session.execute(_lines_query().where(Initiative.id == initiative_id)).one_or_none()
    return _line(tuple(row)) if row is not None else None


def initiative_balance(session: Session, initiative_id: int) -> int:
    return int(
        session.scalar(
            select(LedgerAccount.balance_cents).where(LedgerAccount.initiative_id == initiative_id)
        )
        or 0
    )


def payout_area(session: Session, payout_id: int) -> tuple[Payout, int] | None:
    """A payout and its initiative's area (for the scope check)."""
    row = session.execute(
        select(Payout, Initiative.area_id)
        .join(Initiative, Initiative.id == Payout.initiative_id)
        .where(Payout.id == payout_id)
    ).one_or_none()
    return (row[0], int(row[1])) if row is not None else None


def approved_for_export(session: Session) -> list[Payout]:
    """Every approved payout not yet in a file, locked (PostgreSQL) so two exports cannot take the same."""
    return list(
        session.scalars(
            select(Payout)
            .where(Payout.status == PayoutStatus.approved, Payout.batch_id.is_(None))
            .order_by(Payout.id)
            .with_for_update()
        )
    )


def file_rows(
    session: Session, payout_ids: list[int] | None = None, *, batch_id: int | None = None
) -> list[FileRow]:
    """The payouts (by id, or of a batch) as rows for the SEPA file and the CSV, in payout order."""
    query = (
        select(
            Payout.end_to_end_id,
            Payout.initiative_id,
            Initiative.title,
            Payout.account_holder,
            Payout.iban,
            Payout.amount_cents,
            StaffMember.name,
            Payout.approved_at,
        )
        .join(Initiative, Initiative.id == Payout.initiative_id)
        .join(StaffMember, StaffMember.id == Payout.approved_by_staff_id)
        .order_by(Payout.id)
    )
    if batch_id is not None:
        query = query.where(Payout.batch_id == batch_id)
    if payout_ids is not None:
        query = query.where(Payout.id.in_(payout_ids))
    return [FileRow(*row) for row in session.execute(query)]


@dataclass(frozen=True)
class BatchLine:
    id: int
    message_id: str
    created_at: datetime
    created_by: str
    payment_count: int
    total_cents: int
    paid_count: int


def batch_lines(session: Session) -> list[BatchLine]:
    paid = (
        select(Payout.batch_id, func.count().label("paid"))
        .where(Payout.status == PayoutStatus.paid)
        .group_by(Payout.batch_id)
        .subquery()
    )
    rows = session.execute(
        select(
            PayoutBatch.id,
            PayoutBatch.message_id,
            PayoutBatch.created_at,
            StaffMember.name,
            PayoutBatch.payment_count,
            PayoutBatch.total_cents,
            func.coalesce(paid.c.paid, 0),
        )
        .join(StaffMember, StaffMember.id == PayoutBatch.created_by_staff_id)
        .outerjoin(paid, paid.c.batch_id == PayoutBatch.id)
        .order_by(PayoutBatch.id.desc())
    )
    return [BatchLine(*row) for row in rows]


def batch_area_ids(session: Session, batch_id: int) -> set[int]:
    """The areas of the initiatives paid in a batch (for a scope check)."""
    return set(
        session.scalars(
            select(Initiative.area_id)
            .join(Payout, Payout.initiative_id == Initiative.id)
            .where(Payout.batch_id == batch_id)
        )
    )


def count_to_export(session: Session) -> int:
    return int(
        session.scalar(select(func.count()).select_from(Payout).where(Payout.status == PayoutStatus.approved))
        or 0
    )
