"""Consent recorded by staff, and consent asked of the student in the chat.

An adviser records a consent the student gave them by email (the email's date and its subject
or a reference, both required) or verbally (the nature of the permission in the adviser's own
words, as the policy asks), per scope, given or withdrawn, optionally limited. Or the adviser
asks the student in the chat, with a one-line purpose; the student's answer is a ledger entry
of its own. Each step is a staff draft (`staff/staff_drafts.py`), so a restart resumes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update

from bot import case_texts, texts
from bot.callbacks import Action, Press, encode
from bot.services import audit
from bot.services.cases import case_access
from bot.services.deps import Deps
from bot.services.errors import DomainError, StaleAction
from bot.services.intake import consent
from bot.services.intake.students import find_student, student_chat_id
from bot.services.notices import outbox
from bot.services.notices.staff_directory import staff_chat_id
from bot.services.staff import staff, staff_drafts
from bot.services.staff.staff_drafts import Draft
from bot.vocabulary import (
    AuditAction,
    ConsentChannel,
    ConsentScope,
    DetailProblem,
    DraftPurpose,
)
from storage import data_keys
from storage.models import Case, ConsentRequest, StaffMember, Student
from storage.uow import UnitOfWork

EMAIL_REFERENCE_MAX = 200
NATURE_MAX = 1000
LIMITATION_MAX = 300
PURPOSE_MAX = 200
# A request not answered within this is no longer open: a Yes months later, perhaps after
# the student withdrew that consent, would not be the answer to the question asked.
REQUEST_LIFETIME = timedelta(days=14)
PURPOSE_BYTES = 1024  # sealed purposes are padded to this, so their length tells nothing
COMMAND = "consentfor"


class ConsentStep(StrEnum):
    """Where a staff member is in recording (or asking for) a consent."""

    CHOOSE = "choose"
    SCOPE = "scope"
    DECISION = "decision"
    CHANNEL = "channel"
    EMAIL_DATE = "email_date"
    EMAIL_REFERENCE = "email_reference"
    NATURE = "nature"
    LIMITATION = "limitation"
    CONFIRM = "confirm"
    PURPOSE = "purpose"


class DetailRejected(DomainError):
    """A typed detail was not accepted; the draft stays where it was."""

    def __init__(self, problem: DetailProblem, limit: int | None = None) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.limit = limit


@dataclass(frozen=True)
class ConsentDraft:
    """The draft as the handler renders it: the case reference, the step and what is known."""

    reference: str
    step: ConsentStep
    scope: ConsentScope | None = None
    granted: bool | None = None
    channel: ConsentChannel | None = None
    email_date: date | None = None
    email_reference: str | None = None
    nature: str | None = None
    limitation: str | None = None


@dataclass(frozen=True)
class Recorded:
    reference: str
    scope: ConsentScope
    granted: bool


@dataclass(frozen=True)
class Answered:
    scope: ConsentScope
    granted: bool


def _view(reference: str, draft: Draft) -> ConsentDraft:
    c = draft.content
    return ConsentDraft(
        reference=reference,
        step=ConsentStep(draft.step),
        scope=ConsentScope(c["scope"]) if c.get("scope") else None,
        granted=c.get("granted"),
        channel=ConsentChannel(c["channel"]) if c.get("channel") else None,
        email_date=date.fromisoformat(c["email_date"]) if c.get("email_date") else None,
        email_reference=c.get("email_reference"),
        nature=c.get("nature"),
        limitation=c.get("limitation"),
    )


def clean_line(text: str, limit: int) -> str:
    """One line of typed detail, spaces collapsed; DetailRejected if empty or too long."""
    line = " ".join(text.split())
    if not line:
        raise DetailRejected(DetailProblem.EMPTY)
    if len(line) > limit:
        raise DetailRejected(DetailProblem.TOO_LONG, limit)
    return line


def clean_text(text: str, limit: int) -> str:
    """Typed text whose line breaks are kept; DetailRejected if empty or too long."""
    kept = text.strip()
    if not kept:
        raise DetailRejected(DetailProblem.EMPTY)
    if len(kept) > limit:
        raise DetailRejected(DetailProblem.TOO_LONG, limit)
    return kept


def email_date(typed: str, today: date) -> date:
    """The date of an email as dd/mm/yyyy, not in the future."""
    try:
        day = datetime.strptime(typed.strip(), "%d/%m/%Y").date()  # noqa: DTZ007 - a date
    except ValueError:
        raise DetailRejected(DetailProblem.DATE_FORMAT) from None
    if day > today:
        raise DetailRejected(DetailProblem.DATE_FUTURE)
    return day


async def _case_of_draft(
    uow: UnitOfWork,
    deps: Deps,
    telegram_user_id: int,
    purposes: tuple[DraftPurpose, ...],
    steps: tuple[ConsentStep, ...],
    reference: str | None = None,
) -> tuple[StaffMember, Case, Draft]:
    return await case_access.open_drafted_case(
        uow,
        deps,
        telegram_user_id,
        purposes,
        tuple(s.value for s in steps),
        command=COMMAND,
        reference=reference,
    )


async def _move(
    uow: UnitOfWork,
    deps: Deps,
    me: StaffMember,
    case: Case,
    step: ConsentStep,
    content: dict[str, Any],
) -> ConsentDraft:
    draft = await staff_drafts.save(uow, deps, me.id, step=step.value, content=content)
    await uow.commit()
    return _view(case.reference, draft)


async def start(uow: UnitOfWork, deps: Deps, telegram_user_id: int, reference: str) -> ConsentDraft:
    """/consentfor REF: open the case (least privilege) and begin a consent draft."""
    me, case = await case_access.open_case(uow, deps, telegram_user_id, reference, command=COMMAND)
    draft = await staff_drafts.begin(
        uow, deps, me.id, DraftPurpose.CONSENT, case_id=case.id, step=ConsentStep.CHOOSE.value
    )
    await uow.commit()
    return _view(case.reference, draft)


async def choose_record(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, reference: str
) -> ConsentDraft:
    """Record a consent the student gave the adviser: the scope comes next."""
    me, case, _ = await _case_of_draft(
        uow, deps, telegram_user_id, (DraftPurpose.CONSENT,), (ConsentStep.CHOOSE,), reference
    )
    return await _move(uow, deps, me, case, ConsentStep.SCOPE, {})


async def choose_ask(
    uow: UnitOfWork,
    deps: Deps,
    telegram_user_id: int,
    reference: str,
    scope: ConsentScope | None = None,
) -> ConsentDraft:
    """Ask the student in the chat: a request draft (at its purpose, if the scope is known).

    From a refused disclosure, the scope is the one that was missing; the disclosure draft is
    replaced by the request.
    """
    if scope is None:
        me, case, _ = await _case_of_draft(
            uow, deps, telegram_user_id, (DraftPurpose.CONSENT,), (ConsentStep.CHOOSE,), reference
        )
    else:
        me, case = await case_access.open_case(
            uow, deps, telegram_user_id, reference, command=COMMAND
        )
    step = ConsentStep.SCOPE if scope is None else ConsentStep.PURPOSE
    content = {} if scope is None else {"scope": scope.value}
    draft = await staff_drafts.begin(
        uow,
        deps,
        me.id,
        DraftPurpose.CONSENT_REQUEST,
        case_id=case.id,
        step=step.value,
        content=content,
    )
    await uow.commit()
    return _view(case.reference, draft)


async def choose_scope(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, reference: str, scope: ConsentScope
) -> ConsentDraft:
    me, case, draft = await _case_of_draft(
        uow,
        deps,
        telegram_user_id,
        (DraftPurpose.CONSENT, DraftPurpose.CONSENT_REQUEST),
        (ConsentStep.SCOPE,),
        reference,
    )
    step = ConsentStep.DECISION if draft.purpose is DraftPurpose.CONSENT else ConsentStep.PURPOSE
    return await _move(uow, deps, me, case, step, {"scope": scope.value})


async def choose_decision(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, reference: str, granted: bool
) -> ConsentDraft:
    me, case, draft = await _case_of_draft(
        uow, deps, telegram_user_id, (DraftPurpose.CONSENT,), (ConsentStep.DECISION,), reference
    )
    return await _move(
        uow, deps, me, case, ConsentStep.CHANNEL, {**draft.content, "granted": granted}
    )


async def choose_channel(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, reference: str, channel: ConsentChannel
) -> ConsentDraft:
    if channel not in (ConsentChannel.EMAIL, ConsentChannel.VERBAL):
        raise StaleAction
    me, case, draft = await _case_of_draft(
        uow, deps, telegram_user_id, (DraftPurpose.CONSENT,), (ConsentStep.CHANNEL,), reference
    )
    step = ConsentStep.EMAIL_DATE if channel is ConsentChannel.EMAIL else ConsentStep.NATURE
    return await _move(uow, deps, me, case, step, {**draft.content, "channel": channel.value})


async def skip_limitation(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, reference: str
) -> ConsentDraft:
    me, case, draft = await _case_of_draft(
        uow, deps, telegram_user_id, (DraftPurpose.CONSENT,), (ConsentStep.LIMITATION,), reference
    )
    return await _move(
        uow, deps, me, case, ConsentStep.CONFIRM, {**draft.content, "limitation": None}
    )


async def typed(uow: UnitOfWork, deps: Deps, telegram_user_id: int, text: str) -> ConsentDraft:
    """A typed detail for the step the consent draft is at; the next step."""
    me, case, draft = await _case_of_draft(
        uow, deps, telegram_user_id, (DraftPurpose.CONSENT,), tuple(ConsentStep)
    )
    content = dict(draft.content)
    step = ConsentStep(draft.step)
    if step is ConsentStep.EMAIL_DATE:
        today = deps.clock.now().astimezone(deps.settings.zone).date()
        content["email_date"] = email_date(text, today).isoformat()
        return await _move(uow, deps, me, case, ConsentStep.EMAIL_REFERENCE, content)
    if step is ConsentStep.EMAIL_REFERENCE:
        content["email_reference"] = clean_line(text, EMAIL_REFERENCE_MAX)
        return await _move(uow, deps, me, case, ConsentStep.LIMITATION, content)
    if step is ConsentStep.NATURE:
        content["nature"] = clean_text(text, NATURE_MAX)
        return await _move(uow, deps, me, case, ConsentStep.LIMITATION, content)
    if step is ConsentStep.LIMITATION:
        content["limitation"] = clean_line(text, LIMITATION_MAX)
        return await _move(uow, deps, me, case, ConsentStep.CONFIRM, content)
    raise DetailRejected(DetailProblem.USE_BUTTONS)


async def save(uow: UnitOfWork, deps: Deps, telegram_user_id: int, reference: str) -> Recorded:
    """Append the ledger entry, tell the student in the chat, and drop the draft."""
    me, case, draft = await _case_of_draft(
        uow, deps, telegram_user_id, (DraftPurpose.CONSENT,), (ConsentStep.CONFIRM,), reference
    )
    view = _view(case.reference, draft)
    if view.scope is None or view.granted is None or view.channel is None:
        raise StaleAction
    if view.channel is ConsentChannel.EMAIL and not (view.email_date and view.email_reference):
        raise StaleAction
    if view.channel is ConsentChannel.VERBAL and not view.nature:
        raise StaleAction
    entry = await consent.record_consent(
        uow,
        deps,
        student_id=case.student_id,
        scope=view.scope,
        granted=view.granted,
        channel=view.channel,
        actor=audit.staff_actor(me.id),
        recorded_by_staff_id=me.id,
        note=view.nature if view.channel is ConsentChannel.VERBAL else None,
        details=consent.StaffDetails(
            email_date=view.email_date,
            email_reference=view.email_reference,
            limitation=view.limitation,
        ),
    )
    case.last_activity_at = deps.clock.now()
    student = await uow.session.get(Student, case.student_id)
    if student is not None:
        first_name = staff.staff_name(deps, me).split(" ")[0]
        await outbox.enqueue(
            uow,
            deps,
            kind=outbox.STUDENT_NOTICE,
            chat_id=student_chat_id(deps, student),
            html=case_texts.student_told_consent_recorded(
                first_name, view.scope, view.granted, view.channel, view.limitation
            ),
            dedupe_key=f"consent-recorded:{entry.id}",
            student_id=student.id,
        )
    await staff_drafts.finish(uow, me.id)
    await uow.commit()
    return Recorded(case.reference, view.scope, view.granted)


async def send_request(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, text: str
) -> ConsentDraft:
    """The typed purpose of a request: queue it to the student with Yes and No."""
    me, case, draft = await _case_of_draft(
        uow, deps, telegram_user_id, (DraftPurpose.CONSENT_REQUEST,), tuple(ConsentStep)
    )
    view = _view(case.reference, draft)
    if view.step is not ConsentStep.PURPOSE or view.scope is None:
        raise DetailRejected(DetailProblem.USE_BUTTONS)
    purpose = clean_line(text, PURPOSE_MAX)
    student = await uow.session.get(Student, case.student_id)
    if student is None:
        raise StaleAction
    request = ConsentRequest(
        case_id=case.id,
        scope=view.scope.value,
        requested_by=me.id,
        created_at=deps.clock.now(),
    )
    await data_keys.bind(uow.session, request)
    request.purpose_enc = deps.cipher.seal_padded(request, "purpose_enc", purpose, PURPOSE_BYTES)
    uow.session.add(request)
    await audit.record(
        uow,
        deps,
        AuditAction.CONSENT_REQUESTED,
        audit.staff_actor(me.id),
        case.id,
        request=request.id,
        scope=view.scope.value,
    )
    await outbox.enqueue(
        uow,
        deps,
        kind=outbox.STUDENT_NOTICE,
        chat_id=student_chat_id(deps, student),
        html=case_texts.consent_request_to_student(view.scope, purpose),
        dedupe_key=f"consent-request:{request.id}",
        student_id=student.id,
        buttons=[
            (
                texts.BTN_YES,
                encode(Press(Action.CONSENT_REQUEST_ANSWER, granted=True, request_id=request.id)),
            ),
            (
                texts.BTN_NO,
                encode(Press(Action.CONSENT_REQUEST_ANSWER, granted=False, request_id=request.id)),
            ),
        ],
    )
    case.last_activity_at = deps.clock.now()
    await staff_drafts.finish(uow, me.id)
    await uow.commit()
    return view


async def answer_request(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, request_id: str, granted: bool
) -> Answered:
    """The student answers an adviser's request: once, and only their own (StaleAction)."""
    student = await find_student(uow, deps, telegram_user_id)
    request = await uow.session.scalar(
        select(ConsentRequest).where(ConsentRequest.id == request_id)
    )
    case = await uow.session.get(Case, request.case_id) if request is not None else None
    if (
        student is None
        or request is None
        or case is None
        or case.student_id != student.id
        or request.answered_at is not None
        or request.created_at < deps.clock.now() - REQUEST_LIFETIME
    ):
        raise StaleAction
    # Answered once: of two presses racing, only the one that marks it unanswered goes on.
    now = deps.clock.now()
    marked = await uow.session.execute(
        update(ConsentRequest)
        .where(ConsentRequest.id == request.id, ConsentRequest.answered_at.is_(None))
        .values(answered_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(marked, "rowcount", 0) != 1:
        raise StaleAction
    scope = ConsentScope(request.scope)
    purpose = deps.cipher.open_padded(request, "purpose_enc", request.purpose_enc)
    entry = await consent.record_consent(
        uow,
        deps,
        student_id=student.id,
        scope=scope,
        granted=granted,
        channel=ConsentChannel.BOT_REQUESTED,
        actor=audit.student_actor(student.id),
        # The student agreed to this purpose, not to everything in the scope: the purpose is
        # the consent's limitation, which the gate shows the adviser to confirm.
        details=consent.StaffDetails(limitation=purpose, purpose=purpose, request=request.id),
    )
    request.answered_at = now
    request.entry_id = entry.id
    case.last_activity_at = now
    adviser = await uow.session.get(StaffMember, request.requested_by)
    if adviser is not None and adviser.active:
        await outbox.enqueue(
            uow,
            deps,
            kind=outbox.CASE_NOTICE,
            chat_id=staff_chat_id(deps, adviser),
            html=case_texts.adviser_told_answer(case.reference, scope, granted),
            dedupe_key=f"consent-answer:{request.id}",
        )
    await uow.commit()
    return Answered(scope, granted)
