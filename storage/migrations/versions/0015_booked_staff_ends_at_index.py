"""appointments: index live bookings by adviser and end, for the slot search

Revision ID: 0015
Revises: 0009
Create Date: 2026-12-05 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BOOKED_ROWS = sa.text("status = 'booked'")


def upgrade() -> None:
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_appointments_booked_staff_ends_at",
            ["staff_id", "ends_at"],
            unique=False,
            sqlite_where=BOOKED_ROWS,
            postgresql_where=BOOKED_ROWS,
        )


def downgrade() -> None:
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_appointments_booked_staff_ends_at",
            sqlite_where=BOOKED_ROWS,
            postgresql_where=BOOKED_ROWS,
        )
