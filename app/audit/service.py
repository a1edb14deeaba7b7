"""Recording who did what; rows are only ever inserted."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from app.models import AuditEvent
from app.models.base import utcnow


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Append one audit event in the caller's transaction."""
    session.execute(
        insert(AuditEvent).values(
            created_at=utcnow(),
            actor=actor,
            action=action,
            subject_type=subject_type,
            subject_id=str(subject_id),
            before=json.dumps(before, default=str, sort_keys=True) if before is not None else None,
            after=json.dumps(after, default=str, sort_keys=True) if after is not None else None,
        )
    )
