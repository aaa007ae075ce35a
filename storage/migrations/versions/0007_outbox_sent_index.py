"""outbox: index sent_at; body and recipient cleared once sent (nullable)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 12:09:04.457909
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_sent_at"), ["sent_at"], unique=False)
        batch_op.alter_column("recipient_enc", existing_type=sa.LargeBinary(), nullable=True)
        batch_op.alter_column("body_enc", existing_type=sa.LargeBinary(), nullable=True)
    # Messages already delivered need no copy of their text or recipient.
    op.execute("UPDATE outbox SET body_enc = NULL, recipient_enc = NULL WHERE status = 'sent'")


def downgrade() -> None:
    # Cleared texts cannot come back: sent rows get empty values to satisfy NOT NULL again.
    op.execute(
        sa.text(
            "UPDATE outbox SET body_enc = :empty, recipient_enc = :empty "
            "WHERE body_enc IS NULL OR recipient_enc IS NULL"
        ).bindparams(empty=b"")
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column("body_enc", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.alter_column("recipient_enc", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_index(batch_op.f("ix_outbox_sent_at"))
