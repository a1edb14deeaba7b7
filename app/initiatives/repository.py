"""Queries on initiatives."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, and_, bindparam, func, select
from sqlalchemy.orm import Session

from app.models import (
    Area,
    BudgetLine,
    Initiative,
    InitiativePhoto,
    InitiativeStatus,
    LedgerAccount,
    Pledge,
    Voucher,
)


@dataclass(frozen=True)
class PledgeTarget:
    id: int
    status: str
    area_id: int
    target_cents: int
    raised_cents: int
    deadline: date | None
    account_id: int


_PLEDGE_TARGET = (
    select(
        Initiative.id,
        Initiative.status,
        Initiative.area_id,
        Initiative.target_cents,
        Initiative.pledged_cents + Initiative.donated_cents,
        Initiative.deadline,
        LedgerAccount.id,
    )
    .join(LedgerAccount, LedgerAccount.initiative_id == Initiative.id)
    .where(Initiative.id == bindparam("initiative_id"))
)


def pledge_target(session: Session, initiative_id: int) -> PledgeTarget | None:
    row = session.connection().execute(_PLEDGE_TARGET, {"initiative_id": initiative_id}).one_or_none()
    return PledgeTarget(*row) if row else None


def get(session: Session, initiative_id: int, *, for_update: bool = False) -> Initiative | None:
    statement = select(Initiative).where(Initiative.id == initiative_id)
    if for_update:
        statement = statement.with_for_update()
    return session.execute(statement).scalar_one_or_none()


def list_public(
    session: Session,
    *,
    statuses: Sequence[str],
    area_ids: Sequence[int] | None,
    limit: int,
    offset: int,
    ids: Sequence[int] | None = None,
) -> list[tuple[Initiative, str, int]]:
    """Initiatives with their area code and number of supporting households."""
    statement = (
        select(Initiative, Area.code, _supporters())
        .join(Area, Area.id == Initiative.area_id)
        .where(Initiative.status.in_(statuses))
        .order_by(Initiative.published_at.desc().nulls_last(), Initiative.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if area_ids is not None:
        statement = statement.where(Initiative.area_id.in_(area_ids))
    if ids is not None:
        statement = statement.where(Initiative.id.in_(ids))
    return [(initiative, code, int(count or 0)) for initiative, code, count in session.execute(statement)]


def open_pledges(session: Session, initiative_id: int) -> list[Pledge]:
    return list(
        session.scalars(
            select(Pledge)
            .where(Pledge.initiative_id == initiative_id, Pledge.returned_at.is_(None))
            .order_by(Pledge.id)
        )
    )


def past_deadline(session: Session, today: date) -> list[int]:
    return list(
        session.scalars(
            select(Initiative.id)
            .where(Initiative.status == "published", Initiative.deadline < today)
            .order_by(Initiative.id)
        )
    )


NEARLY_FUNDED_PERCENT = 75


@dataclass(frozen=True)
class InitiativeCard:
    """What a list or a page shows of a public initiative."""

    id: int
    title: str
    summary: str
    category: str
    status: str
    area_id: int
    area_code: str
    area_name: str
    area_kind: str
    area_parent_id: int | None
    target_cents: int
    raised_cents: int
    deadline: date | None
    published_at: datetime | None
    supporters: int
    photo_filename: str | None
    photo_width: int | None
    photo_height: int | None
    photo_alt: str | None

    @property
    def percent(self) -> int:
        return min(100, self.raised_cents * 100 // self.target_cents) if self.target_cents else 0

    @property
    def still_needed_cents(self) -> int:
        return max(0, self.target_cents - self.raised_cents)

    def days_left(self, today: date) -> int | None:
        return (self.deadline - today).days if self.deadline else None


def _supporters() -> ColumnElement[int]:
    return (
        select(func.count(func.distinct(Voucher.household_id)))
        .select_from(Pledge)
        .join(Voucher, Voucher.id == Pledge.voucher_id)
        .where(Pledge.initiative_id == Initiative.id, Pledge.returned_at.is_(None))
        .scalar_subquery()
    )


def _cards_statement():  # type: ignore[no-untyped-def]
    return (
        select(
            Initiative.id,
            Initiative.title,
            Initiative.summary,
            Initiative.category,
            Initiative.status,
            Area.id,
            Area.code,
            Area.name,
            Area.kind,
            Area.parent_id,
            Initiative.target_cents,
            Initiative.pledged_cents + Initiative.donated_cents,
            Initiative.deadline,
            Initiative.published_at,
            _supporters(),
            InitiativePhoto.filename,
            InitiativePhoto.width,
            InitiativePhoto.height,
            InitiativePhoto.alt_text,
        )
        .join(Area, Area.id == Initiative.area_id)
        .outerjoin(
            InitiativePhoto,
            and_(InitiativePhoto.initiative_id == Initiative.id, InitiativePhoto.position == 0),
        )
    )


def cards(
    session: Session,
    *,
    statuses: Sequence[str],
    area_ids: Sequence[int] | None = None,
    category: str | None = None,
    published_since: datetime | None = None,
    nearly_funded: bool = False,
    ids: Sequence[int] | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[InitiativeCard]:
    """Public initiatives as cards, newest first (nearly funded: closest to their target first)."""
    statement = _cards_statement().where(Initiative.status.in_(statuses))
    if area_ids is not None:
        statement = statement.where(Initiative.area_id.in_(area_ids))
    if category:
        statement = statement.where(Initiative.category == category)
    if published_since is not None:
        statement = statement.where(Initiative.published_at >= published_since)
    if ids is not None:
        statement = statement.where(Initiative.id.in_(ids))
    raised = Initiative.pledged_cents + Initiative.donated_cents
    if nearly_funded:
        statement = statement.where(
            Initiative.status == InitiativeStatus.published,
            raised * 100 >= Initiative.target_cents * NEARLY_FUNDED_PERCENT,
        ).order_by((Initiative.target_cents - raised).asc(), Initiative.id.desc())
    else:
        statement = statement.order_by(Initiative.published_at.desc().nulls_last(), Initiative.id.desc())
    rows = session.execute(statement.limit(limit).offset(offset)).all()
    return [InitiativeCard(*row) for row in rows]


def card(session: Session, initiative_id: int, *, statuses: Sequence[str]) -> InitiativeCard | None:
    found = cards(session, statuses=statuses, ids=[initiative_id], limit=1)
    return found[0] if found else None


def description_and_initiator(session: Session, initiative_id: int) -> tuple[str, str]:
    row = session.execute(
        select(Initiative.description, Initiative.initiator_name).where(Initiative.id == initiative_id)
    ).one()
    return str(row[0]), str(row[1])


def budget_lines(session: Session, initiative_id: int) -> list[BudgetLine]:
    return list(
        session.scalars(
            select(BudgetLine).where(BudgetLine.initiative_id == initiative_id).order_by(BudgetLine.position)
        )
    )


def photos(session: Session, initiative_id: int) -> list[InitiativePhoto]:
    return list(
        session.scalars(
            select(InitiativePhoto)
            .where(InitiativePhoto.initiative_id == initiative_id)
            .order_by(InitiativePhoto.position)
        )
    )


def used_categories(session: Session, statuses: Sequence[str]) -> list[str]:
    return list(
        session.scalars(
            select(Initiative.category)
            .where(Initiative.status.in_(statuses), Initiative.category != "")
            .distinct()
            .order_by(Initiative.category)
        )
    )
