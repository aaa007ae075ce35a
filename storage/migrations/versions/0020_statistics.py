"""statistics: anonymous counters by period and closed-vocabulary facets

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

FACETS = (
    ("category", 64),
    ("year_of_study", 8),
    ("mode", 16),
    ("client", 12),
    ("outcome", 64),
    ("weeks_open", 8),
    ("scope", 32),
    ("basis", 32),
    ("recipient", 24),
    ("on_time", 4),
)


def upgrade() -> None:
    op.create_table(
        "statistics",
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("event", sa.String(length=24), nullable=False),
        *(sa.Column(name, sa.String(length=size), nullable=False) for name, size in FACETS),
        sa.Column("tally", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "period", "event", *(name for name, _ in FACETS), name=op.f("pk_statistics")
        ),
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
