"""appointments: when the current times were set, and a move in progress

Revision ID: 0014
Revises: 0007
Create Date: 2026-12-02 18:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0014"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("scheduled_at", storage.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("moving_until", storage.models.UTCDateTime(timezone=True), nullable=True)
        )
    # The last change is the best record of when the times were set (booking or move).
    op.execute("UPDATE appointments SET scheduled_at = updated_at")
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.alter_column(
            "scheduled_at",
            existing_type=storage.models.UTCDateTime(timezone=True),
            nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_column("moving_until")
        batch_op.drop_column("scheduled_at")
