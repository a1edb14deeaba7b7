"""Queries the widgets need that no other page asks: counts and sums of initiatives in a set of areas."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Initiative


def count_initiatives(session: Session, *, statuses: Sequence[str], area_ids: Sequence[int]) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Initiative)
            .where(Initiative.status.in_(statuses), Initiative.area_id.in_(area_ids))
        )
        or 0
    )


def raised_in(session: Session, *, statuses: Sequence[str], area_ids: Sequence[int]) -> tuple[int, int]:
    """(initiatives, euro cents they raised from vouchers and donations) for these statuses and areas."""
    row = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(Initiative.pledged_cents + Initiative.donated_cents), 0),
        ).where(Initiative.status.in_(statuses), Initiative.area_id.in_(area_ids))
    ).one()
    return int(row[0]), int(row[1])
