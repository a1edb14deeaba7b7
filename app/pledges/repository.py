"""Queries on pledges."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Pledge


def get(session: Session, pledge_id: int) -> Pledge | None:
    return session.execute(select(Pledge).where(Pledge.id == pledge_id)).scalar_one_or_none()
