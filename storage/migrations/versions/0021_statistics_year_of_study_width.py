"""statistics: room for every year of study ("foundation" is ten characters, the column held 8)

PostgreSQL refused the counter of a case opened by a foundation-year student (SQLite does not
check lengths), and with it the submission it was counted in. The column grows to 16.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("statistics", schema=None) as batch_op:
        batch_op.alter_column(
            "year_of_study",
            existing_type=sa.String(length=8),
            type_=sa.String(length=16),
            existing_nullable=False,
        )


def downgrade() -> None:
    # A PostgreSQL database that counted a foundation-year case refuses this (it would cut
    # the value): those counters have nowhere to go in the old column.
    with op.batch_alter_table("statistics", schema=None) as batch_op:
        batch_op.alter_column(
            "year_of_study",
            existing_type=sa.String(length=16),
            type_=sa.String(length=8),
            existing_nullable=False,
        )
