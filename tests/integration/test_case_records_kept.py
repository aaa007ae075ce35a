"""Case notes and disclosures are kept as written, on both engines: the database itself
refuses an UPDATE or a DELETE, except a key rotation's re-encryption and a retention purge."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from bot.services.deps import Deps
from bot.services.staff import staff
from bot.vocabulary import NoteKind, Role
from storage import data_keys
from storage.crypto import FieldCipher, KeyRing, new_key_material, parse_key_spec
from storage.models import CaseNote, Disclosure, PurgePermit
from storage.rotation import rotate_all
from tests.integration.test_cases import submit, the_cases

NOTE = "Canarynote: phoned Registry about the appeal deadline"
DETAILS = {"basis": "consent", "recipient": "Academic Registry", "content": "the deadline"}


async def _a_note_and_a_disclosure(
    deps: Deps, *, under_the_key_ring: bool = False
) -> tuple[str, str]:
    await submit(deps)
    (case,) = await the_cases(deps)
    async with deps.uow() as uow:
        adviser = await staff.add_staff(
            uow, deps, telegram_user_id=2001, name="Alex A", role=Role.ADVISER, actor="t"
        )
        note = CaseNote(
            case_id=case.id,
            position=1,
            kind=NoteKind.PHONE_CALL.value,
            author_staff_id=adviser.id,
            created_at=deps.clock.now(),
        )
        disclosure = Disclosure(case_id=case.id, staff_id=adviser.id, made_at=deps.clock.now())
        await data_keys.bind(uow.session, note, disclosure)
        body = deps.cipher.seal(note, "body_enc", NOTE)
        assert body is not None
        note.body_enc = body
        disclosure.details_enc = deps.cipher.seal_json(disclosure, "details_enc", DETAILS)
        if under_the_key_ring:  # as written before cases had data keys of their own
            note.body_enc = deps.cipher.keys.encrypt(
                NOTE.encode(), FieldCipher.context(note, "body_enc")
            )
            disclosure.details_enc = deps.cipher.keys.encrypt(
                json.dumps(DETAILS).encode(), FieldCipher.context(disclosure, "details_enc")
            )
        uow.session.add_all([note, disclosure])
        await uow.commit()
    return note.id, disclosure.id


STATEMENTS = [
    ("case_notes", "UPDATE case_notes SET kind = 'other' WHERE id = :id"),
    ("case_notes", "UPDATE case_notes SET body_enc = reason_enc WHERE id = :id"),
    ("case_notes", "DELETE FROM case_notes WHERE id = :id"),
    ("disclosures", "UPDATE disclosures SET made_at = made_at WHERE id = :id"),
    ("disclosures", "UPDATE disclosures SET details_enc = details_enc WHERE id = :id"),
    ("disclosures", "DELETE FROM disclosures WHERE id = :id"),
]


@pytest.mark.parametrize(("table", "statement"), STATEMENTS)
async def test_the_database_refuses_changing_or_removing_a_note_or_a_disclosure(
    deps: Deps, table: str, statement: str
) -> None:
    note_id, disclosure_id = await _a_note_and_a_disclosure(deps)
    row_id = note_id if table == "case_notes" else disclosure_id
    with pytest.raises(DBAPIError, match="kept as written"):
        async with deps.uow() as uow:
            await uow.session.execute(text(statement), {"id": row_id})
    async with deps.uow() as uow:
        note = await uow.session.get(CaseNote, note_id)
        disclosure = await uow.session.get(Disclosure, disclosure_id)
    assert note is not None and note.kind == NoteKind.PHONE_CALL.value
    assert deps.cipher.open(note, "body_enc", note.body_enc) == NOTE
    assert disclosure is not None


@pytest.mark.parametrize("table", ["case_notes", "disclosures"])
async def test_only_a_purge_holding_its_permit_may_delete_notes_and_disclosures(
    deps: Deps, table: str
) -> None:
    note_id, disclosure_id = await _a_note_and_a_disclosure(deps)
    row_id = note_id if table == "case_notes" else disclosure_id
    async with deps.uow() as uow:
        uow.session.add(PurgePermit(id=1))
        await uow.session.flush()
        deleted = await uow.session.execute(
            text(f"DELETE FROM {table} WHERE id = :id"),
            {"id": row_id},
        )
        assert getattr(deleted, "rowcount", None) == 1
        await uow.session.execute(text("DELETE FROM purge_permit"))
        await uow.commit()
    model = CaseNote if table == "case_notes" else Disclosure
    async with deps.uow() as uow:
        assert await uow.session.get(model, row_id) is None
        # The permit went with its transaction: the next delete is refused again.
        assert await uow.session.scalar(select(PurgePermit.id)) is None
    other = disclosure_id if table == "case_notes" else note_id
    other_table = "disclosures" if table == "case_notes" else "case_notes"
    with pytest.raises(DBAPIError, match="kept as written"):
        async with deps.uow() as uow:
            await uow.session.execute(
                text(f"DELETE FROM {other_table} WHERE id = :id"),
                {"id": other},
            )


async def test_the_purge_permit_does_not_allow_changing_a_note(deps: Deps) -> None:
    note_id, _ = await _a_note_and_a_disclosure(deps)
    async with deps.uow() as uow:
        uow.session.add(PurgePermit(id=1))
        await uow.session.flush()
        with pytest.raises(DBAPIError, match="kept as written"):
            await uow.session.execute(
                text("UPDATE case_notes SET kind = 'other' WHERE id = :id"), {"id": note_id}
            )


async def test_a_key_rotation_re_encrypts_notes_and_disclosures_and_nothing_else(
    deps: Deps, key_spec: str
) -> None:
    """Notes and disclosures sealed under the key ring (as before data keys) are re-encrypted
    under the rotation's permit; nothing else of them changes."""
    note_id, disclosure_id = await _a_note_and_a_disclosure(deps, under_the_key_ring=True)
    async with deps.uow() as uow:
        before = await uow.session.get(CaseNote, note_id)
    assert before is not None
    material = new_key_material()
    ring = KeyRing(parse_key_spec(f"k2:{material},{key_spec}"))
    newer = Deps(
        deps.sessions, FieldCipher(ring), deps.index, deps.clock, deps.settings, deps.audit_key
    )
    async with newer.uow() as uow:
        report = await rotate_all(uow.session, newer.cipher)
        await uow.commit()
    assert report.rotated == report.examined
    only_new = FieldCipher(KeyRing(parse_key_spec(f"k2:{material}")))
    async with deps.uow() as uow:
        note = await uow.session.get(CaseNote, note_id)
        disclosure = await uow.session.get(Disclosure, disclosure_id)
        permits = (await uow.session.execute(text("SELECT count(*) FROM audit_rekey"))).scalar()
    assert note is not None and disclosure is not None
    assert ring.key_id_of(note.body_enc) == "k2" and note.body_enc != before.body_enc
    assert only_new.open(note, "body_enc", note.body_enc) == NOTE
    assert only_new.open_json(disclosure, "details_enc", disclosure.details_enc) == DETAILS
    assert (note.position, note.kind, note.created_at) == (
        before.position,
        before.kind,
        before.created_at,
    )
    assert permits == 0  # the permit never outlives the rotation's transaction
