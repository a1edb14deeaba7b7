"""What needs a staff member's attention, for the back-office home page (within their scope)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Initiative, InitiativeStatus, NewsItem, Payout, PayoutStatus
from app.models.base import utcnow
from app.staff.scope import Scope


@dataclass(frozen=True)
class Attention:
    to_moderate: int
    funded_without_payout: int
    payouts_to_export: int
    news_scheduled: int


def attention(session: Session, scope: Scope) -> Attention:
    def count(statement: object) -> int:
        return int(session.scalar(statement) or 0)  # type: ignore[call-overload]

    in_scope = scope.clause(Initiative.area_id)
    return Attention(
        to_moderate=count(
            select(func.count())
            .select_from(Initiative)
            .where(in_scope, Initiative.status == InitiativeStatus.submitted)
        ),
        funded_without_payout=count(
            select(func.count())
            .select_from(Initiative)
            .outerjoin(Payout, Payout.initiative_id == Initiative.id)
            .where(
                in_scope,
                Initiative.status.in_([InitiativeStatus.funded, InitiativeStatus.completed]),
                Payout.id.is_(None),
            )
        ),
        payouts_to_export=count(
            select(func.count())
            .select_from(Payout)
            .join(Initiative, Initiative.id == Payout.initiative_id)
            .where(in_scope, Payout.status == PayoutStatus.approved)
        ),
        news_scheduled=count(
            select(func.count())
            .select_from(NewsItem)
            .where(
                scope.clause(NewsItem.area_id), NewsItem.published_at > utcnow(), NewsItem.hidden.is_(False)
            )
        ),
    )
