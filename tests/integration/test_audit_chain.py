"""The audit chain against each kind of tampering, on both engines (issue 8, point 2).

A tamperer here has the database (SQL, triggers dropped) and, where said, some keys. Without
the audit key nothing they append, edit or rewrite verifies; removing the newest entries, or
a rewrite by someone holding every key, is caught against a head published earlier.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from bot.services import audit
from bot.services.deps import Deps
from bot.vocabulary import AuditAction
from storage import audit as chain
from storage.crypto import (
    AuditKey,
    FieldCipher,
    FieldContext,
    KeyRing,
    new_key_material,
    parse_key_spec,
)
from storage.models import AuditEntry, AuditHead, AuditRekeyPermit
from storage.triggers import drop_append_only_triggers
from tests.conftest import Database

ENTRIES = 6


async def _record(deps: Deps, count: int = ENTRIES) -> chain.Head:
    """`count` entries, one minute apart; returns the head a coordinator would have kept."""
    for n in range(count):
        async with deps.uow() as uow:
            await audit.record(
                uow, deps, AuditAction.SHEET_READ, audit.student_actor(f"s{n}"), f"sheet{n}"
            )
            await uow.commit()
        deps.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    async with deps.uow() as uow:
        return await chain.head(uow.session)


async def _drop_triggers(database: Database) -> None:
    kind = "sqlite" if database.kind == "sqlite" else "postgresql"
    async with database.engine.begin() as conn:
        for statement in drop_append_only_triggers(kind):
            await conn.execute(text(statement))


async def _verify(deps: Deps, published: chain.Head | None = None) -> chain.ChainReport:
    async with deps.uow() as uow:
        return await chain.verify(uow.session, deps.cipher, deps.audit_key, published=published)


async def _set_head_row(deps: Deps, seq: int, mac: str) -> None:
    async with deps.uow() as uow:
        await uow.session.execute(
            update(AuditHead).where(AuditHead.id == chain.HEAD_ID).values(seq=seq, mac=mac)
        )
        await uow.commit()


async def _mac_of(deps: Deps, seq: int) -> str:
    async with deps.uow() as uow:
        mac = await uow.session.scalar(select(AuditEntry.mac).where(AuditEntry.seq == seq))
    assert mac is not None
    return mac


async def test_an_untouched_log_verifies_with_and_without_its_published_head(deps: Deps) -> None:
    published = await _record(deps)
    assert published.seq == ENTRIES
    assert chain.Head.parse(str(published)) == published
    plain = await _verify(deps)
    assert plain.ok and plain.checked == ENTRIES and plain.head == published
    # An older head still checks: everything up to it is there, unchanged.
    older = chain.Head(3, await _mac_of(deps, 3))
    assert (await _verify(deps, published)).ok
    assert (await _verify(deps, older)).ok


async def test_the_log_refuses_updates_and_deletes_by_sql(deps: Deps, database: Database) -> None:
    await _record(deps, 2)
    for statement in (
        "UPDATE audit_log SET at = at WHERE seq = 2",
        "UPDATE audit_log SET sealed = sealed WHERE seq = 2",
        "DELETE FROM audit_log WHERE seq = 2",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with database.engine.begin() as conn:
                await conn.execute(text(statement))


async def test_deleting_the_newest_entries_is_caught_against_a_published_head(
    deps: Deps, database: Database
) -> None:
    published = await _record(deps)
    await _drop_triggers(database)
    async with deps.uow() as uow:
        await uow.session.execute(delete(AuditEntry).where(AuditEntry.seq > 3))
        await uow.commit()
    # A careless tamperer leaves audit_head behind: the log itself shows it.
    careless = await _verify(deps)
    assert not careless.ok and careless.broken_at == 4 and careless.reason == chain.HEAD_ROW
    # A careful one moves audit_head back too: the chain alone cannot tell...
    await _set_head_row(deps, 3, await _mac_of(deps, 3))
    careful = await _verify(deps)
    assert careful.ok and careful.checked == 3
    # ...the head published before the deletion can.
    against_head = await _verify(deps, published)
    assert not against_head.ok
    assert against_head.broken_at == 4
    assert against_head.reason == chain.TRUNCATED


@pytest.mark.parametrize("forger", ["no keys", "the data keys only", "unkeyed sha-256"])
async def test_an_appended_forged_entry_does_not_chain_without_the_audit_key(
    deps: Deps, forger: str
) -> None:
    published = await _record(deps)
    # INSERT is allowed (it is how entries are added), and audit_head is updated to match.
    if forger == "unkeyed sha-256":
        async with deps.uow() as uow:
            content = chain.entry_content("staff.added", "cli", "staff:x", {})
            prev = published.mac
            at = deps.clock.now()
            forged = hashlib.sha256(
                json.dumps([ENTRIES + 1, at.isoformat(), prev]).encode() + content
            ).hexdigest()
            uow.session.add(
                AuditEntry(
                    seq=ENTRIES + 1,
                    at=at,
                    sealed=chain.seal_content(deps.cipher, ENTRIES + 1, content),
                    mac=forged,
                )
            )
            head = await uow.session.get(AuditHead, chain.HEAD_ID)
            assert head is not None
            head.seq, head.mac = ENTRIES + 1, forged
            await uow.commit()
    else:
        cipher = (
            deps.cipher
            if forger == "the data keys only"
            else FieldCipher(KeyRing(parse_key_spec(f"k1:{new_key_material()}")))
        )
        async with deps.uow() as uow:
            await chain.append(
                uow.session,
                cipher,
                AuditKey.from_spec(new_key_material()),
                at=deps.clock.now(),
                action="staff.added",
                actor="cli",
                subject="staff:x",
            )
            await uow.commit()
    report = await _verify(deps)
    assert not report.ok
    assert report.broken_at == ENTRIES + 1
    assert report.checked == ENTRIES
    expected = chain.UNREADABLE if forger == "no keys" else chain.FORGED
    assert report.reason.startswith(expected)
    # Against the published head the entries it covers are still proven intact, and the
    # forged one still fails.
    assert not (await _verify(deps, published)).ok


@pytest.mark.parametrize("edit", ["its time", "its content (with the data keys)", "its mac"])
async def test_editing_the_last_entry_is_caught(deps: Deps, database: Database, edit: str) -> None:
    await _record(deps)
    await _drop_triggers(database)
    values: dict[str, object]
    if edit == "its time":
        async with deps.uow() as uow:
            at = await uow.session.scalar(select(AuditEntry.at).where(AuditEntry.seq == ENTRIES))
        assert at is not None
        values = {"at": at - timedelta(minutes=30)}
    elif edit == "its content (with the data keys)":
        content = chain.entry_content("sheet.read", "student:someone-else", "sheet0", {})
        values = {"sealed": chain.seal_content(deps.cipher, ENTRIES, content)}
    else:
        values = {"mac": "f" * 64}
    async with deps.uow() as uow:
        await uow.session.execute(
            update(AuditEntry).where(AuditEntry.seq == ENTRIES).values(**values)
        )
        if edit == "its mac":  # and audit_head, so the head row agrees
            await uow.session.execute(update(AuditHead).values(mac="f" * 64))
        await uow.commit()
    report = await _verify(deps)
    assert not report.ok
    assert report.broken_at == ENTRIES
    assert report.reason == chain.FORGED


async def _rewrite_everything(deps: Deps, cipher: FieldCipher, key: AuditKey, count: int) -> None:
    """Replace the whole log with another history, audit_head included."""
    async with deps.uow() as uow:
        await uow.session.execute(delete(AuditEntry))
        await uow.session.execute(update(AuditHead).values(seq=0, mac=chain.GENESIS))
        at = deps.clock.now() - timedelta(days=1)
        for n in range(count):
            await chain.append(
                uow.session,
                cipher,
                key,
                at=at + timedelta(minutes=n),
                action="sheet.read",
                actor="cli",
                subject=f"other{n}",
            )
        await uow.commit()


async def test_rewriting_everything_including_audit_head_without_the_key_is_caught(
    deps: Deps, database: Database
) -> None:
    await _record(deps)
    await _drop_triggers(database)
    await _rewrite_everything(deps, deps.cipher, AuditKey.from_spec(new_key_material()), ENTRIES)
    report = await _verify(deps)
    assert not report.ok
    assert report.broken_at == 1
    assert report.reason == chain.FORGED


@pytest.mark.parametrize("count", [ENTRIES, ENTRIES + 2, ENTRIES - 2])
async def test_a_rewrite_by_someone_holding_every_key_is_caught_against_a_published_head(
    deps: Deps, database: Database, count: int
) -> None:
    published = await _record(deps)
    await _drop_triggers(database)
    await _rewrite_everything(deps, deps.cipher, deps.audit_key, count)
    # The chain alone verifies: with the key, a rewrite is a valid chain...
    assert (await _verify(deps)).ok
    # ...but not the chain the Union was given the head of.
    report = await _verify(deps, published)
    assert not report.ok
    if count >= ENTRIES:
        assert report.broken_at == ENTRIES
        assert report.reason == chain.REWRITTEN
    else:
        assert report.broken_at == count + 1
        assert report.reason == chain.TRUNCATED


async def test_a_rotation_re_encrypts_the_sealed_content_and_nothing_else(
    deps: Deps, key_spec: str
) -> None:
    published = await _record(deps)
    material = new_key_material()
    ring = KeyRing(parse_key_spec(f"k2:{material},{key_spec}"))
    async with deps.uow() as uow:
        before = {
            e.seq: (e.at, e.mac, e.sealed)
            for e in (await uow.session.execute(select(AuditEntry))).scalars()
        }
        report = await chain.rekey(uow.session, FieldCipher(ring))
        await uow.commit()
    assert report.examined == report.rotated == ENTRIES
    async with deps.uow() as uow:
        rows = list((await uow.session.execute(select(AuditEntry))).scalars())
        permits = await uow.session.scalar(select(func.count()).select_from(AuditRekeyPermit))
    assert permits == 0  # the permit never outlives the rotation's transaction
    for row in rows:
        at, mac, sealed = before[row.seq]
        assert (row.at, row.mac) == (at, mac)
        assert ring.key_id_of(row.sealed) == "k2" and row.sealed != sealed
    only_new = FieldCipher(KeyRing(parse_key_spec(f"k2:{material}")))
    async with deps.uow() as uow:
        report_new = await chain.verify(uow.session, only_new, deps.audit_key, published=published)
    assert report_new.ok
    # Outside a rotation, even a faithful re-encryption is refused...
    with pytest.raises(DBAPIError, match="append-only"):
        await _update_first(deps, {"sealed": ring.rotate(rows[0].sealed, chain_context(1))})
    # ...and with the permit, time and MAC still cannot change.
    moved: list[dict[str, object]] = [{"mac": "0" * 64}, {"at": rows[0].at - timedelta(days=1)}]
    for values in moved:
        with pytest.raises(DBAPIError, match="append-only"):
            await _update_first(deps, values, permit=True)


async def _update_first(deps: Deps, values: dict[str, object], *, permit: bool = False) -> None:
    async with deps.uow() as uow:
        if permit:
            uow.session.add(AuditRekeyPermit(id=1))
            await uow.session.flush()
        await uow.session.execute(update(AuditEntry).where(AuditEntry.seq == 1).values(**values))


def chain_context(seq: int) -> FieldContext:
    return FieldContext(chain.TABLE, chain.COLUMN, str(seq))
