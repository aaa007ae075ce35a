"""fixed shape: nothing about the removed flag or a consent choice readable without a key

Every appointment gets a sealed record of what Security was told (nothing, for most), every
student a sealed removed flag ("" until a sheet says), both NOT NULL and padded to one
length; consent choices move from the clear `granted` column to a sealed, padded
`decision_enc`; sheets and waiting outbox messages are re-sealed padded; Security notices
already sent are deleted (a sent row keeps no text, only what dedupe needs, and sync never
relies on it: each appointment's sealed record says what Security was told).

Keys: sealing needs the data keys, which only the settings hold. `python -m bot migrate`
passes the key ring to Alembic (storage.migrate, `config.attributes["keys"]`) and this
revision opens and seals rows with it, in the migration's own transaction. On a database
with no rows to convert (a new one) no key is needed; otherwise the revision stops before
changing anything and says to run it with USS_DATA_KEYS set. The downgrade needs the keys
too when there are rows (it unseals consent choices back into `granted` and un-pads values
the old code reads as plain text).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 18:20:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection

from storage.crypto import FieldContext, KeyRing, padded
from storage.migrate import data_keys

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the sizes in storage.models at this revision.
REMOVED_FLAG_BYTES = 16
CONSENT_DECISION_BYTES = 16
SECURITY_RECORD_BYTES = 128
SHEET_ANSWERS_BLOCK = 1024
OUTBOX_RECIPIENT_BYTES = 32
OUTBOX_BODY_BYTES = 16384
OUTBOX_ESCALATION_BYTES = 1024
NOTHING_TOLD = {"listed": None, "version": 0}

students = sa.table(
    "students", sa.column("id", sa.String), sa.column("removed_enc", sa.LargeBinary)
)
appointments = sa.table(
    "appointments", sa.column("id", sa.String), sa.column("security_enc", sa.LargeBinary)
)
consent_entries = sa.table(
    "consent_entries",
    sa.column("id", sa.String),
    sa.column("granted", sa.Boolean),
    sa.column("decision_enc", sa.LargeBinary),
)
sheets = sa.table(
    "information_sheets", sa.column("id", sa.String), sa.column("answers_enc", sa.LargeBinary)
)
outbox = sa.table(
    "outbox",
    sa.column("id", sa.String),
    sa.column("kind", sa.String),
    sa.column("status", sa.String),
    sa.column("recipient_enc", sa.LargeBinary),
    sa.column("body_enc", sa.LargeBinary),
    sa.column("escalation_enc", sa.LargeBinary),
)


class _Sealer:
    def __init__(self, keys: KeyRing) -> None:
        self.keys = keys

    def open(self, table: str, column: str, row_id: str, token: bytes) -> bytes:
        return self.keys.decrypt(token, FieldContext(table, column, row_id))

    def seal(self, table: str, column: str, row_id: str, data: bytes) -> bytes:
        return self.keys.encrypt(data, FieldContext(table, column, row_id))


def _json(value: object) -> bytes:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return text.encode("utf-8")


def _rows_to_convert(bind: Connection) -> int:
    total = 0
    for table in (students, appointments, consent_entries, sheets):
        total += bind.scalar(sa.select(sa.func.count()).select_from(table)) or 0
    waiting = sa.select(sa.func.count()).select_from(outbox).where(outbox.c.body_enc.is_not(None))
    return total + (bind.scalar(waiting) or 0)


def _seal_students(bind: Connection, sealer: _Sealer) -> None:
    for row_id, token in bind.execute(sa.select(students.c.id, students.c.removed_enc)).all():
        value = b"" if token is None else sealer.open("students", "removed_enc", row_id, token)
        sealed = sealer.seal(
            "students", "removed_enc", row_id, padded(value.rstrip(b" "), REMOVED_FLAG_BYTES)
        )
        bind.execute(students.update().where(students.c.id == row_id).values(removed_enc=sealed))


def _seal_appointments(bind: Connection, sealer: _Sealer) -> None:
    rows = bind.execute(sa.select(appointments.c.id, appointments.c.security_enc)).all()
    for row_id, token in rows:
        record = (
            json.loads(sealer.open("appointments", "security_enc", row_id, token))
            if token is not None
            else None
        ) or NOTHING_TOLD
        sealed = sealer.seal(
            "appointments", "security_enc", row_id, padded(_json(record), SECURITY_RECORD_BYTES)
        )
        bind.execute(
            appointments.update().where(appointments.c.id == row_id).values(security_enc=sealed)
        )


def _seal_consents(bind: Connection, sealer: _Sealer) -> None:
    rows = bind.execute(sa.select(consent_entries.c.id, consent_entries.c.granted)).all()
    for row_id, granted in rows:
        decision = b"granted" if granted else b"refused"
        sealed = sealer.seal(
            "consent_entries", "decision_enc", row_id, padded(decision, CONSENT_DECISION_BYTES)
        )
        bind.execute(
            consent_entries.update()
            .where(consent_entries.c.id == row_id)
            .values(decision_enc=sealed)
        )


def _seal_sheets(bind: Connection, sealer: _Sealer) -> None:
    for row_id, token in bind.execute(sa.select(sheets.c.id, sheets.c.answers_enc)).all():
        answers = json.loads(sealer.open("information_sheets", "answers_enc", row_id, token))
        removed = answers.get("removed")
        reserve = 3 - len(removed) if removed in ("yes", "no") else 0
        data = padded(_json(answers), SHEET_ANSWERS_BLOCK, reserve=reserve)
        bind.execute(
            sheets.update()
            .where(sheets.c.id == row_id)
            .values(answers_enc=sealer.seal("information_sheets", "answers_enc", row_id, data))
        )


_OUTBOX_SIZES = {
    "recipient_enc": OUTBOX_RECIPIENT_BYTES,
    "body_enc": OUTBOX_BODY_BYTES,
    "escalation_enc": OUTBOX_ESCALATION_BYTES,
}


def _seal_outbox(bind: Connection, sealer: _Sealer, *, pad: bool) -> None:
    """Waiting messages padded (or, going down, un-padded); sent rows hold no text."""
    rows = bind.execute(
        sa.select(
            outbox.c.id, outbox.c.recipient_enc, outbox.c.body_enc, outbox.c.escalation_enc
        ).where(outbox.c.body_enc.is_not(None))
    ).all()
    for row_id, *tokens in rows:
        values: dict[str, bytes | None] = {}
        for (column, size), token in zip(_OUTBOX_SIZES.items(), tokens, strict=True):
            if token is None:
                values[column] = None
                continue
            plain = sealer.open("outbox", column, row_id, token).rstrip(b" ")
            data = padded(plain, size) if pad else plain
            values[column] = sealer.seal("outbox", column, row_id, data)
        recipient = values["recipient_enc"]
        # A stand-in (no recipient) means nothing to the older code: drop it.
        if not pad and recipient and not sealer.open("outbox", "recipient_enc", row_id, recipient):
            bind.execute(outbox.delete().where(outbox.c.id == row_id))
            continue
        bind.execute(outbox.update().where(outbox.c.id == row_id).values(**values))


def upgrade() -> None:
    bind = op.get_bind()
    sealer = _Sealer(data_keys(revision)) if _rows_to_convert(bind) else None
    with op.batch_alter_table("consent_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("decision_enc", sa.LargeBinary(), nullable=True))
    if sealer is not None:
        _seal_students(bind, sealer)
        _seal_appointments(bind, sealer)
        _seal_consents(bind, sealer)
        _seal_sheets(bind, sealer)
        _seal_outbox(bind, sealer, pad=True)
    op.execute("DELETE FROM outbox WHERE kind = 'security_notice' AND status = 'sent'")
    with op.batch_alter_table("consent_entries", schema=None) as batch_op:
        batch_op.alter_column("decision_enc", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column("granted")
    with op.batch_alter_table("students", schema=None) as batch_op:
        batch_op.alter_column("removed_enc", existing_type=sa.LargeBinary(), nullable=False)
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.alter_column("security_enc", existing_type=sa.LargeBinary(), nullable=False)


def _unseal_for_older_code(bind: Connection, sealer: _Sealer) -> None:
    """Consent choices back into `granted`; the removed flag plain again ("" back to NULL)."""
    rows = bind.execute(sa.select(consent_entries.c.id, consent_entries.c.decision_enc)).all()
    for row_id, token in rows:
        decision = sealer.open("consent_entries", "decision_enc", row_id, token).rstrip(b" ")
        bind.execute(
            consent_entries.update()
            .where(consent_entries.c.id == row_id)
            .values(granted=decision == b"granted")
        )
    for row_id, token in bind.execute(sa.select(students.c.id, students.c.removed_enc)).all():
        flag = sealer.open("students", "removed_enc", row_id, token).rstrip(b" ")
        sealed = sealer.seal("students", "removed_enc", row_id, flag) if flag else None
        bind.execute(students.update().where(students.c.id == row_id).values(removed_enc=sealed))
    _seal_outbox(bind, sealer, pad=False)


def downgrade() -> None:
    bind = op.get_bind()
    sealer = _Sealer(data_keys(revision)) if _rows_to_convert(bind) else None
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.alter_column("security_enc", existing_type=sa.LargeBinary(), nullable=True)
    with op.batch_alter_table("students", schema=None) as batch_op:
        batch_op.alter_column("removed_enc", existing_type=sa.LargeBinary(), nullable=True)
    with op.batch_alter_table("consent_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("granted", sa.Boolean(), nullable=True))
    if sealer is not None:
        _unseal_for_older_code(bind, sealer)
    with op.batch_alter_table("consent_entries", schema=None) as batch_op:
        batch_op.alter_column("granted", existing_type=sa.Boolean(), nullable=False)
        batch_op.drop_column("decision_enc")
