"""staff protection: second factors and their sessions, published policy versions, review
reminders

The policy staff acknowledge becomes a row the coordinator publishes (with the date the Board
of Trustees approved it); until one is published the bundled statement stays current, so
existing acknowledgements keep counting. No data changes.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_second_factors",
        sa.Column("staff_id", sa.String(length=32), nullable=False),
        sa.Column("secret_enc", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_step", sa.BigInteger(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unlocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("setup_message_ids", sa.String(length=64), nullable=True),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_staff_second_factors_staff_id_staff"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_second_factors")),
        sa.UniqueConstraint("staff_id", name=op.f("uq_staff_second_factors_staff_id")),
    )
    op.create_table(
        "policy_versions",
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("approved_on", sa.Date(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(length=32), nullable=True),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["published_by"],
            ["staff.id"],
            name=op.f("fk_policy_versions_published_by_staff"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_versions")),
        sa.UniqueConstraint("version", name=op.f("uq_policy_versions_version")),
    )
    op.create_table(
        "policy_review_reminders",
        sa.Column("policy_version", sa.String(length=32), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "policy_version", "due_on", name=op.f("pk_policy_review_reminders")
        ),
    )


def downgrade() -> None:
    op.drop_table("policy_review_reminders")
    op.drop_table("policy_versions")
    op.drop_table("staff_second_factors")
