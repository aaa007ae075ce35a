"""Cases through the services alone, on both engines: opening, references, episodes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.clock import FixedClock
from bot.services.cases import cases
from bot.services.deps import Deps
from bot.services.errors import CaseStateWrong, UnknownCase
from bot.services.intake import intake, sheet_store
from bot.services.staff import staff
from bot.vocabulary import CaseStatus, ConsentScope, Role
from storage.models import Case, CaseEpisode, InformationSheet, StaffMember, Student
from tests.integration.test_intake_service import STUDENT, fill_to_review


async def submit(deps: Deps) -> None:
    await fill_to_review(deps)
    async with deps.uow() as uow:
        await intake.confirm_review(uow, deps, STUDENT)
    for scope in cases_scopes():
        async with deps.uow() as uow:
            await intake.choose_consent(uow, deps, STUDENT, scope, True)


def cases_scopes() -> tuple[ConsentScope, ...]:
    return tuple(ConsentScope)


async def the_cases(deps: Deps) -> list[Case]:
    async with deps.uow() as uow:
        return list((await uow.session.execute(select(Case).order_by(Case.opened_at))).scalars())


async def a_coordinator(deps: Deps) -> StaffMember:
    async with deps.uow() as uow:
        member = await staff.add_staff(
            uow, deps, telegram_user_id=3001, name="Casey C", role=Role.COORDINATOR, actor="t"
        )
        await uow.commit()
    return member


def test_references_are_short_unambiguous_and_not_sequential() -> None:
    made = [cases.new_reference() for _ in range(2000)]
    assert all(len(r) == cases.REFERENCE_LENGTH for r in made)
    assert not set("".join(made)) & set("01OIL")
    assert len(set(made)) > 1990  # random, not a counter
    assert sorted(made) != made


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("k7pm3q", "K7PM3Q"),
        (" K7P-M3Q ", "K7PM3Q"),
        ("1A2B3C4D", "1a2b3c4d"),
        ("K7PM3O", None),  # O is never used
        ("K7PM3", None),
        ("<b>x</b>", None),
    ],
)
def test_typed_references_are_normalised_or_refused(typed: str, expected: str | None) -> None:
    assert cases.normalise_reference(typed) == expected


async def test_submitting_a_sheet_opens_a_case_with_its_first_episode(deps: Deps) -> None:
    await submit(deps)
    (case,) = await the_cases(deps)
    assert case.status == CaseStatus.OPEN.value
    assert case.sheet_id is not None
    assert case.assigned_staff_id is None
    async with deps.uow() as uow:
        found = await cases.case_by_reference(uow, case.reference.lower())
        (episode,) = await cases.episodes(uow, deps, found)
    assert found.id == case.id
    assert episode.position == 1 and episode.closed_at is None and episode.outcome is None


async def test_the_old_eight_character_reference_still_finds_the_case(deps: Deps) -> None:
    await submit(deps)
    (case,) = await the_cases(deps)
    async with deps.uow() as uow:
        found = await cases.case_by_reference(uow, cases.legacy_reference(case.student_id))
        with pytest.raises(UnknownCase):
            await cases.case_by_reference(uow, "ffffffff")
        with pytest.raises(UnknownCase):
            await cases.case_by_reference(uow, "ZZZZZZ")
    assert found.id == case.id


async def test_close_and_reopen_keep_every_episode_and_move_last_activity(
    deps: Deps, clock: FixedClock
) -> None:
    await submit(deps)
    coordinator = await a_coordinator(deps)
    (case,) = await the_cases(deps)
    clock.advance(timedelta(days=30))
    async with deps.uow() as uow:
        case = await cases.case_by_reference(uow, case.reference)
        outcome = await cases.close(uow, deps, coordinator, case, 3)
        await uow.commit()
    assert outcome == deps.settings.case_outcomes[3]
    async with deps.uow() as uow:
        case = await cases.case_by_reference(uow, case.reference)
        with pytest.raises(CaseStateWrong):
            await cases.close(uow, deps, coordinator, case, 0)
        closed_at = case.last_activity_at
    clock.advance(timedelta(days=400))
    async with deps.uow() as uow:
        case = await cases.case_by_reference(uow, case.reference)
        await cases.reopen(uow, deps, coordinator, case, "  New letter from the school  ")
        await uow.commit()
    async with deps.uow() as uow:
        case = await cases.case_by_reference(uow, case.reference)
        history = await cases.episodes(uow, deps, case)
    assert case.status == CaseStatus.OPEN.value
    assert case.last_activity_at == clock.now() > closed_at
    assert [(e.position, e.outcome, e.reopen_reason) for e in history] == [
        (1, outcome, None),
        (2, None, "New letter from the school"),
    ]
    assert history[0].closed_at is not None and history[1].closed_at is None


async def test_a_new_sheet_after_a_closed_case_opens_a_second_case(
    deps: Deps, clock: FixedClock
) -> None:
    await submit(deps)
    coordinator = await a_coordinator(deps)
    (first,) = await the_cases(deps)
    async with deps.uow() as uow:
        case = await cases.case_by_reference(uow, first.reference)
        await cases.close(uow, deps, coordinator, case, 0)
        await uow.commit()
    clock.advance(timedelta(days=2))
    await submit(deps)
    older, newer = await the_cases(deps)
    assert older.id == first.id and older.status == CaseStatus.CLOSED.value
    assert newer.status == CaseStatus.OPEN.value
    assert newer.student_id == older.student_id and newer.reference != older.reference
    async with deps.uow() as uow:
        assert await cases.reference_for_student(uow, newer.student_id) == newer.reference
        episodes = (await uow.session.execute(select(CaseEpisode))).scalars().all()
    assert len(episodes) == 2


async def test_a_new_sheet_while_the_case_is_open_stays_in_that_case(
    deps: Deps, clock: FixedClock
) -> None:
    await submit(deps)
    clock.advance(timedelta(days=1))
    await submit(deps)
    (case,) = await the_cases(deps)
    async with deps.uow() as uow:
        student = await uow.session.scalar(select(Student))
    assert student is not None and case.student_id == student.id
    assert case.last_activity_at == clock.now()


async def test_sheets_from_before_the_name_index_are_indexed_once(deps: Deps) -> None:
    await submit(deps)
    async with deps.uow() as uow:
        await uow.session.execute(update(InformationSheet).values(full_name_index=None))
        await uow.commit()
    async with deps.uow() as uow:
        assert await sheet_store.index_names(uow, deps) == 1
        await uow.commit()
    async with deps.uow() as uow:
        assert await sheet_store.index_names(uow, deps) == 0
        sheet = await uow.session.scalar(select(InformationSheet))
    assert sheet is not None
    assert sheet.full_name_index == deps.full_name_key("  sam   JONES ")
