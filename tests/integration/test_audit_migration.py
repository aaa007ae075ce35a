"""Revision 0008 converts a deployed audit log (unkeyed, in the clear) to the sealed, keyed
chain, on both engines; it needs the keys only when there are entries, and refuses to launder
a broken log."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.services import audit
from bot.services.deps import Deps
from bot.vocabulary import AuditAction
from storage import audit as chain
from storage.migrate import (
    KeysNeeded,
    MigrationRefused,
    alembic_config,
    current_revision,
    downgrade,
    head_revision,
    upgrade,
)
from storage.models import UTCDateTime
from storage.triggers import drop_append_only_triggers
from tests.conftest import START

# The revision 0008 follows: the schema the old code ran on.
BEFORE = str(ScriptDirectory.from_config(alembic_config()).get_revision("0008").down_revision)
OLD_LOG = sa.table(
    "audit_log",
    sa.column("seq", sa.Integer()),
    sa.column("at", UTCDateTime()),
    sa.column("action", sa.String()),
    sa.column("actor", sa.String()),
    sa.column("subject", sa.String()),
    sa.column("detail", sa.Text()),
    sa.column("prev_hash", sa.String()),
    sa.column("hash", sa.String()),
)
DEPLOYED = [
    ("staff.added", "cli", "staff:c0ffee", {"role": "coordinator"}),
    ("sheet.submitted", "student:abc123", "sheet9", {}),
    ("disclosure.made", "system", "appt42", {"basis": "security: appointment times"}),
    ("case.removed_flag_changed", "staff:c0ffee", "abc123", {}),
]


def _old_hash(row: dict[str, Any]) -> str:
    """The unkeyed chain of revisions 0001 to 0007."""
    canonical = json.dumps(
        [
            row["seq"],
            row["at"].isoformat(),
            row["action"],
            row["actor"],
            row["subject"],
            row["detail"],
            row["prev_hash"],
        ],
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _deployed_before(engine: AsyncEngine) -> list[dict[str, Any]]:
    """A database just before 0008 holding the entries the old code would have written."""
    await downgrade(engine, BEFORE)
    rows, prev = [], chain.GENESIS
    for seq, (action, actor, subject, detail) in enumerate(DEPLOYED, start=1):
        row = {
            "seq": seq,
            "at": START + timedelta(minutes=seq),
            "action": action,
            "actor": actor,
            "subject": subject,
            "detail": json.dumps(detail, sort_keys=True, separators=(",", ":")),
            "prev_hash": prev,
        }
        row["hash"] = prev = _old_hash(row)
        rows.append(row)
    async with engine.begin() as conn:
        await conn.execute(sa.insert(OLD_LOG), rows)
        await conn.execute(
            sa.text("UPDATE audit_head SET seq = :seq, hash = :hash").bindparams(
                seq=len(rows), hash=prev
            )
        )
    return rows


async def _old_rows(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        result = await conn.execute(sa.select(OLD_LOG).order_by(OLD_LOG.c.seq))
        return [dict(r._mapping) for r in result]


async def test_a_deployed_log_is_sealed_and_keyed_and_back(engine: AsyncEngine, deps: Deps) -> None:
    deployed = await _deployed_before(engine)
    await upgrade(engine, keys=deps.cipher.keys, audit_key=deps.audit_key)
    async with deps.uow() as uow:
        report = await chain.verify(uow.session, deps.cipher, deps.audit_key)
        opened = [e async for e in chain.entries(uow.session, deps.cipher)]
        raw = await uow.session.execute(sa.text("SELECT * FROM audit_log"))
        columns = set(raw.keys())
    assert report.ok and report.checked == len(DEPLOYED)
    assert [(e.action, e.actor, e.subject, e.detail) for e in opened] == [
        (a, actor, s, d) for a, actor, s, d in DEPLOYED
    ]
    assert [e.at for e in opened] == [r["at"] for r in deployed]
    assert columns == {"seq", "at", "sealed", "mac"}
    # New entries chain on after the converted ones.
    async with deps.uow() as uow:
        await audit.record(uow, deps, AuditAction.KEYS_ROTATED, audit.COMMAND_LINE)
        await uow.commit()
    async with deps.uow() as uow:
        assert (await chain.verify(uow.session, deps.cipher, deps.audit_key)).checked == 5
    # The downgrade gives back the old chain exactly, plus the new entry, chained the old way.
    await downgrade(engine, BEFORE, keys=deps.cipher.keys, audit_key=deps.audit_key)
    back = await _old_rows(engine)
    assert back[: len(deployed)] == deployed
    assert back[-1]["action"] == AuditAction.KEYS_ROTATED.value
    assert back[-1]["prev_hash"] == deployed[-1]["hash"]
    assert back[-1]["hash"] == _old_hash(back[-1])
    await upgrade(engine, keys=deps.cipher.keys, audit_key=deps.audit_key)


@pytest.mark.parametrize("missing", ["data keys", "audit key"])
async def test_converting_needs_both_keys_and_changes_nothing_without_them(
    engine: AsyncEngine, deps: Deps, missing: str
) -> None:
    deployed = await _deployed_before(engine)
    given: dict[str, Any] = {"keys": deps.cipher.keys, "audit_key": deps.audit_key}
    given["keys" if missing == "data keys" else "audit_key"] = None
    variable = "USS_DATA_KEYS" if missing == "data keys" else "USS_AUDIT_KEY"
    with pytest.raises(KeysNeeded, match=variable):
        await upgrade(engine, **given)
    assert await current_revision(engine) == BEFORE
    assert await _old_rows(engine) == deployed
    await upgrade(engine, keys=deps.cipher.keys, audit_key=deps.audit_key)
    assert await current_revision(engine) == head_revision()


async def test_a_new_database_needs_no_key(engine: AsyncEngine) -> None:
    await downgrade(engine, BEFORE)
    await upgrade(engine)
    assert await current_revision(engine) == head_revision()


async def test_a_broken_deployed_log_is_not_converted(engine: AsyncEngine, deps: Deps) -> None:
    await _deployed_before(engine)
    async with engine.begin() as conn:
        for statement in drop_append_only_triggers(engine.dialect.name):
            await conn.execute(sa.text(statement))
        await conn.execute(sa.text("UPDATE audit_log SET actor = 'someone' WHERE seq = 2"))
    with pytest.raises(MigrationRefused, match="broken at entry 2"):
        await upgrade(engine, keys=deps.cipher.keys, audit_key=deps.audit_key)
    assert await current_revision(engine) == BEFORE
