"""news updated_at: when an item last changed, for the feeds

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 14:29:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("news_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    # An existing item last changed when it was published (or created, if that was later).
    op.execute(
        "UPDATE news_items SET updated_at = CASE WHEN published_at > created_at THEN published_at"
        " ELSE created_at END"
    )
    with op.batch_alter_table("news_items", schema=None) as batch_op:
        batch_op.alter_column("updated_at", existing_type=sa.DateTime(timezone=True), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("news_items", schema=None) as batch_op:
        batch_op.drop_column("updated_at")
