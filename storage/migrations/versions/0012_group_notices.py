"""group_notices: the day each group (by blind index) was last told "private chats only"

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 18:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "group_notices",
        sa.Column("chat_index", sa.String(length=64), nullable=False),
        sa.Column("said_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("chat_index", name=op.f("pk_group_notices")),
    )


def downgrade() -> None:
    op.drop_table("group_notices")
