"""`keys split` on both engines: fields written under the key ring before data keys existed
move to their case's or student's own key, batch by batch, resumably; what has no owner
stays under the ring; everything opens as before."""

from __future__ import annotations

from typing import cast

import pytest
from sqlalchemy import Table, select, update

from bot.services.cases import cases
from bot.services.deps import Deps
from bot.services.intake.sheet_store import latest_submitted_sheet, read_answers
from bot.services.intake.students import find_student, removed_flag
from bot.vocabulary import SheetField
from storage import key_split
from storage.audit import rekey_permit
from storage.crypto import FieldCipher, SealedRow, owner_of, sealed_under_data_key
from storage.models import SEALED_COLUMNS, CaseDocument, CaseNote, StaffMember
from tests.integration.test_case_records_at_rest import DOCUMENT_BYTES, NOTE, fill_a_case
from tests.integration.test_intake_service import STUDENT
from tests.integration.test_retention import add_appointment_and_message


async def as_before_data_keys(deps: Deps) -> int:
    """Every owned field sealed again under the key ring, as revision 0021 finds a database
    (its keys made, nothing under them yet). Returns how many rows that touched."""
    rows = 0
    async with deps.uow() as uow:
        async with rekey_permit(uow.session):
            for model in key_split.owned_models():
                table = cast(Table, model.__table__)
                for loaded in (await uow.session.execute(select(model))).scalars():
                    row = cast(SealedRow, loaded)
                    values = {
                        column: deps.cipher.keys.encrypt(
                            deps.cipher.open_bytes(row, column, token),
                            FieldCipher.context(row, column),
                        )
                        for column in SEALED_COLUMNS[model]
                        if (token := getattr(row, column)) is not None
                        and sealed_under_data_key(token)
                    }
                    if values:
                        rows += 1
                        await uow.session.execute(
                            update(table).where(table.c.id == row.id).values(values)
                        )
        await uow.commit()
    return rows


async def tokens(deps: Deps) -> list[tuple[object, str, bytes]]:
    found: list[tuple[object, str, bytes]] = []
    async with deps.uow() as uow:
        for model, columns in SEALED_COLUMNS.items():
            for row in (await uow.session.execute(select(model))).scalars():
                found += [(row, c, getattr(row, c)) for c in columns if getattr(row, c)]
    return found


async def a_case_from_before_data_keys(deps: Deps) -> int:
    case = await fill_a_case(deps)
    await add_appointment_and_message(deps, case.student_id)
    moved = await as_before_data_keys(deps)
    assert not any(sealed_under_data_key(t) for _, _, t in await tokens(deps))
    return moved


async def everything_still_reads(deps: Deps) -> None:
    async with deps.uow() as uow:
        student = await find_student(uow, deps, STUDENT)
        assert student is not None
        assert removed_flag(deps, student) is not None
        sheet = await latest_submitted_sheet(uow, student.id)
        assert sheet is not None
        assert read_answers(deps, sheet)[SheetField.FULL_NAME]
        note = await uow.session.scalar(select(CaseNote).where(CaseNote.position == 1))
        assert note is not None and deps.cipher.open(note, "body_enc", note.body_enc) == NOTE
        document = await uow.session.scalar(select(CaseDocument))
        assert document is not None
        opened = deps.cipher.open_bytes(document, "content_enc", document.content_enc)
        assert opened == DOCUMENT_BYTES
        case = await cases.current_case(uow, student.id)
        assert case is not None
        history = await cases.episodes(uow, deps, case)
        assert history[-1].reopen_reason is not None


async def test_every_owned_field_moves_to_its_owners_key_and_nothing_else_does(
    deps: Deps, monkeypatch: pytest.MonkeyPatch
) -> None:
    waiting_rows = await a_case_from_before_data_keys(deps)
    async with deps.uow() as uow:
        assert await key_split.count_waiting(uow.session) == waiting_rows
    monkeypatch.setattr(key_split, "BATCH", 3)  # several batches per table
    seen: list[int] = []
    report = await key_split.split(deps.sessions, deps.cipher, progress=seen.append)
    assert report.rows == sum(seen) == waiting_rows
    assert max(seen) == 3  # a table took more than one batch
    for row, column, token in await tokens(deps):
        owned = owner_of(row) is not None
        assert sealed_under_data_key(token) is owned, f"{type(row).__name__}.{column}"
    assert any(isinstance(row, StaffMember) for row, _, _ in await tokens(deps))
    async with deps.uow() as uow:
        assert await key_split.count_waiting(uow.session) == 0
    await everything_still_reads(deps)
    # Run again, nothing is left to do.
    again = await key_split.split(deps.sessions, deps.cipher)
    assert (again.rows, again.fields) == (0, 0)


class Interrupted(Exception):
    pass


async def test_an_interrupted_split_goes_on_where_it_stopped(
    deps: Deps, monkeypatch: pytest.MonkeyPatch
) -> None:
    waiting_rows = await a_case_from_before_data_keys(deps)
    monkeypatch.setattr(key_split, "BATCH", 2)

    first: list[int] = []

    def stop(done: int) -> None:
        first.append(done)
        raise Interrupted

    with pytest.raises(Interrupted):
        await key_split.split(deps.sessions, deps.cipher, progress=stop)
    async with deps.uow() as uow:
        # The first batch was committed before the stop; nothing else was touched.
        assert await key_split.count_waiting(uow.session) == waiting_rows - first[0]
    rest = await key_split.split(deps.sessions, deps.cipher)
    assert rest.rows == waiting_rows - first[0]
    async with deps.uow() as uow:
        assert await key_split.count_waiting(uow.session) == 0
    await everything_still_reads(deps)
