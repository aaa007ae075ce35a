"""Encryption at rest on both engines: canaries, key rotation, the audit chain."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from bot.services import audit, split_texts
from bot.services.deps import Deps
from bot.services.intake import consent, intake
from bot.services.intake.sheet_store import current_draft, read_answers, write_answers
from bot.services.intake.students import find_student, removed_flag
from bot.services.notices import outbox
from bot.services.staff import staff
from bot.vocabulary import ConsentChannel, ConsentScope, Role, SheetField
from storage import audit as chain
from storage.crypto import (
    DATA_KEY_ID,
    FieldCipher,
    KeyRing,
    new_key_material,
    owner_of,
    parse_key_spec,
)
from storage.models import SEALED_COLUMNS, AuditEntry
from storage.rotation import rotate_all
from tests.conftest import Database

CANARIES = {
    SheetField.FULL_NAME: "Canaryname Zqxjk",
    SheetField.STUDENT_NUMBER: "987654321",
    SheetField.EMAIL: "canary.zqxjk@city.ac.uk",
    SheetField.PHONE: "07700 913579",
    SheetField.COURSE: "Canarycourse Of Zqxjk",
    SheetField.DESCRIPTION: "Canarydescription about my zqxjk appeal and housing",
    SheetField.ACCESSIBILITY: "Canaryaccess step free zqxjk",
}
STUDENT_TG = 555000111
STAFF_TG = 666000222
STAFF_NAME = "Canarystaff Qwvbn"
VERBAL_NOTE = "Canarynote agreed by phone zqxjk"
HELD_PART = "Canaryheldpart of a long zqxjk text"


async def _fill_everything(deps: Deps) -> None:
    """Write a canary through every personal field the schema has."""
    async with deps.uow() as uow:
        await intake.begin(uow, deps, STUDENT_TG)
    async with deps.uow() as uow:
        student = await find_student(uow, deps, STUDENT_TG)
        assert student is not None
        draft = await current_draft(uow, student.id)
        assert draft is not None
        write_answers(deps, draft, {**CANARIES, SheetField.REMOVED: "yes"})
        held = split_texts.WaitingPart(SheetField.DESCRIPTION, HELD_PART, deps.clock.now(), False)
        split_texts.hold(deps, draft, held)
        await consent.record_consent(
            uow,
            deps,
            student_id=student.id,
            scope=ConsentScope.EXTERNAL,
            granted=True,
            channel=ConsentChannel.VERBAL,
            actor=audit.SYSTEM,
            note=VERBAL_NOTE,
        )
        await staff.add_staff(
            uow, deps, telegram_user_id=STAFF_TG, name=STAFF_NAME, role=Role.ADVISER, actor="cli"
        )
        # Outbox keys name chats and appointments: they must be stored blind too.
        await outbox.enqueue(
            uow,
            deps,
            kind="adviser_summary",
            chat_id=STAFF_TG,
            html=STAFF_NAME,
            dedupe_key=f"summary:{STAFF_TG}",
            ordering_key=f"adviser:{STAFF_TG}",
        )
        await uow.commit()


def _needles() -> list[bytes]:
    values = [
        *CANARIES.values(),
        STAFF_NAME,
        VERBAL_NOTE,
        HELD_PART,
        str(STUDENT_TG),
        str(STAFF_TG),
    ]
    return [v.encode() for v in values] + [v.lower().encode() for v in values]


async def _raw_contents(database: Database) -> bytes:
    if database.kind == "sqlite":
        await database.engine.dispose()  # flush WAL into the file we read
        path = Path(database.url.split("///", 1)[1])
        data = path.read_bytes()
        for extra in (Path(f"{path}-wal"), Path(f"{path}-shm")):
            if extra.exists():
                data += extra.read_bytes()
        return data
    dump = b""
    async with database.engine.connect() as conn:
        tables = (
            (
                await conn.execute(
                    text(
                        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
                    )
                )
            )
            .scalars()
            .all()
        )
        for table in tables:
            rows = (await conn.execute(text(f'SELECT t::text FROM "{table}" t'))).scalars().all()
            dump += "\n".join(rows).encode()
    return dump


async def test_no_canary_reaches_the_database_in_plaintext(deps: Deps, database: Database) -> None:
    await _fill_everything(deps)
    raw = await _raw_contents(database)
    assert len(raw) > 1000  # we really read the data
    for needle in _needles():
        assert needle not in raw, f"plaintext found in the {database.kind} database"


async def test_sealed_fields_read_back_exactly(deps: Deps) -> None:
    await _fill_everything(deps)
    async with deps.uow() as uow:
        student = await find_student(uow, deps, STUDENT_TG)
        assert student is not None
        draft = await current_draft(uow, student.id)
        assert draft is not None
        assert read_answers(deps, draft)[SheetField.FULL_NAME] == CANARIES[SheetField.FULL_NAME]
        member = await staff.find_staff(uow, deps, STAFF_TG)
        assert member is not None
        assert staff.staff_name(deps, member) == STAFF_NAME


async def test_rotation_re_encrypts_everything_and_old_ciphertexts_stay_readable(
    deps: Deps, key_spec: str
) -> None:
    await _fill_everything(deps)
    new_material = new_key_material()
    rotated_ring = KeyRing(parse_key_spec(f"k2:{new_material},{key_spec}"))
    newer = Deps(
        deps.sessions,
        FieldCipher(rotated_ring),
        deps.index,
        deps.clock,
        deps.settings,
        deps.audit_key,
    )
    # Before rotation the new ring reads the old ciphertexts.
    async with newer.uow() as uow:
        member = await staff.find_staff(uow, newer, STAFF_TG)
        assert member is not None
        assert staff.staff_name(newer, member) == STAFF_NAME
    async with newer.uow() as uow:
        report = await rotate_all(uow.session, newer.cipher)
        await uow.commit()
    # The staff member's fields and the message to them are the key ring's; the student's are
    # under the student's data key, which is rewrapped.
    assert report.rotated == report.examined >= 4
    assert report.data_keys_rewrapped == report.data_keys_examined == 1
    async with newer.uow() as uow:
        for model, columns in SEALED_COLUMNS.items():
            for row in (await uow.session.execute(select(model))).scalars():
                for column in columns:
                    token = getattr(row, column)
                    if token is not None:
                        expected = "k2" if owner_of(row) is None else DATA_KEY_ID
                        assert rotated_ring.key_id_of(token) == expected, column
    # And with only the new key, everything still reads.
    only_new = Deps(
        deps.sessions,
        FieldCipher(KeyRing(parse_key_spec(f"k2:{new_material}"))),
        deps.index,
        deps.clock,
        deps.settings,
        deps.audit_key,
    )
    async with only_new.uow() as uow:
        member = await staff.find_staff(uow, only_new, STAFF_TG)
        assert member is not None
        assert staff.staff_name(only_new, member) == STAFF_NAME
        # The audit log's sealed entries were rotated too, and the chain still verifies.
        assert report.audit_rotated == report.audit_examined >= 3
        sealed = (await uow.session.execute(select(AuditEntry.sealed))).scalars().all()
        assert {rotated_ring.key_id_of(token) for token in sealed} == {"k2"}
        verified = await chain.verify(uow.session, only_new.cipher, only_new.audit_key)
        assert verified.ok and verified.checked == report.audit_examined
        # Consent choices and the removed flag are sealed fields like the others.
        student = await find_student(uow, only_new, STUDENT_TG)
        assert student is not None
        states = await consent.current_consents(uow, only_new, student.id)
        assert states[ConsentScope.EXTERNAL].granted is True
        assert removed_flag(only_new, student) is None


async def test_audit_chain_verifies_then_detects_a_tampered_row(
    deps: Deps, database: Database
) -> None:
    await _fill_everything(deps)
    async with deps.uow() as uow:
        report = await chain.verify(uow.session, deps.cipher, deps.audit_key)
    assert report.ok
    assert report.checked >= 3
    # The log refuses updates through the database itself...
    with pytest.raises(DBAPIError, match="append-only"):
        async with database.engine.begin() as conn:
            await conn.execute(text("UPDATE audit_log SET at = at WHERE seq = 2"))
    # ...so a tamperer must first drop the trigger; the chain still gives them away.
    async with database.engine.begin() as conn:
        for statement in _drop_triggers(database.kind):
            await conn.execute(text(statement))
        # Entry 1's sealed content moved onto entry 2: it is bound to entry 1 and does not open.
        await conn.execute(
            text(
                "UPDATE audit_log SET sealed = (SELECT sealed FROM audit_log WHERE seq = 1) "
                "WHERE seq = 2"
            )
        )
    async with deps.uow() as uow:
        report = await chain.verify(uow.session, deps.cipher, deps.audit_key)
    assert not report.ok
    assert report.broken_at == 2
    assert report.reason.startswith(chain.UNREADABLE)


async def test_audit_chain_detects_a_deleted_entry(deps: Deps, database: Database) -> None:
    await _fill_everything(deps)
    async with database.engine.begin() as conn:
        for statement in _drop_triggers(database.kind):
            await conn.execute(text(statement))
        await conn.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    async with deps.uow() as uow:
        report = await chain.verify(uow.session, deps.cipher, deps.audit_key)
    assert not report.ok
    assert report.broken_at == 2


def _drop_triggers(kind: str) -> list[str]:
    from storage.triggers import drop_append_only_triggers

    return drop_append_only_triggers("sqlite" if kind == "sqlite" else "postgresql")
