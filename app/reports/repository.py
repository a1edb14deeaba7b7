"""Queries for the results of a voucher period, per buurt (wijken and the gemeente add them up)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Household, Initiative, InitiativeStatus, Pledge, Voucher, VoucherPeriod


def periods(session: Session) -> list[VoucherPeriod]:
    return list(session.scalars(select(VoucherPeriod).order_by(VoucherPeriod.starts_on.desc())))


def households_per_buurt(session: Session, period_id: int) -> dict[int, int]:
    """Households that got a voucher this period, per buurt (a reissued voucher counts once)."""
    rows = session.execute(
        select(Household.buurt_id, func.count(func.distinct(Voucher.household_id)))
        .join(Household, Household.id == Voucher.household_id)
        .where(Voucher.period_id == period_id)
        .group_by(Household.buurt_id)
    )
    return {int(buurt): int(count) for buurt, count in rows}


def giving_per_buurt(session: Session, period_id: int) -> dict[int, tuple[int, int]]:
    """(households that gave, cents given) per buurt, counting pledges that were not returned."""
    rows = session.execute(
        select(
            Household.buurt_id,
            func.count(func.distinct(Voucher.household_id)),
            func.coalesce(func.sum(Pledge.amount_cents), 0),
        )
        .select_from(Pledge)
        .join(Voucher, Voucher.id == Pledge.voucher_id)
        .join(Household, Household.id == Voucher.household_id)
        .where(Voucher.period_id == period_id, Pledge.returned_at.is_(None))
        .group_by(Household.buurt_id)
    )
    return {int(buurt): (int(households), int(cents)) for buurt, households, cents in rows}


def funded_per_area(session: Session, since: datetime, until: datetime) -> dict[int, int]:
    """Initiatives that reached their target in this window, per area they belong to."""
    rows = session.execute(
        select(Initiative.area_id, func.count())
        .where(
            Initiative.status.in_([InitiativeStatus.funded, InitiativeStatus.completed]),
            Initiative.funded_at >= since,
            Initiative.funded_at <= until,
        )
        .group_by(Initiative.area_id)
    )
    return {int(area): int(count) for area, count in rows}
