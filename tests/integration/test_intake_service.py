"""The sheet journey through the services alone, on both engines."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot import texts
from bot.services.deps import Deps
from bot.services.errors import NoSheet, StaleAction
from bot.services.intake import consent, intake
from bot.services.intake.sheet import AnswerRejected
from bot.vocabulary import (
    AuditAction,
    ConsentChannel,
    ConsentScope,
    SheetField,
    SheetStatus,
    SheetStep,
)
from storage import audit as audit_log
from storage.models import ConsentEntry, InformationSheet

STUDENT = 424242

TYPED = {
    SheetField.FULL_NAME: "Sam Jones",
    SheetField.STUDENT_NUMBER: "210012345",
    SheetField.EMAIL: "sam.jones@city.ac.uk",
    SheetField.PHONE: "07700 900123",
    SheetField.COURSE: "BSc Nursing",
    SheetField.DESCRIPTION: "I was marked absent for a placement I attended.",
    SheetField.DEADLINE: "15/12/2026",
    SheetField.ACCESSIBILITY: "Step-free access please",
}
CHOSEN = {SheetField.YEAR: 2, SheetField.CATEGORY: 0, SheetField.REMOVED: 1, SheetField.MODE: 0}


async def fill_to_review(deps: Deps) -> None:
    async with deps.uow() as uow:
        view = await intake.begin(uow, deps, STUDENT)
    while view.step.field is not None:
        field = view.step.field
        async with deps.uow() as uow:
            if field in TYPED:
                view = await intake.answer_text(
                    uow, deps, STUDENT, TYPED[field], texts.choice_label
                )
            else:
                view = await intake.answer_choice(uow, deps, STUDENT, field, CHOSEN[field])
    assert view.step is SheetStep.REVIEW


async def test_a_whole_sheet_is_answered_reviewed_consented_and_submitted(deps: Deps) -> None:
    await fill_to_review(deps)
    async with deps.uow() as uow:
        view = await intake.confirm_review(uow, deps, STUDENT)
    granted = {
        ConsentScope.SCHOOL: True,
        ConsentScope.UNIVERSITY: False,
        ConsentScope.EXTERNAL: False,
        ConsentScope.EMAIL: True,
        ConsentScope.REMINDERS: True,
    }
    while view.step is SheetStep.CONSENT:
        assert view.consent_scope is not None
        async with deps.uow() as uow:
            view = await intake.choose_consent(
                uow, deps, STUDENT, view.consent_scope, granted[view.consent_scope]
            )
    assert view.status is SheetStatus.SUBMITTED
    assert view.answers[SheetField.CATEGORY] == deps.settings.categories[0]
    assert view.answers[SheetField.REMOVED] == "no"
    async with deps.uow() as uow:
        states = await consent.my_consents(uow, deps, STUDENT)
        entries = [
            (e.channel, e.wording_version, e.wording_sha256)
            for e in (await uow.session.execute(select(ConsentEntry))).scalars()
        ]
        actions = [e.action async for e in audit_log.entries(uow.session, deps.cipher)]
    assert {s: st.granted for s, st in states.items()} == granted
    assert {channel for channel, _, _ in entries} == {ConsentChannel.INFORMATION_SHEET.value}
    assert {version for _, version, _ in entries} == {texts.CONSENT_WORDING_VERSION}
    assert {digest for _, _, digest in entries} == {consent.wording_sha256(s) for s in ConsentScope}
    assert actions.count(AuditAction.CONSENT_RECORDED.value) == 5
    assert AuditAction.SHEET_SUBMITTED.value in actions


async def test_a_new_deps_on_the_same_database_resumes_where_the_student_was(deps: Deps) -> None:
    async with deps.uow() as uow:
        await intake.begin(uow, deps, STUDENT)
    async with deps.uow() as uow:
        await intake.answer_text(uow, deps, STUDENT, "Sam Jones", texts.choice_label)
    restarted = Deps(
        deps.sessions, deps.cipher, deps.index, deps.clock, deps.settings, deps.audit_key
    )
    async with restarted.uow() as uow:
        welcome = await intake.welcome(uow, restarted, STUDENT)
    assert welcome.standing is intake.Standing.IN_PROGRESS
    assert welcome.view is not None
    assert welcome.view.step is SheetStep.STUDENT_NUMBER
    assert welcome.view.answers == {SheetField.FULL_NAME: "Sam Jones"}


async def test_a_button_for_a_question_already_answered_is_stale(deps: Deps) -> None:
    await fill_to_review(deps)
    async with deps.uow() as uow:
        with pytest.raises(StaleAction):
            await intake.answer_choice(uow, deps, STUDENT, SheetField.YEAR, 0)


async def test_an_out_of_range_choice_is_stale_and_changes_nothing(deps: Deps) -> None:
    async with deps.uow() as uow:
        await intake.begin(uow, deps, STUDENT)
    for field in (SheetField.FULL_NAME, SheetField.STUDENT_NUMBER, SheetField.EMAIL):
        async with deps.uow() as uow:
            await intake.answer_text(uow, deps, STUDENT, TYPED[field], texts.choice_label)
    async with deps.uow() as uow:
        await intake.skip(uow, deps, STUDENT, SheetField.PHONE)
    async with deps.uow() as uow:
        await intake.answer_text(uow, deps, STUDENT, TYPED[SheetField.COURSE], texts.choice_label)
    async with deps.uow() as uow:
        with pytest.raises(StaleAction):
            await intake.answer_choice(uow, deps, STUDENT, SheetField.YEAR, 99)
    async with deps.uow() as uow:
        view = await intake.current(uow, deps, STUDENT)
    assert view.step is SheetStep.YEAR
    assert view.answers[SheetField.PHONE] is None


async def test_required_questions_cannot_be_skipped(deps: Deps) -> None:
    async with deps.uow() as uow:
        await intake.begin(uow, deps, STUDENT)
    async with deps.uow() as uow:
        with pytest.raises(AnswerRejected):
            await intake.skip(uow, deps, STUDENT, SheetField.FULL_NAME)


async def test_a_typed_choice_matches_its_button_label(deps: Deps) -> None:
    async with deps.uow() as uow:
        await intake.begin(uow, deps, STUDENT)
    for field in (
        SheetField.FULL_NAME,
        SheetField.STUDENT_NUMBER,
        SheetField.EMAIL,
        SheetField.PHONE,
        SheetField.COURSE,
    ):
        async with deps.uow() as uow:
            await intake.answer_text(uow, deps, STUDENT, TYPED[field], texts.choice_label)
    async with deps.uow() as uow:
        view = await intake.answer_text(uow, deps, STUDENT, "  year 2 ", texts.choice_label)
    assert view.answers[SheetField.YEAR] == "2"


async def test_editing_from_review_returns_to_review(deps: Deps) -> None:
    await fill_to_review(deps)
    async with deps.uow() as uow:
        view = await intake.edit(uow, deps, STUDENT, SheetField.EMAIL)
    assert view.step is SheetStep.EMAIL
    async with deps.uow() as uow:
        view = await intake.answer_text(
            uow, deps, STUDENT, "s.jones@city.ac.uk", texts.choice_label
        )
    assert view.step is SheetStep.REVIEW
    assert view.answers[SheetField.EMAIL] == "s.jones@city.ac.uk"


async def test_discard_deletes_the_draft(deps: Deps) -> None:
    await fill_to_review(deps)
    async with deps.uow() as uow:
        await intake.discard(uow, deps, STUDENT)
    async with deps.uow() as uow:
        count = await uow.session.scalar(select(func.count()).select_from(InformationSheet))
        with pytest.raises(NoSheet):
            await intake.current(uow, deps, STUDENT)
    assert count == 0


async def test_changing_consent_appends_and_reports_what_changed(deps: Deps) -> None:
    await fill_to_review(deps)
    async with deps.uow() as uow:
        view = await intake.confirm_review(uow, deps, STUDENT)
    while view.step is SheetStep.CONSENT:
        assert view.consent_scope is not None
        async with deps.uow() as uow:
            view = await intake.choose_consent(uow, deps, STUDENT, view.consent_scope, False)
    async with deps.uow() as uow:
        change = await consent.change_my_consent(uow, deps, STUDENT, ConsentScope.EXTERNAL, True)
    assert (change.before, change.after) == (False, True)
    async with deps.uow() as uow:
        states = await consent.my_consents(uow, deps, STUDENT)
        count = await uow.session.scalar(select(func.count()).select_from(ConsentEntry))
    assert states[ConsentScope.EXTERNAL].granted is True
    assert states[ConsentScope.EXTERNAL].channel is ConsentChannel.BOT
    assert count == 6  # five from the sheet, one change: nothing overwritten


async def test_the_consent_gate_refuses_unless_the_matching_scope_is_granted(deps: Deps) -> None:
    await test_changing_consent_appends_and_reports_what_changed(deps)
    from bot.services.cases.disclosures import Grounds, basis_holds
    from bot.services.intake.students import find_student
    from bot.vocabulary import DisclosureBasis, GateRefusal, RecipientKind

    async with deps.uow() as uow:
        student = await find_student(uow, deps, STUDENT)
        assert student is not None
        external = Grounds(RecipientKind.EXTERNAL, DisclosureBasis.CONSENT)
        school = Grounds(RecipientKind.SCHOOL, DisclosureBasis.CONSENT)
        assert (await basis_holds(uow, deps, student.id, external)).holds
        refused = await basis_holds(uow, deps, student.id, school)
    assert refused.refusal is GateRefusal.CONSENT_REFUSED
    assert refused.scope is ConsentScope.SCHOOL
