"""audit log: content sealed and padded, chain keyed with its own MAC key; rekey permit

Existing entries are converted here, which needs the data keys and the audit key, which
only the settings hold: `python -m bot migrate` passes them to Alembic (storage.migrate,
`config.attributes["keys"]` and `["audit_key"]`), and this revision asks for them only if
the log holds entries; without them it stops before changing anything and says which
setting to add. A new database needs neither. The old unkeyed chain is checked first; a
broken one is not converted (the new keyed chain would hide the break). The downgrade needs
both keys too when there are entries.

Revision ID: 0008
Revises: 0012
Create Date: 2026-12-02 18:10:00
"""

import hashlib
import json
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from alembic import op

import storage.models
from storage.audit import GENESIS, entry_content, entry_mac, open_content, seal_content
from storage.crypto import AuditKey, DecryptionError, FieldCipher, KeyRing
from storage.migrate import MigrationRefused, audit_key, data_keys
from storage.triggers import append_only_triggers, drop_append_only_triggers

revision: str = "0008"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AT = storage.models.UTCDateTime(timezone=True)
OLD_LOG = sa.table(
    "audit_log",
    sa.column("seq", sa.Integer()),
    sa.column("at", _AT),
    sa.column("action", sa.String()),
    sa.column("actor", sa.String()),
    sa.column("subject", sa.String()),
    sa.column("detail", sa.Text()),
    sa.column("prev_hash", sa.String()),
    sa.column("hash", sa.String()),
)
NEW_LOG = sa.table(
    "audit_log",
    sa.column("seq", sa.Integer()),
    sa.column("at", _AT),
    sa.column("sealed", sa.LargeBinary()),
    sa.column("mac", sa.String()),
)


def _old_hash(row: Any, prev: str) -> str:
    """The unkeyed SHA-256 of revisions 0001 to 0007, frozen here."""
    canonical = json.dumps(
        [row.seq, row.at.isoformat(), row.action, row.actor, row.subject, row.detail, prev],
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _keys() -> tuple[KeyRing, AuditKey]:
    return data_keys(revision), audit_key(revision)


def _old_head(bind: sa.engine.Connection) -> tuple[int, str] | None:
    row = bind.execute(sa.text("SELECT seq, hash FROM audit_head WHERE id = 1")).first()
    return None if row is None else (int(row[0]), str(row[1]))


def _refuse(seq: int, why: str) -> MigrationRefused:
    return MigrationRefused(
        f"the audit log is broken at entry {seq} ({why}), so it was not converted: converting "
        "would hide the break. Keep this database for investigation and restore a backup"
    )


def _create_log(new: bool) -> None:
    if new:
        op.create_table(
            "audit_log",
            sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
            sa.Column("at", storage.models.UTCDateTime(timezone=True), nullable=False),
            sa.Column("sealed", sa.LargeBinary(), nullable=False),
            sa.Column("mac", sa.String(length=64), nullable=False),
            sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
            sa.UniqueConstraint("mac", name=op.f("uq_audit_log_mac")),
        )
        return
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=48), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_log_hash")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_action"), ["action"], unique=False)


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    # Everything is converted (or refused) before the schema changes.
    rows = list(bind.execute(sa.select(OLD_LOG).order_by(OLD_LOG.c.seq)))
    converted: list[dict[str, Any]] = []
    old_prev = new_prev = GENESIS
    if rows:
        ring, key = _keys()
        cipher = FieldCipher(ring)
        for expected, row in enumerate(rows, start=1):
            if row.seq != expected:
                raise _refuse(expected, "an entry is missing")
            if row.prev_hash != old_prev or _old_hash(row, old_prev) != row.hash:
                raise _refuse(row.seq, "its contents were changed")
            content = entry_content(row.action, row.actor, row.subject, json.loads(row.detail))
            mac = entry_mac(key, seq=row.seq, at=row.at, content=content, prev_mac=new_prev)
            sealed = seal_content(cipher, row.seq, content)
            converted.append({"seq": row.seq, "at": row.at, "sealed": sealed, "mac": mac})
            old_prev, new_prev = row.hash, mac
    if _old_head(bind) not in (None, (len(rows), old_prev)):
        raise _refuse(len(rows) + 1, "entries after it were removed")
    op.create_table(
        "audit_rekey",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_rekey")),
    )
    for statement in drop_append_only_triggers(dialect):
        op.execute(statement)
    op.drop_table("audit_log")
    _create_log(new=True)
    if converted:
        op.bulk_insert(NEW_LOG, converted)
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.alter_column(
            "hash",
            new_column_name="mac",
            existing_type=sa.String(length=64),
            existing_nullable=False,
        )
    op.execute(
        sa.text("UPDATE audit_head SET seq = :seq, mac = :mac WHERE id = 1").bindparams(
            seq=len(converted), mac=new_prev
        )
    )
    for statement in append_only_triggers(dialect, allow_rekey=True):
        op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    rows = list(bind.execute(sa.select(NEW_LOG).order_by(NEW_LOG.c.seq)))
    restored: list[dict[str, Any]] = []
    old_prev = new_prev = GENESIS
    if rows:
        ring, key = _keys()
        cipher = FieldCipher(ring)
        for expected, row in enumerate(rows, start=1):
            try:
                content = open_content(cipher, row.seq, row.sealed)
            except DecryptionError:
                raise _refuse(row.seq, "its sealed content does not open") from None
            mac = entry_mac(key, seq=row.seq, at=row.at, content=content, prev_mac=new_prev)
            if row.seq != expected or mac != row.mac:
                raise _refuse(expected, "its MAC does not match")
            action, actor, subject, detail = json.loads(content)
            old = {
                "seq": row.seq,
                "at": row.at,
                "action": action,
                "actor": actor,
                "subject": subject,
                "detail": json.dumps(detail, sort_keys=True, separators=(",", ":")),
                "prev_hash": old_prev,
            }
            old["hash"] = _old_hash(SimpleNamespace(**old), old_prev)
            restored.append(old)
            old_prev, new_prev = old["hash"], row.mac
    for statement in drop_append_only_triggers(dialect):
        op.execute(statement)
    op.drop_table("audit_log")
    _create_log(new=False)
    if restored:
        op.bulk_insert(OLD_LOG, restored)
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.alter_column(
            "mac",
            new_column_name="hash",
            existing_type=sa.String(length=64),
            existing_nullable=False,
        )
    op.execute(
        sa.text("UPDATE audit_head SET seq = :seq, hash = :hash WHERE id = 1").bindparams(
            seq=len(restored), hash=old_prev
        )
    )
    for statement in append_only_triggers(dialect):
        op.execute(statement)
    op.drop_table("audit_rekey")
