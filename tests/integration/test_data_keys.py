"""Data keys on both engines: every case and student gets its own, their fields are sealed
under it, deleting them destroys it in the same transaction, and fields sealed under the key
ring before keep opening."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import FixedClock
from bot.services.deps import Deps
from bot.services.intake import intake
from bot.services.intake.students import find_student, removed_flag
from bot.services.lifecycle import retention
from bot.vocabulary import NoteKind, YesNo
from storage import data_keys
from storage.crypto import (
    DATA_KEY_ID,
    DataKeyGone,
    DataKeyNotLoaded,
    DecryptionError,
    FieldCipher,
    KeyRing,
    Owner,
    OwnerKind,
    new_key_material,
    owner_of,
    parse_key_spec,
    sealed_under_data_key,
)
from storage.models import (
    REMOVED_FLAG_BYTES,
    SEALED_COLUMNS,
    Case,
    CaseNote,
    DataKey,
    StaffMember,
    Student,
)
from storage.rotation import RotationReport, rotate_all
from storage.uow import UnitOfWork
from tests.integration.test_case_records_at_rest import NOTE, fill_a_case
from tests.integration.test_intake_service import STUDENT
from tests.integration.test_retention import FIVE_YEARS_AND_A_DAY, add_appointment_and_message
from tests.integration.test_slot_search import statements_sent


async def owners_with_keys(uow: UnitOfWork) -> set[tuple[str, str]]:
    rows = await uow.session.execute(select(DataKey.owner_kind, DataKey.owner_id))
    return {(kind, owner_id) for kind, owner_id in rows.all()}


async def every_token(deps: Deps) -> list[tuple[object, str, bytes]]:
    """Each sealed value in the database, with its row and column."""
    found: list[tuple[object, str, bytes]] = []
    async with deps.uow() as uow:
        for model, columns in SEALED_COLUMNS.items():
            for row in (await uow.session.execute(select(model))).scalars():
                found += [(row, c, getattr(row, c)) for c in columns if getattr(row, c)]
    return found


async def test_each_case_and_student_is_sealed_under_a_key_of_its_own(deps: Deps) -> None:
    case = await fill_a_case(deps)
    await add_appointment_and_message(deps, case.student_id)
    async with deps.uow() as uow:
        assert await owners_with_keys(uow) == {
            ("case", case.id),
            ("student", case.student_id),
        }
    tokens = await every_token(deps)
    owned = [(row, c, t) for row, c, t in tokens if owner_of(row) is not None]
    # A row of every kind that belongs to a case or a student is there, each under its key.
    assert {type(row).__name__ for row, _, _ in owned} >= {
        "Student",
        "InformationSheet",
        "ConsentEntry",
        "Appointment",
        "OutboxMessage",
        "CaseEpisode",
        "CaseNote",
        "CaseDocument",
        "Disclosure",
        "CaseAccessGrant",
        "ConsentRequest",
        "StaffDraft",
    }
    assert all(sealed_under_data_key(t) for _, _, t in owned)
    # Staff are not a case or a student: the key ring seals them, as before.
    staff_tokens = [t for row, _, t in tokens if isinstance(row, StaffMember)]
    assert staff_tokens and not any(sealed_under_data_key(t) for t in staff_tokens)


async def test_one_cases_ciphertext_does_not_open_under_another_cases_key(deps: Deps) -> None:
    case = await fill_a_case(deps)
    async with deps.uow() as uow:
        note = await uow.session.scalar(select(CaseNote).where(CaseNote.position == 1))
        assert note is not None
        other = Case(id="e" * 32)
        data_keys.create(
            uow.session, deps.cipher.keys, Owner(OwnerKind.CASE, other.id), deps.clock.now()
        )
        moved = CaseNote(id=note.id, case_id=other.id)
        await data_keys.bind(uow.session, moved)
        assert deps.cipher.open(note, "body_enc", note.body_enc) == NOTE
        with pytest.raises(DecryptionError, match="altered or moved"):
            deps.cipher.open(moved, "body_enc", note.body_enc)
    assert case.id != other.id


async def test_a_new_row_not_bound_to_its_owners_key_is_refused_clearly(deps: Deps) -> None:
    case = await fill_a_case(deps)
    async with deps.uow() as uow:
        adviser = await uow.session.scalar(select(StaffMember))
        assert adviser is not None
        note = CaseNote(
            case_id=case.id,
            position=9,
            kind=NoteKind.OTHER.value,
            author_staff_id=adviser.id,
            created_at=deps.clock.now(),
        )
        with pytest.raises(DataKeyNotLoaded, match=r"storage\.data_keys\.bind") as refused:
            deps.cipher.seal(note, "body_enc", "Canarysecret zqxjk")
        assert "Canary" not in str(refused.value)
        # Bound, it is sealed under the case's key.
        await data_keys.bind(uow.session, note)
        token = deps.cipher.seal(note, "body_enc", "Canarysecret zqxjk")
        assert token is not None and deps.cipher.keys.key_id_of(token) == DATA_KEY_ID


async def test_fields_sealed_under_the_key_ring_before_data_keys_still_open(deps: Deps) -> None:
    case = await fill_a_case(deps)
    async with deps.uow() as uow:
        student = await uow.session.get(Student, case.student_id)
        assert student is not None
        # As revision 0021 found it: sealed under the key ring.
        old = deps.cipher.keys.encrypt(
            b"yes".ljust(REMOVED_FLAG_BYTES), FieldCipher.context(student, "removed_enc")
        )
        await uow.session.execute(
            update(Student).where(Student.id == student.id).values(removed_enc=old)
        )
        await uow.commit()
    async with deps.uow() as uow:
        found = await find_student(uow, deps, STUDENT)
        assert found is not None
        assert not sealed_under_data_key(found.removed_enc)
        assert removed_flag(deps, found) is YesNo.YES


async def test_a_purge_destroys_the_keys_of_what_it_deletes(deps: Deps, clock: FixedClock) -> None:
    case = await fill_a_case(deps)
    await add_appointment_and_message(deps, case.student_id)
    clock.advance(FIVE_YEARS_AND_A_DAY)
    purged = await retention.purge(deps)
    assert purged.cases == 1 and purged.students == 1
    async with deps.uow() as uow:
        assert await owners_with_keys(uow) == set()


async def test_an_erasure_destroys_the_keys_in_its_own_transaction(deps: Deps) -> None:
    case = await fill_a_case(deps)
    everything = {("case", case.id), ("student", case.student_id)}
    # Given up half-way, nothing went: neither the records nor their keys.
    async with deps.uow() as uow:
        await retention.erase_student(uow, deps, case.student_id)
        assert await owners_with_keys(uow) == set()
        await uow.abandon()
    async with deps.uow() as uow:
        assert await owners_with_keys(uow) == everything
        assert await uow.session.scalar(select(func.count()).select_from(Case)) == 1
    async with deps.uow() as uow:
        await retention.erase_student(uow, deps, case.student_id)
        await uow.commit()
    async with deps.uow() as uow:
        assert await owners_with_keys(uow) == set()
        assert await uow.session.scalar(select(func.count()).select_from(Case)) == 0


async def test_a_case_gone_with_its_key_cannot_be_sealed_for_again(deps: Deps) -> None:
    case = await fill_a_case(deps)
    async with deps.uow() as uow:
        await data_keys.destroy(uow.session, OwnerKind.CASE, [case.id])
        note = CaseNote(case_id=case.id, position=9, kind=NoteKind.OTHER.value)
        await data_keys.bind(uow.session, note)
        with pytest.raises(DataKeyGone, match="has no data key"):
            deps.cipher.seal(note, "body_enc", "anything")


async def rotate(deps: Deps, spec: str, engine: AsyncEngine) -> tuple[RotationReport, int]:
    """Rotate to the ring `spec`; the report and how many SELECTs it sent."""
    newer = Deps(
        deps.sessions,
        FieldCipher(KeyRing(parse_key_spec(spec))),
        deps.index,
        deps.clock,
        deps.settings,
        deps.audit_key,
    )
    with statements_sent(engine) as sent:
        async with newer.uow() as uow:
            report = await rotate_all(uow.session, newer.cipher)
            await uow.commit()
    return report, sum(s.lstrip().upper().startswith("SELECT") for s, _ in sent)


async def test_a_rotation_rewraps_each_data_key_and_reads_no_record_under_one(
    deps: Deps, key_spec: str, engine: AsyncEngine
) -> None:
    case = await fill_a_case(deps)
    before = {(type(r).__name__, c): t for r, c, t in await every_token(deps) if owner_of(r)}
    second = f"k2:{new_key_material()}"
    report, selects = await rotate(deps, f"{second},{key_spec}", engine)
    assert report.data_keys_rewrapped == report.data_keys_examined == 2
    after = {(type(r).__name__, c): t for r, c, t in await every_token(deps) if owner_of(r)}
    assert after == before  # not one record of the case or the student was rewritten
    # Twenty more students, each with a sheet: the next rotation rewraps their keys too, with
    # no more queries (their records are never read).
    for telegram_id in range(7000, 7020):
        async with deps.uow() as uow:
            await intake.begin(uow, deps, telegram_id)
    third = f"k3:{new_key_material()}"
    report, more_selects = await rotate(deps, f"{third},{second},{key_spec}", engine)
    assert report.data_keys_rewrapped == report.data_keys_examined == 22
    assert more_selects == selects
    # With only the newest key, everything opens.
    only_new = Deps(
        deps.sessions,
        FieldCipher(KeyRing(parse_key_spec(third))),
        deps.index,
        deps.clock,
        deps.settings,
        deps.audit_key,
    )
    async with only_new.uow() as uow:
        note = await uow.session.scalar(select(CaseNote).where(CaseNote.position == 1))
        assert note is not None and only_new.cipher.open(note, "body_enc", note.body_enc) == NOTE
        student = await uow.session.get(Student, case.student_id)
        assert student is not None and removed_flag(only_new, student) is not None
