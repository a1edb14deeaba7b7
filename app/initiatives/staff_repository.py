"""Queries for the back office's initiative pages; every one is limited to a staff member's scope."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from app.models import (
    Account,
    Area,
    Initiative,
    InitiativeStatus,
    InitiativeTransition,
    Organiser,
    Pledge,
    StaffMember,
)
from app.staff.scope import Scope


@dataclass(frozen=True)
class StaffRow:
    """One initiative in a back-office list."""

    id: int
    title: str
    status: str
    area_code: str
    area_name: str
    target_cents: int
    raised_cents: int
    submitted_at: datetime | None
    initiator_name: str
    owner_email: str | None
    on_behalf: bool


def _submitted_at() -> ColumnElement[datetime]:
    """When the initiative was (last) submitted to the wijkregisseur."""
    return (
        select(func.max(InitiativeTransition.created_at))
        .where(
            InitiativeTransition.initiative_id == Initiative.id,
            InitiativeTransition.to_status == InitiativeStatus.submitted,
        )
        .scalar_subquery()
    )


def _rows(scope: Scope) -> Select[*tuple[Any, ...]]:
    return (
        select(
            Initiative.id,
            Initiative.title,
            Initiative.status,
            Area.code,
            Area.name,
            Initiative.target_cents,
            Initiative.pledged_cents + Initiative.donated_cents,
            _submitted_at().label("submitted_at"),
            Initiative.initiator_name,
            Account.email,
            Initiative.created_by_staff_id.is_not(None),
        )
        .join(Area, Area.id == Initiative.area_id)
        .outerjoin(Account, Account.id == Initiative.owner_account_id)
        .where(scope.clause(Initiative.area_id))
    )


def _row(values: Sequence[object]) -> StaffRow:
    return StaffRow(*values)  # type: ignore[arg-type]


def queue(session: Session, scope: Scope, *, limit: int = 200) -> list[StaffRow]:
    """Submitted initiatives waiting for a decision, the longest waiting first."""
    statement = (
        _rows(scope)
        .where(Initiative.status == InitiativeStatus.submitted)
        .order_by(_submitted_at().asc().nulls_first(), Initiative.id.asc())
        .limit(limit)
    )
    return [_row(row) for row in session.execute(statement).all()]


@dataclass(frozen=True)
class StaffFilter:
    status: str | None = None
    area_ids: Sequence[int] | None = None
    """The chosen area and everything below it."""
    text: str = ""


def search(
    session: Session, scope: Scope, where: StaffFilter, *, limit: int, offset: int
) -> tuple[list[StaffRow], int]:
    """Initiatives in the scope matching the filter, newest first, and how many match in all."""
    conditions: list[ColumnElement[bool]] = [scope.clause(Initiative.area_id)]
    if where.status:
        conditions.append(Initiative.status == where.status)
    if where.area_ids is not None:
        conditions.append(Initiative.area_id.in_(sorted(where.area_ids)))
    if where.text:
        conditions.append(func.lower(Initiative.title).contains(where.text.lower(), autoescape=True))
    total = session.scalar(select(func.count()).select_from(Initiative).where(*conditions)) or 0
    statement = _rows(scope).where(*conditions).order_by(Initiative.id.desc()).limit(limit).offset(offset)
    return [_row(row) for row in session.execute(statement).all()], int(total)


@dataclass(frozen=True)
class HistoryStep:
    created_at: datetime
    from_status: str | None
    to_status: str
    actor: str
    actor_label: str
    reason: str


def history(session: Session, initiative_id: int) -> list[HistoryStep]:
    """Every status change, newest first, with a readable name for the staff member or account who made it."""
    steps = list(
        session.scalars(
            select(InitiativeTransition)
            .where(InitiativeTransition.initiative_id == initiative_id)
            .order_by(InitiativeTransition.id.desc())
        )
    )
    staff_ids = {_id_of(step.actor, "staff") for step in steps} - {None}
    account_ids = {_id_of(step.actor, "account") for step in steps} - {None}
    staff_names = {
        int(i): str(name)
        for i, name in session.execute(
            select(StaffMember.id, StaffMember.name).where(StaffMember.id.in_(sorted(staff_ids)))  # type: ignore[type-var]
        )
    }
    account_emails = {
        int(i): str(email)
        for i, email in session.execute(
            select(Account.id, Account.email).where(Account.id.in_(sorted(account_ids)))  # type: ignore[type-var]
        )
    }

    def label(actor: str) -> str:
        staff_id, account_id = _id_of(actor, "staff"), _id_of(actor, "account")
        if staff_id is not None and staff_id in staff_names:
            return staff_names[staff_id]
        if account_id is not None and account_id in account_emails:
            return account_emails[account_id]
        return ""

    return [
        HistoryStep(s.created_at, s.from_status, s.to_status, s.actor, label(s.actor), s.reason)
        for s in steps
    ]


def _id_of(actor: str, kind: str) -> int | None:
    prefix, _, number = actor.partition(":")
    return int(number) if prefix == kind and number.isdigit() else None


def organisers(session: Session, initiative_id: int) -> list[Organiser]:
    return list(
        session.scalars(
            select(Organiser).where(Organiser.initiative_id == initiative_id).order_by(Organiser.id)
        )
    )


def owner_email(session: Session, account_id: int | None) -> str | None:
    if account_id is None:
        return None
    return session.scalar(select(Account.email).where(Account.id == account_id))


def staff_name(session: Session, staff_id: int | None) -> str | None:
    if staff_id is None:
        return None
    return session.scalar(select(StaffMember.name).where(StaffMember.id == staff_id))


def open_pledges(session: Session, initiative_id: int) -> tuple[int, int]:
    """How many pledges are still counted towards the initiative, and their total in cents."""
    count, total = session.execute(
        select(func.count(), func.coalesce(func.sum(Pledge.amount_cents), 0)).where(
            Pledge.initiative_id == initiative_id, Pledge.returned_at.is_(None)
        )
    ).one()
    return int(count), int(total)


def area_of(session: Session, area_id: int) -> Area:
    return session.execute(select(Area).where(Area.id == area_id)).scalar_one()
