"""retention: the warning before a case is deleted, the purges' counts, monthly summaries

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("retention_warned_for", sa.DateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "retention_runs",
        sa.Column("ran_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Integer(), nullable=False),
        sa.Column("documents", sa.Integer(), nullable=False),
        sa.Column("students", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_runs")),
    )
    with op.batch_alter_table("retention_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_retention_runs_ran_at"), ["ran_at"], unique=False)
    op.create_table(
        "retention_summaries",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_retention_summaries")),
    )


def downgrade() -> None:
    op.drop_table("retention_summaries")
    with op.batch_alter_table("retention_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_retention_runs_ran_at"))
    op.drop_table("retention_runs")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("retention_warned_for")
