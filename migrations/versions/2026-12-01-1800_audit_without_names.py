"""audit log without names: remove the initiator's name and the payout account holder from old entries

The audit log is kept for ever, so it must not hold what retention removes. Since this revision the app no
longer writes these two fields (initiative.created_by_staff: initiator_name; payout.approved:
account_holder); this removes them from entries written before. The append-only trigger is lifted for
this one statement per row and put back in the same transaction.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 18:00:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAMES = {"initiative.created_by_staff": "initiator_name", "payout.approved": "account_holder"}
SQLITE_NO_UPDATE = (
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events"
    " BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
)


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT id, action, after FROM audit_events WHERE action IN ('initiative.created_by_staff', 'payout.approved')"
        )
    ).all()
    changed = []
    for row_id, action, after in rows:
        details = json.loads(after) if after else None
        if isinstance(details, dict) and NAMES[action] in details:
            del details[NAMES[action]]
            changed.append({"id": row_id, "after": json.dumps(details, sort_keys=True)})
    if not changed:
        return
    postgres = bind.dialect.name == "postgresql"
    if postgres:
        op.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
    else:
        op.execute("DROP TRIGGER audit_events_no_update")
    bind.execute(sa.text("UPDATE audit_events SET after = :after WHERE id = :id"), changed)
    if postgres:
        op.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")
    else:
        op.execute(SQLITE_NO_UPDATE)


def downgrade() -> None:
    """What was removed is gone; the schema did not change."""
