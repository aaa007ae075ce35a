"""The information sheet journey: begin, answer, skip, review, edit, consent, submit, discard.

State lives in the database, so every step survives a restart, and every accepted answer is
committed before the next question is asked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from bot.services import audit, security
from bot.services.consent import SCOPES, record_consent
from bot.services.deps import Deps
from bot.services.errors import NoSheet, StaleAction
from bot.services.sheet import (
    AnswerRejected,
    QuestionKind,
    next_step,
    question,
    validate_text_answer,
)
from bot.services.sheet_store import (
    SheetView,
    current_draft,
    latest_submitted_sheet,
    read_answers,
    view_of,
    write_answers,
)
from bot.services.students import find_student, register_student
from bot.vocabulary import (
    AuditAction,
    ConsentChannel,
    ConsentScope,
    RejectReason,
    SheetField,
    SheetStatus,
    SheetStep,
)
from storage.models import InformationSheet, Student
from storage.uow import UnitOfWork

ChoiceLabel = Callable[[SheetField, str], str]


class Standing(Enum):
    """Where a student stands when they /start."""

    NEW = "new"
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"


@dataclass(frozen=True)
class Welcome:
    standing: Standing
    view: SheetView | None


def _view(deps: Deps, sheet: InformationSheet) -> SheetView:
    return view_of(deps, sheet, SCOPES)


async def _student_and_draft(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int
) -> tuple[Student, InformationSheet]:
    student = await find_student(uow, deps, telegram_user_id)
    draft = await current_draft(uow, student.id) if student else None
    if student is None or draft is None:
        raise NoSheet
    student.last_activity_at = deps.clock.now()
    return student, draft


async def welcome(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> Welcome:
    """Tell /start whether this is someone new, someone mid-sheet, or someone who submitted."""
    student = await find_student(uow, deps, telegram_user_id)
    if student is None:
        return Welcome(Standing.NEW, None)
    draft = await current_draft(uow, student.id)
    if draft is not None:
        return Welcome(Standing.IN_PROGRESS, _view(deps, draft))
    submitted = await latest_submitted_sheet(uow, student.id)
    if submitted is not None:
        return Welcome(Standing.SUBMITTED, _view(deps, submitted))
    return Welcome(Standing.NEW, None)


async def begin(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> SheetView:
    """After the privacy notice: open a draft (or return the one already open)."""
    student = await register_student(uow, deps, telegram_user_id)
    draft = await current_draft(uow, student.id)
    if draft is None:
        draft = _new_draft(deps, student)
        uow.session.add(draft)
        await uow.session.flush()
        await audit.record(
            uow, deps, AuditAction.SHEET_STARTED, audit.student_actor(student.id), draft.id
        )
    await uow.commit()
    return _view(deps, draft)


def _new_draft(deps: Deps, student: Student) -> InformationSheet:
    now = deps.clock.now()
    draft = InformationSheet(
        student_id=student.id,
        status=SheetStatus.DRAFT.value,
        step=SheetStep.of(SheetField.FULL_NAME).value,
        editing=False,
        consent_position=0,
        created_at=now,
        updated_at=now,
    )
    write_answers(deps, draft, {})
    return draft


async def start_over(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> SheetView:
    """Throw the draft away and begin a fresh one."""
    student = await register_student(uow, deps, telegram_user_id)
    draft = await current_draft(uow, student.id)
    if draft is not None:
        await uow.session.delete(draft)
        await uow.session.flush()
        await audit.record(
            uow, deps, AuditAction.SHEET_DISCARDED, audit.student_actor(student.id), draft.id
        )
    fresh = _new_draft(deps, student)
    uow.session.add(fresh)
    await uow.session.flush()
    await audit.record(
        uow, deps, AuditAction.SHEET_STARTED, audit.student_actor(student.id), fresh.id
    )
    await uow.commit()
    return _view(deps, fresh)


async def current(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> SheetView:
    """The open draft, or NoSheet."""
    _, draft = await _student_and_draft(uow, deps, telegram_user_id)
    return _view(deps, draft)


async def has_draft(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> bool:
    student = await find_student(uow, deps, telegram_user_id)
    return student is not None and await current_draft(uow, student.id) is not None


def _field_now(draft: InformationSheet) -> SheetField:
    field = SheetStep(draft.step).field
    if field is None:
        raise StaleAction
    return field


async def _accept(
    uow: UnitOfWork, deps: Deps, draft: InformationSheet, field: SheetField, value: str | None
) -> SheetView:
    answers = read_answers(deps, draft)
    answers[field] = value
    write_answers(deps, draft, answers)
    draft.step = (SheetStep.REVIEW if draft.editing else next_step(field)).value
    if draft.step == SheetStep.REVIEW.value:
        draft.editing = False
    draft.updated_at = deps.clock.now()
    await uow.commit()
    return _view(deps, draft)


async def answer_text(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, text: str, label: ChoiceLabel
) -> SheetView:
    """A typed answer to the current question; a typed choice is matched to its button label."""
    _, draft = await _student_and_draft(uow, deps, telegram_user_id)
    field = _field_now(draft)
    if question(field).kind is QuestionKind.CHOICE:
        value = _match_choice(deps, field, text, label)
    else:
        value = validate_text_answer(field, text, deps.clock.now(), deps.rules)
    return await _accept(uow, deps, draft, field, value)


def _match_choice(deps: Deps, field: SheetField, text: str, label: ChoiceLabel) -> str:
    wanted = " ".join(text.split()).casefold()
    for value in deps.rules.choices(field):
        if wanted in (value.casefold(), label(field, value).casefold()):
            return value
    raise AnswerRejected(RejectReason.NOT_A_CHOICE)


async def answer_choice(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, field: SheetField, index: int
) -> SheetView:
    """A button press on a choice question; refused if the question is not the current one."""
    _, draft = await _student_and_draft(uow, deps, telegram_user_id)
    if _field_now(draft) is not field or question(field).kind is not QuestionKind.CHOICE:
        raise StaleAction
    choices = deps.rules.choices(field)
    if not 0 <= index < len(choices):
        raise StaleAction
    return await _accept(uow, deps, draft, field, choices[index])


async def skip(uow: UnitOfWork, deps: Deps, telegram_user_id: int, field: SheetField) -> SheetView:
    """Skip an optional question (recorded as answered with nothing)."""
    _, draft = await _student_and_draft(uow, deps, telegram_user_id)
    if _field_now(draft) is not field:
        raise StaleAction
    if not question(field).optional:
        raise AnswerRejected(RejectReason.NOT_SKIPPABLE)
    return await _accept(uow, deps, draft, field, None)


async def edit(uow: UnitOfWork, deps: Deps, telegram_user_id: int, field: SheetField) -> SheetView:
    """From the review screen, go back to one question; answering it returns to review."""
    _, draft = await _student_and_draft(uow, deps, telegram_user_id)
    if draft.step != SheetStep.REVIEW.value:
        raise StaleAction
    draft.step = SheetStep.of(field).value
    draft.editing = True
    draft.updated_at = deps.clock.now()
    await uow.commit()
    return _view(deps, draft)


async def confirm_review(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> SheetView:
    """The student says the answers are right: move on to the consent questions."""
    _, draft = await _student_and_draft(uow, deps, telegram_user_id)
    if draft.step != SheetStep.REVIEW.value:
        raise StaleAction
    draft.step = SheetStep.CONSENT.value
    draft.consent_position = 0
    draft.updated_at = deps.clock.now()
    await uow.commit()
    return _view(deps, draft)


async def choose_consent(
    uow: UnitOfWork,
    deps: Deps,
    telegram_user_id: int,
    scope: ConsentScope,
    granted: bool,
) -> SheetView:
    """Record one consent choice on the sheet; after the last one, the sheet is submitted."""
    student, draft = await _student_and_draft(uow, deps, telegram_user_id)
    view = _view(deps, draft)
    if view.step is not SheetStep.CONSENT or view.consent_scope is not scope:
        raise StaleAction
    await record_consent(
        uow,
        deps,
        student_id=student.id,
        scope=scope,
        granted=granted,
        channel=ConsentChannel.INFORMATION_SHEET,
        actor=audit.student_actor(student.id),
    )
    draft.consent_position += 1
    now = deps.clock.now()
    draft.updated_at = now
    if draft.consent_position >= len(SCOPES):
        draft.status = SheetStatus.SUBMITTED.value
        draft.step = SheetStep.SUBMITTED.value
        draft.submitted_at = now
        await uow.session.flush()
        await audit.record(
            uow, deps, AuditAction.SHEET_SUBMITTED, audit.student_actor(student.id), draft.id
        )
        await security.record_sheet_answer(uow, deps, student)
    await uow.commit()
    return _view(deps, draft)


async def discard(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> None:
    """Delete the draft and everything typed into it."""
    student, draft = await _student_and_draft(uow, deps, telegram_user_id)
    await uow.session.delete(draft)
    await uow.session.flush()
    await audit.record(
        uow, deps, AuditAction.SHEET_DISCARDED, audit.student_actor(student.id), draft.id
    )
    await uow.commit()


async def my_sheet(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> SheetView:
    """The student's submitted sheet, for /mysheet (reads by the student are audited too)."""
    student = await find_student(uow, deps, telegram_user_id)
    sheet = await latest_submitted_sheet(uow, student.id) if student else None
    if student is None or sheet is None:
        raise NoSheet
    await audit.record(uow, deps, AuditAction.SHEET_READ, audit.student_actor(student.id), sheet.id)
    await uow.commit()
    return _view(deps, sheet)
