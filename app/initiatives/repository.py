"""Queries on initiatives."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from app.models import Area, Initiative, LedgerAccount, Pledge, Voucher


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
    supporters = (
        select(func.count(func.distinct(Voucher.household_id)))
        .select_from(Pledge)
        .join(Voucher, Voucher.id == Pledge.voucher_id)
        .where(Pledge.initiative_id == Initiative.id, Pledge.returned_at.is_(None))
        .scalar_subquery()
    )
    statement = (
        select(Initiative, Area.code, supporters)
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
