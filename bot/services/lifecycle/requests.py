"""Subject requests: a student asks for a copy of what is held about them, or for its
deletion, in any words, through any channel, to anyone in the service.

The clock starts the day the request was received. It is due the same day next calendar
month (that month's last day when it has no such day), moved to the next working day in
England and Wales; it may be extended once, by one or two further months, only while the
first month runs and with a reason the student is told; it stands still only while the
service waits for the student to confirm who they are or what they ask for, and the due date
moves by the length of the pause.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

import holidays
from sqlalchemy import select

from bot import lifecycle_texts
from bot.services import audit
from bot.services.cases import cases
from bot.services.deps import Deps
from bot.services.errors import NotAuthorised, RequestProblem, RequestRefused
from bot.services.intake.students import find_student, student_chat_id
from bot.services.lifecycle import retention
from bot.services.notices import outbox
from bot.services.notices.staff_directory import active_staff_chats
from bot.services.staff import second_factor
from bot.services.statistics import events as statistics
from bot.vocabulary import (
    AuditAction,
    PauseReason,
    RequestChannel,
    RequestKind,
    RequestStatus,
    Role,
)
from storage import data_keys
from storage.models import StaffMember, Student, SubjectRequest
from storage.uow import UnitOfWork

DETAILS_BLOCK = retention.REQUEST_DETAILS_BLOCK
REASON_MAX = 500
MAX_EXTENSION_MONTHS = 2
OPEN_STATUSES = (RequestStatus.OPEN.value, RequestStatus.PAUSED.value)
REMIND_DAYS_BEFORE = (7, 1)


@cache
def _bank_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("GB", subdiv="ENG", years=[year])


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


def next_working_day(day: date) -> date:
    """The day itself if it is a working day in England and Wales, else the next one."""
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def months_after(day: date, months: int) -> date:
    """The same day `months` calendar months later, or that month's last day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def due_on(received_on: date, *, extended_months: int = 0, paused_days: int = 0) -> date:
    """When a request received on `received_on` must be answered."""
    if not 0 <= extended_months <= MAX_EXTENSION_MONTHS:
        raise ValueError("an extension is of one or two further months")
    return next_working_day(
        months_after(received_on, 1 + extended_months) + timedelta(days=paused_days)
    )


def parse_received(typed: str, today: date) -> date:
    """The day a request was received, as staff type it: today, 2026-12-01 or 1/12/2026."""
    typed = typed.strip().lower()
    if typed == "today":
        return today
    if typed == "yesterday":
        return today - timedelta(days=1)
    for layout in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(typed, layout).date()  # noqa: DTZ007 - a date
        except ValueError:
            continue
    raise RequestRefused(RequestProblem.BAD_DATE)


@dataclass(frozen=True)
class RequestView:
    """One request as the register shows it: no student details, the case reference only."""

    request_id: str
    reference: str
    case_reference: str | None
    kind: RequestKind
    channel: RequestChannel
    status: RequestStatus
    received_on: date
    due_on: date
    extended_months: int
    paused_on: date | None
    closed_on: date | None
    reason: str | None


def reference_of(request: SubjectRequest) -> str:
    """How staff name a request: R- and six characters of its id."""
    return "R-" + request.id[:6].upper()


def _details(deps: Deps, request: SubjectRequest) -> dict[str, Any]:
    return dict(deps.cipher.open_json(request, "details_enc", request.details_enc))


def _seal_details(deps: Deps, request: SubjectRequest, details: dict[str, Any]) -> None:
    request.details_enc = deps.cipher.seal_json(
        request, "details_enc", details, pad_to=DETAILS_BLOCK
    )


def current_due(request: SubjectRequest, today: date) -> date:
    """The due date, counting a pause under way up to today."""
    running = (today - request.paused_on).days if request.paused_on is not None else 0
    return due_on(
        request.received_on,
        extended_months=request.extended_months,
        paused_days=request.paused_days + max(running, 0),
    )


def today(deps: Deps) -> date:
    return deps.clock.now().astimezone(deps.settings.zone).date()


async def _view(uow: UnitOfWork, deps: Deps, request: SubjectRequest) -> RequestView:
    case_reference = None
    if request.student_id is not None:
        case = await cases.current_case(uow, request.student_id)
        case_reference = case.reference if case is not None else None
    details = _details(deps, request)
    return RequestView(
        request.id,
        reference_of(request),
        case_reference,
        RequestKind(request.kind),
        RequestChannel(request.channel),
        RequestStatus(request.status),
        request.received_on,
        current_due(request, today(deps)),
        request.extended_months,
        request.paused_on,
        request.closed_on,
        details.get("reason"),
    )


async def _open_of(uow: UnitOfWork, student_id: str, kind: RequestKind) -> SubjectRequest | None:
    return await uow.session.scalar(
        select(SubjectRequest).where(
            SubjectRequest.student_id == student_id,
            SubjectRequest.kind == kind.value,
            SubjectRequest.status.in_(OPEN_STATUSES),
        )
    )


async def _record(
    uow: UnitOfWork,
    deps: Deps,
    student: Student,
    kind: RequestKind,
    channel: RequestChannel,
    received_on: date,
    actor: str,
) -> SubjectRequest:
    """Add a request to the register, tell the coordinators, audit it (the caller commits)."""
    if received_on > today(deps):
        raise RequestRefused(RequestProblem.FUTURE_DATE)
    if received_on < today(deps) - timedelta(days=366):
        raise RequestRefused(RequestProblem.TOO_OLD)
    if await _open_of(uow, student.id, kind) is not None:
        raise RequestRefused(RequestProblem.ALREADY_OPEN)
    request = SubjectRequest(
        student_id=student.id,
        kind=kind.value,
        channel=channel.value,
        received_on=received_on,
        recorded_by=actor,
        recorded_at=deps.clock.now(),
        status=RequestStatus.OPEN.value,
        extended_months=0,
        paused_days=0,
    )
    await data_keys.bind(uow.session, request)
    _seal_details(deps, request, {})
    uow.session.add(request)
    await uow.session.flush()
    await audit.record(uow, deps, AuditAction.REQUEST_RECEIVED, actor, request.id, kind=kind.value)
    await cases.touch(uow, deps, student.id)
    case_reference = await cases.reference_for_student(uow, student.id)
    html = lifecycle_texts.request_received(
        reference_of(request), kind, case_reference, received_on, current_due(request, received_on)
    )
    await _tell_coordinators(uow, deps, html, f"request-received:{request.id}")
    return request


async def _tell_coordinators(uow: UnitOfWork, deps: Deps, html: str, key: str) -> int:
    """Queue `html` (a reference, never the student's details) for every coordinator."""
    queued = 0
    for chat_id in await active_staff_chats(uow, deps, Role.COORDINATOR):
        message = await outbox.enqueue(
            uow,
            deps,
            kind=outbox.CASE_NOTICE,
            chat_id=chat_id,
            html=html,
            dedupe_key=f"{key}:{chat_id}",
        )
        queued += message is not None
    return queued


async def ask(uow: UnitOfWork, deps: Deps, telegram_user_id: int, kind: RequestKind) -> RequestView:
    """A student asks in the bot; received today."""
    student = await find_student(uow, deps, telegram_user_id)
    if student is None:
        raise RequestRefused(RequestProblem.NOTHING_HELD)
    request = await _record(
        uow,
        deps,
        student,
        kind,
        RequestChannel.BOT,
        today(deps),
        audit.student_actor(student.id),
    )
    view = await _view(uow, deps, request)
    await uow.commit()
    return view


async def record_for(
    uow: UnitOfWork,
    deps: Deps,
    me: StaffMember,
    case_reference: str,
    kind: RequestKind,
    channel: RequestChannel,
    received_on: date,
) -> RequestView:
    """Staff record a request received another way (email, in person, a letter, a message
    typed into the chat), with the day it was received: the clock runs from that day."""
    await second_factor.require(uow, deps, me, unlocked=True)
    student = await cases.student_by_case(uow, case_reference)
    request = await _record(
        uow, deps, student, kind, channel, received_on, audit.staff_actor(me.id)
    )
    view = await _view(uow, deps, request)
    await uow.commit()
    return view


async def mine(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> list[RequestView]:
    """The student's own requests, newest first."""
    student = await find_student(uow, deps, telegram_user_id)
    if student is None:
        return []
    rows = await uow.session.execute(
        select(SubjectRequest)
        .where(SubjectRequest.student_id == student.id)
        .order_by(SubjectRequest.received_on.desc(), SubjectRequest.recorded_at.desc())
    )
    return [await _view(uow, deps, r) for r in rows.scalars()]


async def _coordinator(uow: UnitOfWork, deps: Deps, me: StaffMember) -> None:
    """The coordinator, in a session unlocked with their second factor."""
    if Role(me.role) is not Role.COORDINATOR:
        raise NotAuthorised((Role.COORDINATOR,))
    await second_factor.require(uow, deps, me, unlocked=True)


async def open_requests(uow: UnitOfWork, deps: Deps, me: StaffMember) -> list[RequestView]:
    """Every open request, soonest due first (for the coordinator)."""
    await _coordinator(uow, deps, me)
    rows = await uow.session.execute(
        select(SubjectRequest).where(SubjectRequest.status.in_(OPEN_STATUSES))
    )
    views = [await _view(uow, deps, r) for r in rows.scalars()]
    await audit.record(
        uow, deps, AuditAction.REQUESTS_LISTED, audit.staff_actor(me.id), None, count=len(views)
    )
    await uow.commit()
    return sorted(views, key=lambda v: (v.due_on, v.received_on))


async def _request(uow: UnitOfWork, typed: str) -> SubjectRequest:
    code = typed.strip().upper().removeprefix("R-")
    if len(code) != 6 or not code.isalnum():
        raise RequestRefused(RequestProblem.UNKNOWN)
    rows = (
        await uow.session.execute(
            select(SubjectRequest).where(SubjectRequest.status.in_(OPEN_STATUSES))
        )
    ).scalars()
    found = [r for r in rows if r.id[:6].upper() == code]
    if len(found) != 1:
        raise RequestRefused(RequestProblem.UNKNOWN)
    return found[0]


async def _tell_student(
    uow: UnitOfWork, deps: Deps, request: SubjectRequest, html: str, key: str
) -> None:
    if request.student_id is None:
        return
    student = await uow.session.get(Student, request.student_id)
    if student is None:
        return
    await outbox.enqueue(
        uow,
        deps,
        kind=outbox.STUDENT_NOTICE,
        chat_id=student_chat_id(deps, student),
        html=html,
        dedupe_key=f"{key}:{request.id}",
        student_id=student.id,
    )


async def extend(
    uow: UnitOfWork, deps: Deps, me: StaffMember, typed: str, months: int, reason: str
) -> RequestView:
    """Extend once, by one or two months, while the first month runs, with a reason the
    student is told."""
    await _coordinator(uow, deps, me)
    request = await _request(uow, typed)
    reason = " ".join(reason.split())
    if not reason or len(reason) > REASON_MAX:
        raise RequestRefused(RequestProblem.REASON_NEEDED)
    if not 1 <= months <= MAX_EXTENSION_MONTHS:
        raise RequestRefused(RequestProblem.EXTENSION_LENGTH)
    if request.extended_months:
        raise RequestRefused(RequestProblem.ALREADY_EXTENDED)
    if today(deps) > current_due(request, today(deps)):
        raise RequestRefused(RequestProblem.FIRST_MONTH_OVER)
    request.extended_months = months
    _seal_details(deps, request, {**_details(deps, request), "reason": reason})
    await audit.record(
        uow, deps, AuditAction.REQUEST_EXTENDED, audit.staff_actor(me.id), request.id, months=months
    )
    view = await _view(uow, deps, request)
    await _tell_student(
        uow,
        deps,
        request,
        lifecycle_texts.request_extended(view.kind, view.due_on, reason),
        "extended",
    )
    await uow.commit()
    return view


async def withdraw_extension(
    uow: UnitOfWork, deps: Deps, me: StaffMember, typed: str
) -> RequestView:
    """Take back an extension given by mistake: the one-month date applies again."""
    await _coordinator(uow, deps, me)
    request = await _request(uow, typed)
    if not request.extended_months:
        raise RequestRefused(RequestProblem.NOT_EXTENDED)
    request.extended_months = 0
    details = _details(deps, request)
    details.pop("reason", None)
    _seal_details(deps, request, details)
    await audit.record(
        uow, deps, AuditAction.REQUEST_EXTENDED, audit.staff_actor(me.id), request.id, months=0
    )
    view = await _view(uow, deps, request)
    await _tell_student(
        uow, deps, request, lifecycle_texts.request_due_again(view.kind, view.due_on), "unextended"
    )
    await uow.commit()
    return view


async def pause(
    uow: UnitOfWork, deps: Deps, me: StaffMember, typed: str, why: PauseReason
) -> RequestView:
    """Stop the clock while the service waits for the student (who they are, what they ask)."""
    await _coordinator(uow, deps, me)
    request = await _request(uow, typed)
    if request.status == RequestStatus.PAUSED.value:
        raise RequestRefused(RequestProblem.ALREADY_PAUSED)
    request.status = RequestStatus.PAUSED.value
    request.paused_on = today(deps)
    _seal_details(deps, request, {**_details(deps, request), "paused_for": why.value})
    await audit.record(
        uow, deps, AuditAction.REQUEST_PAUSED, audit.staff_actor(me.id), request.id, why=why.value
    )
    view = await _view(uow, deps, request)
    await _tell_student(
        uow, deps, request, lifecycle_texts.request_paused(view.kind, why), f"paused:{today(deps)}"
    )
    await uow.commit()
    return view


async def resume(uow: UnitOfWork, deps: Deps, me: StaffMember, typed: str) -> RequestView:
    """The student answered: the clock runs again, the due date moved by the pause."""
    await _coordinator(uow, deps, me)
    request = await _request(uow, typed)
    if request.status != RequestStatus.PAUSED.value or request.paused_on is None:
        raise RequestRefused(RequestProblem.NOT_PAUSED)
    request.paused_days += max((today(deps) - request.paused_on).days, 0)
    request.paused_on = None
    request.status = RequestStatus.OPEN.value
    await audit.record(uow, deps, AuditAction.REQUEST_RESUMED, audit.staff_actor(me.id), request.id)
    view = await _view(uow, deps, request)
    await uow.commit()
    return view


async def mark_sent(uow: UnitOfWork, deps: Deps, me: StaffMember, typed: str) -> RequestView:
    """An access request answered: the copy was sent (the date is today)."""
    await _coordinator(uow, deps, me)
    request = await _request(uow, typed)
    if request.kind != RequestKind.ACCESS.value:
        raise RequestRefused(RequestProblem.WRONG_KIND)
    return await _close(uow, deps, me, request, RequestStatus.SENT, AuditAction.REQUEST_ANSWERED)


async def _close(
    uow: UnitOfWork,
    deps: Deps,
    me: StaffMember,
    request: SubjectRequest,
    status: RequestStatus,
    action: AuditAction,
    *,
    commit: bool = True,
) -> RequestView:
    on_time = today(deps) <= current_due(request, today(deps))
    if request.paused_on is not None:
        request.paused_days += max((today(deps) - request.paused_on).days, 0)
        request.paused_on = None
    request.status = status.value
    request.closed_on = today(deps)
    await statistics.request_answered(
        uow, deps, deps.clock.now(), kind=request.kind, on_time=on_time
    )
    await audit.record(uow, deps, action, audit.staff_actor(me.id), request.id, on_time=on_time)
    view = await _view(uow, deps, request)
    if commit:
        await uow.commit()
    return view


async def accept_deletion(uow: UnitOfWork, deps: Deps, me: StaffMember, typed: str) -> RequestView:
    """Delete the student's records at once, as the retention job would; they are told."""
    await _coordinator(uow, deps, me)
    request = await _request(uow, typed)
    if request.kind != RequestKind.ERASURE.value:
        raise RequestRefused(RequestProblem.WRONG_KIND)
    student_id = request.student_id
    if student_id is None:
        raise RequestRefused(RequestProblem.UNKNOWN)
    student = await uow.session.get(Student, student_id)
    if student is not None:
        # Queued without the student's id, so the message outlives the row it would cascade
        # from; its recipient and text are cleared once it is sent, as every message's are.
        await outbox.enqueue(
            uow,
            deps,
            kind=outbox.STUDENT_NOTICE,
            chat_id=student_chat_id(deps, student),
            html=lifecycle_texts.DELETION_DONE,
            dedupe_key=f"deletion-done:{request.id}",
        )
    view = await _close(
        uow, deps, me, request, RequestStatus.ACCEPTED, AuditAction.REQUEST_ANSWERED, commit=False
    )
    # In the same transaction: the request closed, the records gone, or neither.
    counts = await retention.erase_student(uow, deps, student_id)
    await audit.record(
        uow,
        deps,
        AuditAction.RETENTION_PURGE,
        audit.staff_actor(me.id),
        request.id,
        cases=counts.cases,
        notes=counts.notes,
        documents=counts.documents,
        disclosures=counts.disclosures,
        students=counts.students,
    )
    await uow.commit()
    return view


async def decline_deletion(
    uow: UnitOfWork, deps: Deps, me: StaffMember, typed: str, reason: str
) -> RequestView:
    """Decline a deletion request with a reason the student is told (an open case, say)."""
    await _coordinator(uow, deps, me)
    request = await _request(uow, typed)
    if request.kind != RequestKind.ERASURE.value:
        raise RequestRefused(RequestProblem.WRONG_KIND)
    reason = " ".join(reason.split())
    if not reason or len(reason) > REASON_MAX:
        raise RequestRefused(RequestProblem.REASON_NEEDED)
    _seal_details(deps, request, {**_details(deps, request), "reason": reason})
    await _tell_student(uow, deps, request, lifecycle_texts.deletion_declined(reason), "declined")
    return await _close(
        uow, deps, me, request, RequestStatus.DECLINED, AuditAction.REQUEST_ANSWERED
    )


async def remind(deps: Deps) -> int:
    """Tell the coordinators 7 days and 1 day before a request is due, and when it is
    overdue: once each per due date (a moved date gets its own reminders)."""
    queued = 0
    now_day = today(deps)
    async with deps.uow() as uow:
        rows = (
            await uow.session.execute(
                select(SubjectRequest).where(SubjectRequest.status == RequestStatus.OPEN.value)
            )
        ).scalars()
        for request in list(rows):
            due = current_due(request, now_day)
            left = (due - now_day).days
            if left < 0:
                moment = "overdue"
            elif left in REMIND_DAYS_BEFORE:
                moment = f"{left}d"
            else:
                continue
            view = await _view(uow, deps, request)
            html = lifecycle_texts.request_reminder(
                view.reference, view.kind, view.case_reference, view.due_on, left
            )
            queued += await _tell_coordinators(
                uow, deps, html, f"request-reminder:{request.id}:{due.isoformat()}:{moment}"
            )
        await uow.commit()
    return queued
