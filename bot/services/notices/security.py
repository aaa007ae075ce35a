"""Security notices: the policy's first exception, times only, never lost, in order.

A student removed from their course who has an in-person appointment will be on campus; the
policy obliges the service to tell University Security who and when, and nothing more. Each
appointment remembers (sealed) what Security was last told of it; `sync` compares that with
the appointment as it is now and queues, in the caller's transaction, the one notice that
brings Security up to date. A repeat call queues nothing, so every change path can call it.

Times reach Security only when the consent gate (`disclosures.basis_holds`, basis
SECURITY_TIMES) holds at that moment; a notice that withdraws or cancels times Security already
has says nothing new, and is never held back (Security must not keep expecting the student).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from uuid import uuid4

from sqlalchemy import select

from bot import texts
from bot.services import audit
from bot.services.cases import case_access, cases, disclosures
from bot.services.deps import Deps
from bot.services.errors import UnknownCase
from bot.services.intake.sheet_store import Answers, latest_submitted_sheet, read_answers
from bot.services.intake.students import (
    removed_flag,
    seal_removed_flag,
    student_chat_id,
    upcoming_appointments,
)
from bot.services.notices import outbox
from bot.services.notices.security_basis import is_removed as is_removed
from bot.services.notices.security_basis import removed_on_sheet
from bot.services.notices.staff_directory import active_staff_chats
from bot.services.statistics import events as statistics
from bot.vocabulary import (
    AppointmentMode,
    AppointmentStatus,
    AuditAction,
    DisclosureBasis,
    NoticeChange,
    RecipientKind,
    Role,
    SheetField,
    YesNo,
)
from storage.models import SECURITY_RECORD_BYTES, Appointment, Student
from storage.uow import UnitOfWork

# Marking an appointment attended or missed changes nothing Security was told.
_SETTLED = (AppointmentStatus.ATTENDED.value, AppointmentStatus.NO_SHOW.value)


@dataclass(frozen=True)
class AppointmentTimes:
    """A date with a start and an end, in the service's time zone."""

    day: date
    start: time
    end: time


@dataclass(frozen=True)
class SecurityNotice:
    """Everything a Security notice can say: who (name, student number) and when.

    Its template sees nothing else, so nothing else about the student, the case or the
    appointment can reach Security.
    """

    name: str
    student_number: str
    times: AppointmentTimes
    change: NoticeChange
    previous: AppointmentTimes | None = None


# ---------------------------------------------------------------- the removed flag


# `is_removed` (as staff last set it, or else as the latest sheet says) is the gate's own, in
# security_basis, so the notices and the gate read the flag the same way.


async def record_sheet_answer(uow: UnitOfWork, deps: Deps, student: Student) -> None:
    """A newly submitted sheet says again whether the student was removed from their course."""
    sheet = await latest_submitted_sheet(uow, student.id)
    if sheet is None:
        return
    removed = removed_on_sheet(read_answers(deps, sheet))
    await _set_removed(uow, deps, student, removed, actor=audit.student_actor(student.id))


async def _set_removed(
    uow: UnitOfWork, deps: Deps, student: Student, removed: bool, *, actor: str
) -> int:
    """Keep the flag (sealed) and bring Security up to date; the number of notices queued."""
    newly = removed and removed_flag(deps, student) is not YesNo.YES
    await statistics.removed_from_course(uow, deps, deps.clock.now(), 1 if newly else 0)
    seal_removed_flag(deps, student, YesNo.YES if removed else YesNo.NO)
    queued = 0
    for appointment in await upcoming_appointments(uow, deps, student.id):
        queued += await sync(uow, deps, appointment, actor=actor, removed=removed)
    return queued


@dataclass(frozen=True)
class FlagChange:
    case: str
    removed: bool
    changed: bool
    notices: int


async def set_removed_by_staff(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, case: str, removed: bool
) -> FlagChange:
    """An adviser or the coordinator records (or clears) removal from the course.

    Audited; the student is told; Security is told the times of upcoming in-person
    appointments, or that the times it had are withdrawn.
    """
    # Least privilege as for every way into a case: another adviser's case asks why first.
    me, opened = await case_access.open_case(uow, deps, telegram_user_id, case, command="removed")
    student = await uow.session.get(Student, opened.student_id)
    if student is None:
        raise UnknownCase
    before = await is_removed(uow, deps, student)
    actor = audit.staff_actor(me.id)
    notices = await _set_removed(uow, deps, student, removed, actor=actor)
    await audit.record(uow, deps, AuditAction.REMOVED_FLAG_CHANGED, actor, student.id)
    # Written with the change itself, so each change is told once: no natural key.
    key = f"removed-flag:{uuid4().hex}"
    if before != removed:
        await outbox.enqueue(
            uow,
            deps,
            kind=outbox.STUDENT_NOTICE,
            chat_id=student_chat_id(deps, student),
            html=texts.removed_flag_told(removed),
            dedupe_key=key,
            student_id=student.id,
        )
    else:
        # Nothing to tell them; a stand-in, so the outbox does not show whether it changed.
        await outbox.enqueue_stand_in(
            uow, deps, kind=outbox.STUDENT_NOTICE, dedupe_key=key, student_id=student.id
        )
    await uow.commit()
    return FlagChange(
        await cases.reference_for_student(uow, student.id), removed, before != removed, notices
    )


# ---------------------------------------------------------------- what Security knows


@dataclass(frozen=True)
class _Told:
    version: int
    times: AppointmentTimes | None


def _told(deps: Deps, appointment: Appointment) -> _Told:
    raw = deps.cipher.open_json(appointment, "security_enc", appointment.security_enc)
    if not raw:
        return _Told(0, None)
    listed = raw.get("listed")
    times = (
        AppointmentTimes(
            date.fromisoformat(listed["day"]),
            time.fromisoformat(listed["start"]),
            time.fromisoformat(listed["end"]),
        )
        if listed
        else None
    )
    return _Told(int(raw["version"]), times)


def notices_told(deps: Deps, appointment: Appointment) -> int:
    """How many notices Security was sent about this appointment (its told version)."""
    return _told(deps, appointment).version


def _remember(deps: Deps, appointment: Appointment, told: _Told) -> None:
    listed = (
        {
            "day": told.times.day.isoformat(),
            "start": told.times.start.isoformat(),
            "end": told.times.end.isoformat(),
        }
        if told.times
        else None
    )
    appointment.security_enc = deps.cipher.seal_json(
        appointment,
        "security_enc",
        {"version": told.version, "listed": listed},
        pad_to=SECURITY_RECORD_BYTES,
    )


def nothing_told(deps: Deps, appointment: Appointment) -> None:
    """A new appointment's record of what Security knows of it: nothing yet (but sealed, like
    every other appointment's, so no row stands out)."""
    _remember(deps, appointment, _Told(0, None))


def times_of(deps: Deps, appointment: Appointment) -> AppointmentTimes:
    zone = deps.settings.zone
    start = appointment.starts_at.astimezone(zone)
    return AppointmentTimes(
        start.date(), start.time().replace(tzinfo=None), appointment.ends_at.astimezone(zone).time()
    )


def _change(
    told: AppointmentTimes | None, now: AppointmentTimes | None, cancelled: bool
) -> NoticeChange | None:
    if told == now:
        return None
    if told is None:
        return NoticeChange.EXPECTED
    if now is None:
        return NoticeChange.CANCELLED if cancelled else NoticeChange.WITHDRAWN
    return NoticeChange.MOVED


def brings_to_campus(appointment: Appointment, removed: bool) -> bool:
    """Whether Security must know this appointment's times: a removed student, booked, in
    person."""
    return (
        removed
        and appointment.status == AppointmentStatus.BOOKED.value
        and appointment.mode == AppointmentMode.IN_PERSON.value
    )


async def may_tell_times(uow: UnitOfWork, deps: Deps, appointment: Appointment) -> bool:
    """The consent gate, asked for this appointment's times to go to Security now."""
    grounds = disclosures.Grounds(
        RecipientKind.SECURITY, DisclosureBasis.SECURITY_TIMES, appointment=appointment
    )
    verdict = await disclosures.basis_holds(uow, deps, appointment.student_id, grounds)
    return verdict.holds


def _notice(
    answers: Answers,
    times: AppointmentTimes,
    change: NoticeChange,
    previous: AppointmentTimes | None = None,
) -> SecurityNotice:
    """The whitelist: of all the sheet holds, only the name and the student number."""
    return SecurityNotice(
        name=answers.get(SheetField.FULL_NAME) or "",
        student_number=answers.get(SheetField.STUDENT_NUMBER) or "",
        times=times,
        change=change,
        previous=previous,
    )


async def sync(
    uow: UnitOfWork,
    deps: Deps,
    appointment: Appointment,
    *,
    actor: str,
    removed: bool | None = None,
) -> int:
    """Queue the notice that tells Security what is true of this appointment now (or nothing).

    Call it in the transaction that changes the appointment or the flag; returns the number of
    messages queued for Security. Whether or not anything is told, the call leaves the same
    traces in the database (the record re-sealed, the same number of outbox rows, one audit
    entry), so a copy of the database cannot tell removed students from others.
    """
    if appointment.status in _SETTLED:
        return 0
    student = await uow.session.get(Student, appointment.student_id)
    if student is None:
        return 0
    if removed is None:
        removed = await is_removed(uow, deps, student)
    told = _told(deps, appointment)
    on_campus = brings_to_campus(appointment, removed)
    if on_campus and told.times is None and appointment.starts_at <= deps.clock.now():
        on_campus = False  # a past appointment is not news to anyone
    if on_campus:
        # Times go to Security only behind the gate; refused, Security hears nothing new: a
        # stand-in, or the times it had withdrawn.
        on_campus = await may_tell_times(uow, deps, appointment)
    wanted = times_of(deps, appointment) if on_campus else None
    booked = appointment.status == AppointmentStatus.BOOKED.value
    change = _change(told.times, wanted, cancelled=not booked)
    if change is None:
        _remember(deps, appointment, told)
        await _send(
            uow,
            deps,
            None,
            appointment_starts=appointment.starts_at,
            key=f"{appointment.id}:{told.version}:{uuid4().hex}",
            order=appointment.id,
        )
        await audit.record(
            uow,
            deps,
            AuditAction.SECURITY_ASSESSED,
            actor,
            appointment.id,
            basis=DisclosureBasis.SECURITY_TIMES.value,
            notice=None,
            recipients=0,
        )
        return 0
    shown = wanted or told.times
    assert shown is not None  # _change found a difference, so one side holds times
    sheet = await latest_submitted_sheet(uow, student.id)
    notice = _notice(
        read_answers(deps, sheet) if sheet else {},
        shown,
        change,
        previous=told.times if change is NoticeChange.MOVED else None,
    )
    version = told.version + 1
    _remember(deps, appointment, _Told(version, wanted))
    queued = await _send(
        uow,
        deps,
        texts.security_notice(notice),
        appointment_starts=appointment.starts_at,
        key=f"{appointment.id}:{version}",
        order=appointment.id,
    )
    await audit.record(
        uow,
        deps,
        AuditAction.DISCLOSURE_MADE,
        actor,
        appointment.id,
        basis=DisclosureBasis.SECURITY_TIMES.value,
        notice=change.value,
        recipients=queued,
    )
    return queued


async def security_chats(uow: UnitOfWork, deps: Deps) -> list[int]:
    """Active staff with the Security role, then the chat ids from settings (no repeats)."""
    chats = await active_staff_chats(uow, deps, Role.SECURITY)
    return list(dict.fromkeys(chats + list(deps.settings.security_chat_ids)))


async def _send(
    uow: UnitOfWork,
    deps: Deps,
    html: str | None,
    *,
    appointment_starts: datetime,
    key: str,
    order: str,
    kind: str = outbox.SECURITY_NOTICE,
    escalation: str | None = None,
) -> int:
    """Queue `html` for every Security chat, in order per appointment and chat; with nobody to
    send it to, tell the coordinators (without student details) so someone sets Security up.

    With `html` None there is nothing to tell: the same rows are queued as stand-ins, which
    are never sent, so the outbox looks the same whether or not Security was told.
    """
    chats = await security_chats(uow, deps)
    if html is None:
        for chat_id in chats:
            await outbox.enqueue_stand_in(
                uow,
                deps,
                kind=kind,
                dedupe_key=f"security:{key}:{chat_id}",
                ordering_key=f"security:{order}:{chat_id}",
                with_escalation=True,
            )
        if not chats:
            await outbox.stand_in_for_coordinator_alerts(
                uow, deps, dedupe_key=f"security-nobody:{key}"
            )
        elif kind == outbox.SECURITY_NOTICE:
            await statistics.security_notice_sent(uow, deps, deps.clock.now(), 0)
        return 0
    escalation = escalation or texts.security_undelivered(
        appointment_starts, deps.clock.now(), deps.settings.zone
    )
    for chat_id in chats:
        await outbox.enqueue(
            uow,
            deps,
            kind=kind,
            chat_id=chat_id,
            html=html,
            dedupe_key=f"security:{key}:{chat_id}",
            ordering_key=f"security:{order}:{chat_id}",
            escalation=escalation,
        )
    if not chats:
        await _nobody_to_tell(uow, deps, cause=key)
    elif kind == outbox.SECURITY_NOTICE:
        await statistics.security_notice_sent(uow, deps, deps.clock.now())
    return len(chats)


async def _nobody_to_tell(uow: UnitOfWork, deps: Deps, *, cause: str) -> None:
    """Ask coordinators to set Security up: once per cause (one appointment's version of what
    Security should know), whichever path (the notice, the digest) found nobody to tell."""
    await outbox.alert_coordinators(
        uow, deps, texts.SECURITY_NOBODY_TO_TELL, dedupe_key=f"security-nobody:{cause}"
    )


# ---------------------------------------------------------------- the daily digest


async def queue_digest(deps: Deps) -> int:
    """Once a day, after the digest time, list tomorrow's notified appointments for Security.

    Derived from the database and keyed by date, so a restart neither skips nor repeats it.
    Returns the number of messages queued.
    """
    settings = deps.settings
    if not settings.security_digest:
        return 0
    zone = settings.zone
    local_now = deps.clock.now().astimezone(zone)
    if local_now.time() < settings.security_digest_at:
        return 0
    tomorrow = local_now.date() + timedelta(days=1)
    start = datetime.combine(tomorrow, time(0), zone)
    end = datetime.combine(tomorrow + timedelta(days=1), time(0), zone)
    async with deps.uow() as uow:
        chats = await security_chats(uow, deps)
        first = f"security:digest:{tomorrow.isoformat()}:0:{chats[0]}" if chats else None
        if first is not None and await outbox.already_queued(uow, deps, first):
            return 0
        rows = (
            await uow.session.execute(
                select(Appointment)
                .where(
                    Appointment.is_booked,
                    Appointment.starts_at >= start,
                    Appointment.starts_at < end,
                )
                .order_by(Appointment.starts_at)
            )
        ).scalars()
        notices: list[SecurityNotice] = []
        # What each of tomorrow's appointments is audited as: disclosed if listed, else assessed.
        entries: list[tuple[Appointment, AuditAction]] = []
        causes: list[str] = []
        # Every appointment's record is opened: which ones Security was told of is sealed.
        for appointment in rows:
            record = _told(deps, appointment)
            told = record.times
            if (
                told is None
                or told != times_of(deps, appointment)
                or not await may_tell_times(uow, deps, appointment)
            ):
                entries.append((appointment, AuditAction.SECURITY_ASSESSED))
                continue
            sheet = await latest_submitted_sheet(uow, appointment.student_id)
            answers = read_answers(deps, sheet) if sheet else {}
            notices.append(_notice(answers, told, NoticeChange.EXPECTED))
            entries.append((appointment, AuditAction.DISCLOSURE_MADE))
            causes.append(f"{appointment.id}:{record.version}")
        if not chats:
            # Nothing to tell, nothing to alert; an appointment it lists already alerted the
            # coordinators when its own notice found nobody (same cause, so not again).
            for cause in causes:
                await _nobody_to_tell(uow, deps, cause=cause)
            await uow.commit()
            return 0
        queued = 0
        for part_number, part in enumerate(
            texts.split_message(texts.security_digest(tomorrow, notices), limit=3900)
        ):
            queued += await _send(
                uow,
                deps,
                part,
                appointment_starts=start,
                key=f"digest:{tomorrow.isoformat()}:{part_number}",
                order=f"digest:{tomorrow.isoformat()}",
                kind=outbox.SECURITY_DIGEST,
                escalation=texts.security_digest_undelivered(tomorrow),
            )
        # One entry for each of tomorrow's appointments, listed or not, so the number of
        # entries a digest writes says nothing about who was on it.
        for appointment, action in entries if queued else ():
            await audit.record(
                uow,
                deps,
                action,
                audit.SYSTEM,
                appointment.id,
                basis=DisclosureBasis.SECURITY_TIMES.value,
                notice="digest",
            )
        await uow.commit()
    return queued
