"""The information sheet journey: begin, answer, skip, review, edit, consent, submit, discard.

State lives in the database, so every step survives a restart, and every accepted answer is
committed before the next question is asked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from sqlalchemy import select

from bot.services import audit, split_texts
from bot.services.cases import cases
from bot.services.deps import Deps
from bot.services.errors import NoSheet, StaleAction
from bot.services.intake.consent import SCOPES, current_consents, record_consent
from bot.services.intake.sheet import (
    AnswerRejected,
    QuestionKind,
    next_step,
    question,
    validate_text_answer,
)
from bot.services.intake.sheet_store import (
    SheetView,
    current_draft,
    latest_submitted_sheet,
    now_submitted,
    read_answers,
    view_of,
    write_answers,
)
from bot.services.intake.students import find_student, register_student
from bot.services.notices import security
from bot.services.statistics import events as statistics
from bot.vocabulary import (
    AuditAction,
    ConsentChannel,
    ConsentScope,
    RejectReason,
    SheetField,
    SheetStatus,
    SheetStep,
)
from storage import data_keys
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
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, *, active: bool = True
) -> tuple[Student, InformationSheet]:
    """The student and their open draft, in one query; NoSheet if either is missing.

    `active`: the student is doing something (answering, choosing), so their last activity
    moves on; merely looking at the sheet does not move it.
    """
    found = (
        await uow.session.execute(
            select(Student, InformationSheet)
            .join(InformationSheet, InformationSheet.student_id == Student.id)
            .where(
                Student.telegram_index == deps.telegram_key(telegram_user_id),
                InformationSheet.status == SheetStatus.DRAFT.value,
            )
        )
    ).first()
    if found is None:
        raise NoSheet
    student, draft = found
    if active:
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
        draft = await _new_draft(uow, deps, student)
        uow.session.add(draft)
        await uow.session.flush()
        await audit.record(
            uow, deps, AuditAction.SHEET_STARTED, audit.student_actor(student.id), draft.id
        )
    await uow.commit()
    return _view(deps, draft)


async def _new_draft(uow: UnitOfWork, deps: Deps, student: Student) -> InformationSheet:
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
    await data_keys.bind(uow.session, draft)
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
    fresh = await _new_draft(uow, deps, student)
    uow.session.add(fresh)
    await uow.session.flush()
    await audit.record(
        uow, deps, AuditAction.SHEET_STARTED, audit.student_actor(student.id), fresh.id
    )
    await uow.commit()
    return _view(deps, fresh)


async def current(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> SheetView:
    """The open draft, or NoSheet."""
    _, draft = await _student_and_draft(uow, deps, telegram_user_id, active=False)
    return _view(deps, draft)


async def has_draft(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> bool:
    student = await find_student(uow, deps, telegram_user_id)
    return student is not None and await current_draft(uow, student.id) is not None


def _field_now(draft: InformationSheet) -> SheetField:
    field = SheetStep(draft.step).field
    if field is None:
        raise StaleAction
    return field


def _record(deps: Deps, draft: InformationSheet, field: SheetField, value: str | None) -> None:
    answers = read_answers(deps, draft)
    answers[field] = value
    write_answers(deps, draft, answers)
    draft.step = (SheetStep.REVIEW if draft.editing else next_step(field)).value
    if draft.step == SheetStep.REVIEW.value:
        draft.editing = False
    draft.updated_at = deps.clock.now()


async def _accept(
    uow: UnitOfWork, deps: Deps, draft: InformationSheet, field: SheetField, value: str | None
) -> SheetView:
    _record(deps, draft, field, value)
    await uow.commit()
    return _view(deps, draft)


def _typed_value(deps: Deps, field: SheetField, text: str, label: ChoiceLabel) -> str:
    if question(field).kind is QuestionKind.CHOICE:
        return _match_choice(deps, field, text, label)
    return validate_text_answer(field, text, deps.clock.now(), deps.rules)


async def answer_text(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, text: str, label: ChoiceLabel
) -> SheetView:
    """A typed answer to the current question; a typed choice is matched to its button label."""
    _, draft = await _student_and_draft(uow, deps, telegram_user_id)
    field = _field_now(draft)
    return await _accept(uow, deps, draft, field, _typed_value(deps, field, text, label))


@dataclass(frozen=True)
class Typed:
    """What became of a typed message: the sheet now, what was refused, whether it waits.

    `asked` is the question the text was taken to answer; None when the current step takes
    buttons only (the text then changed nothing).
    """

    view: SheetView
    asked: SheetField | None
    rejected: tuple[AnswerRejected, ...] = ()
    waiting: bool = False


async def receive_text(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, text: str, label: ChoiceLabel
) -> Typed:
    """A typed message, which may be one part of a longer text (see split_texts).

    The parts of one text are judged together, as one answer; a part that may be followed by
    more waits, sealed in the draft, and nothing is said about it yet.
    """
    student, draft = await _student_and_draft(uow, deps, telegram_user_id, active=False)
    asked = SheetStep(draft.step).field
    if asked is None:  # a held part always waits on a question, so none is held here
        return Typed(_view(deps, draft), asked)  # nothing answered, nothing changed
    now = deps.clock.now()
    student.last_activity_at = now
    rejected: list[AnswerRejected] = []
    earlier = split_texts.waiting_part(deps, draft)
    latest_may_be_a_part = split_texts.may_be_a_part(text)
    latest_cut_in_a_word = split_texts.cut_in_a_word(text)
    if earlier is not None:
        split_texts.release(draft)
        if earlier.until >= now and earlier.field is SheetStep(draft.step).field:
            text = split_texts.join(earlier, text)
        else:
            rejected.extend(_judge_alone(deps, draft, earlier, label))
    field = SheetStep(draft.step).field
    if field is None:  # the earlier text answered the last question; this one answers none
        await uow.commit()
        return Typed(_view(deps, draft), asked, tuple(rejected))
    if latest_may_be_a_part:
        waits = split_texts.WaitingPart(field, text, now + split_texts.WINDOW, latest_cut_in_a_word)
        split_texts.hold(deps, draft, waits)
        await uow.commit()
        return Typed(_view(deps, draft), asked, tuple(rejected), waiting=True)
    try:
        value = _typed_value(deps, field, text, label)
    except AnswerRejected as refused:
        await uow.commit()  # keeps what was released or judged before; saves nothing of this
        return Typed(_view(deps, draft), asked, (*rejected, refused))
    return Typed(await _accept(uow, deps, draft, field, value), asked, tuple(rejected))


def _judge_alone(
    deps: Deps, draft: InformationSheet, part: split_texts.WaitingPart, label: ChoiceLabel
) -> tuple[AnswerRejected, ...]:
    """A held text nothing followed in time, judged as a whole answer (the caller commits)."""
    if SheetStep(draft.step).field is not part.field:
        return ()  # the student has moved on since: the text answers nothing now
    try:
        value = _typed_value(deps, part.field, part.text, label)
    except AnswerRejected as refused:
        return (refused,)
    _record(deps, draft, part.field, value)
    return ()


@dataclass(frozen=True)
class JudgedAlone:
    """A held text judged after its window, for a reply to the student's chat."""

    chat_id: int
    typed: Typed


async def judge_texts_nothing_followed(deps: Deps, label: ChoiceLabel) -> list[JudgedAlone]:
    """Judge each held text whose window has ended; derived from the database alone."""
    judged: list[JudgedAlone] = []
    async with deps.uow() as uow:
        drafts = (
            await uow.session.execute(
                select(InformationSheet)
                .where(
                    InformationSheet.status == SheetStatus.DRAFT.value,
                    InformationSheet.fragment_until <= deps.clock.now(),
                )
                .with_for_update(skip_locked=True)
            )
        ).scalars()
        for draft in drafts:
            part = split_texts.waiting_part(deps, draft)
            student = await uow.session.get(Student, draft.student_id)
            split_texts.release(draft)
            if part is None or student is None:
                continue
            rejected = _judge_alone(deps, draft, part, label)
            chat = deps.cipher.open(student, "telegram_id_enc", student.telegram_id_enc)
            typed = Typed(_view(deps, draft), part.field, rejected)
            judged.append(JudgedAlone(int(chat or 0), typed))
        await uow.commit()
    return judged


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
        now_submitted(uow, draft)
        await audit.record(
            uow, deps, AuditAction.SHEET_SUBMITTED, audit.student_actor(student.id), draft.id
        )
        await cases.open_for_sheet(uow, deps, student, draft)
        await security.record_sheet_answer(uow, deps, student)
        for state in (await current_consents(uow, deps, student.id)).values():
            if state.granted is not None:
                await statistics.consent_at_submission(uow, deps, now, state.scope, state.granted)
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
