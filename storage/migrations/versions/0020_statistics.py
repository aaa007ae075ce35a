"""statistics: anonymous counters by period and closed-vocabulary facets, sealed

The counters are back-filled from the records held at upgrade time by `python -m bot migrate`
after this revision (it needs the data keys, which revisions are not given); a new database
has nothing to back-fill.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "statistics",
        sa.Column("counter_key", sa.String(length=64), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statistics")),
        sa.UniqueConstraint("counter_key", name=op.f("uq_statistics_counter_key")),
    )
    op.create_table(
        "statistics_backfill",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statistics_backfill")),
    )


def downgrade() -> None:
    op.drop_table("statistics_backfill")
    op.drop_table("statistics")
