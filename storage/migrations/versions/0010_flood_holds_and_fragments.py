"""outbox_chat_holds (RetryAfter holds a whole chat); information_sheets hold a split text

Revision ID: 0010
Revises: 0014
Create Date: 2026-12-02 18:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision: str = "0010"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_chat_holds",
        sa.Column("chat_key", sa.String(length=64), nullable=False),
        sa.Column("until", UTCDateTime(), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_chat_holds")),
    )
    with op.batch_alter_table("outbox_chat_holds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_chat_holds_chat_key"), ["chat_key"])
        batch_op.create_index(batch_op.f("ix_outbox_chat_holds_until"), ["until"])
    with op.batch_alter_table("information_sheets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fragment_enc", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("fragment_until", UTCDateTime(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_information_sheets_fragment_until"), ["fragment_until"]
        )


def downgrade() -> None:
    with op.batch_alter_table("information_sheets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_information_sheets_fragment_until"))
        batch_op.drop_column("fragment_until")
        batch_op.drop_column("fragment_enc")
    with op.batch_alter_table("outbox_chat_holds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_chat_holds_until"))
        batch_op.drop_index(batch_op.f("ix_outbox_chat_holds_chat_key"))
    op.drop_table("outbox_chat_holds")
