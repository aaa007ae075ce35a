"""data keys: each case and each student gets a data key of its own, wrapped by the key ring

Their fields are sealed under it from now on (storage/data_keys.py); tokens sealed under the
key ring before keep opening, and `python -m bot keys split` moves them to their owners' keys.
Every existing case and student is given its key here, so nothing is ever sealed for an owner
without one.

Keys: wrapping needs the data keys, so a database with cases or students needs
USS_DATA_KEYS (`python -m bot migrate` passes them); a new database needs none. The downgrade
re-seals under the key ring whatever was sealed under a data key, then drops the keys, and
needs the data keys too when there is any.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-08 10:00:00
"""

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection

from storage.crypto import FieldContext, KeyRing, OwnerKey
from storage.migrate import data_keys

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of storage.crypto and storage.models at this revision.
DATA_KEY_PREFIX = b"\x01\x01~"
KEY_BYTES = 32
# table: (owner kind, owner column, sealed columns)
OWNED: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "students": ("student", "id", ("telegram_id_enc", "removed_enc")),
    "information_sheets": ("student", "student_id", ("answers_enc", "fragment_enc")),
    "consent_entries": ("student", "student_id", ("decision_enc", "note_enc", "details_enc")),
    "appointments": ("student", "student_id", ("security_enc",)),
    "outbox": ("student", "student_id", ("recipient_enc", "body_enc", "escalation_enc")),
    "subject_requests": ("student", "student_id", ("details_enc",)),
    "case_episodes": ("case", "case_id", ("details_enc",)),
    "case_access_grants": ("case", "case_id", ("reason_enc",)),
    "case_notes": ("case", "case_id", ("body_enc", "reason_enc")),
    "case_documents": ("case", "case_id", ("meta_enc", "content_enc")),
    "disclosures": ("case", "case_id", ("details_enc",)),
    "consent_requests": ("case", "case_id", ("purpose_enc",)),
    "staff_drafts": ("case", "case_id", ("content_enc",)),
}
SEALED_WITH_CASE = {"case_documents"}
BATCH = 200

data_keys_table = sa.table(
    "data_keys",
    sa.column("owner_kind", sa.String),
    sa.column("owner_id", sa.String),
    sa.column("wrapped", sa.LargeBinary),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
rekey_permit = sa.table("audit_rekey", sa.column("id", sa.Integer))


def _wrap_context(kind: str, owner_id: str) -> FieldContext:
    return FieldContext("data_keys", "wrapped", f"{kind}/{owner_id}")


def _give_keys(bind: Connection) -> None:
    owners = [
        (kind, owner_id)
        for kind, table in (("student", "students"), ("case", "cases"))
        for owner_id in bind.execute(sa.select(sa.table(table, sa.column("id")).c.id)).scalars()
    ]
    if not owners:
        return
    keys = data_keys(revision)
    now = datetime.now(UTC)
    for start in range(0, len(owners), BATCH):
        bind.execute(
            data_keys_table.insert(),
            [
                {
                    "owner_kind": kind,
                    "owner_id": owner_id,
                    "wrapped": keys.encrypt(os.urandom(KEY_BYTES), _wrap_context(kind, owner_id)),
                    "created_at": now,
                }
                for kind, owner_id in owners[start : start + BATCH]
            ],
        )


def upgrade() -> None:
    op.create_table(
        "data_keys",
        sa.Column("owner_kind", sa.String(length=8), nullable=False),
        sa.Column("owner_id", sa.String(length=32), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("owner_kind", "owner_id", name=op.f("pk_data_keys")),
    )
    _give_keys(op.get_bind())


class _Unsealer:
    """Re-seals data-key tokens under the key ring, unwrapping each owner's key once."""

    def __init__(self, bind: Connection) -> None:
        self.bind = bind
        self.owner_keys: dict[tuple[str, str], OwnerKey | None] = {}
        self._ring: KeyRing | None = None

    @property
    def ring(self) -> KeyRing:
        if self._ring is None:
            self._ring = data_keys(revision)
        return self._ring

    def key(self, kind: str, owner_id: str) -> OwnerKey | None:
        if (kind, owner_id) not in self.owner_keys:
            wrapped = self.bind.scalar(
                sa.select(data_keys_table.c.wrapped).where(
                    data_keys_table.c.owner_kind == kind, data_keys_table.c.owner_id == owner_id
                )
            )
            self.owner_keys[kind, owner_id] = (
                None
                if wrapped is None
                else OwnerKey(self.ring.decrypt(bytes(wrapped), _wrap_context(kind, owner_id)))
            )
        return self.owner_keys[kind, owner_id]

    def table(self, name: str) -> None:
        kind, owner_column, columns = OWNED[name]
        table = sa.table(name, sa.column("id"), *(sa.column(c) for c in {owner_column, *columns}))
        ids = list(self.bind.execute(sa.select(table.c.id).order_by(table.c.id)).scalars())
        for start in range(0, len(ids), BATCH):
            rows = self.bind.execute(
                sa.select(table).where(table.c.id.in_(ids[start : start + BATCH]))
            ).all()
            for row in rows:
                values = self._resealed(name, kind, owner_column, columns, row)
                if values:
                    self.bind.execute(table.update().where(table.c.id == row.id).values(values))

    def _resealed(
        self, name: str, kind: str, owner_column: str, columns: tuple[str, ...], row: sa.Row[Any]
    ) -> dict[str, bytes]:
        values: dict[str, bytes] = {}
        owner_id = getattr(row, owner_column)
        for column in columns:
            token = getattr(row, column)
            if token is None or not bytes(token).startswith(DATA_KEY_PREFIX):
                continue
            key = None if owner_id is None else self.key(kind, owner_id)
            row_id = f"{row.case_id}/{row.id}" if name in SEALED_WITH_CASE else row.id
            context = FieldContext(name, column, row_id)
            if key is None:
                raise RuntimeError(f"{context} is sealed under a data key that is gone")
            values[column] = self.ring.encrypt(key.decrypt(bytes(token), context), context)
        return values


def downgrade() -> None:
    bind = op.get_bind()
    unsealer = _Unsealer(bind)
    # Notes and disclosures are kept as written: their triggers let a re-encryption through
    # only while the rotation's permit row exists (as in storage.audit.rekey_permit).
    bind.execute(rekey_permit.insert().values(id=1))
    for name in OWNED:
        unsealer.table(name)
    bind.execute(rekey_permit.delete())
    op.drop_table("data_keys")
