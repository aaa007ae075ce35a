"""Booking: which slots are open, and taking one. Double booking is refused by the database."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError

from bot import texts
from bot.services import audit
from bot.services.booking.availability import Slot, booking_rules, free_slots
from bot.services.booking.reminders import MOVE_HOLD, REMINDER, reminder_key
from bot.services.booking.schedule import schedules_of
from bot.services.cases import cases
from bot.services.deps import Deps
from bot.services.errors import NoSheet, SlotTaken, StaleAction, TooManyAppointments
from bot.services.intake.consent import current_consents
from bot.services.intake.sheet_store import latest_submitted_sheet, read_answers
from bot.services.intake.students import find_student, upcoming_appointments
from bot.services.notices import outbox, security
from bot.services.notices.staff_directory import staff_chat_id
from bot.services.staff import staff
from bot.services.statistics import events as statistics
from bot.vocabulary import (
    ADVISING_ROLES,
    AppointmentMode,
    AppointmentStatus,
    AuditAction,
    SheetField,
)
from storage import data_keys
from storage.models import Appointment, StaffMember
from storage.uow import UnitOfWork


@dataclass(frozen=True)
class BookedAppointment:
    appointment_id: str
    staff_id: str
    starts_at: datetime
    ends_at: datetime
    mode: AppointmentMode
    security_told: bool = False


DEADLINE_SOON = timedelta(days=14)


def _advisers(staff_id: str | None) -> Select[str]:
    """Everyone students can book: active advisers and coordinators (or only `staff_id`)."""
    query = select(StaffMember.id).where(
        StaffMember.active.is_(True), StaffMember.role.in_(ADVISING_ROLES)
    )
    if staff_id is not None:
        query = query.where(StaffMember.id == staff_id)
    return query


async def _booked(
    uow: UnitOfWork, advisers: Select[str], since: datetime
) -> dict[str, list[tuple[datetime, datetime]]]:
    """Each adviser's live bookings that end at `since` or later, in one query."""
    rows = await uow.session.execute(
        select(Appointment.staff_id, Appointment.starts_at, Appointment.ends_at).where(
            Appointment.is_booked,
            Appointment.ends_at >= since,
            Appointment.staff_id.in_(advisers),
        )
    )
    found: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for adviser_id, start, end in rows:
        found[adviser_id].append((start, end))
    return found


async def open_slots(
    uow: UnitOfWork,
    deps: Deps,
    *,
    mode: AppointmentMode | None = None,
    staff_id: str | None = None,
) -> list[Slot]:
    """Every slot a student could book now, across active advisers, in time order.

    Three queries whatever the number of advisers: their windows, their changes, their bookings.
    """
    advisers = _advisers(staff_id)
    now = deps.clock.now()
    rules = booking_rules(deps.settings)
    schedules = await schedules_of(uow, deps, advisers)
    booked = await _booked(uow, advisers, now - rules.buffer)
    slots: list[Slot] = []
    for adviser_id, schedule in schedules.items():
        slots += free_slots(
            staff_id=adviser_id,
            weekly=[w.window for w in schedule.windows],
            changes=schedule.changes,
            booked=booked[adviser_id],
            rules=rules,
            now=now,
            mode=mode,
        )
    return sorted(slots, key=lambda s: (s.starts_at, s.staff_id))


async def book(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, staff_id: str, starts_at: datetime
) -> BookedAppointment:
    """Take an offered slot for this student; SlotTaken if it is no longer free."""
    student = await find_student(uow, deps, telegram_user_id)
    if student is None or await latest_submitted_sheet(uow, student.id) is None:
        raise NoSheet
    now = deps.clock.now()
    upcoming = await uow.session.scalar(
        select(func.count())
        .select_from(Appointment)
        .where(
            Appointment.student_id == student.id,
            Appointment.is_booked,
            Appointment.starts_at > now,
        )
    )
    limit = deps.settings.max_upcoming_appointments
    if (upcoming or 0) >= limit:
        raise TooManyAppointments(limit)
    offered = await open_slots(uow, deps, staff_id=staff_id)
    slot = next((s for s in offered if s.starts_at == starts_at), None)
    if slot is None:
        raise SlotTaken
    appointment = Appointment(
        student_id=student.id,
        staff_id=staff_id,
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        mode=slot.mode.value,
        status=AppointmentStatus.BOOKED.value,
        sequence=0,
        created_at=now,
        updated_at=now,
        scheduled_at=now,
    )
    await data_keys.bind(uow.session, appointment)
    security.nothing_told(deps, appointment)
    uow.session.add(appointment)
    try:
        await uow.session.flush()
        await tell_adviser(uow, deps, appointment)
        actor = audit.student_actor(student.id)
        removed = await security.is_removed(uow, deps, student)
        await security.sync(uow, deps, appointment, actor=actor, removed=removed)
        # Told only if the consent gate let the times go.
        security_told = security.brings_to_campus(
            appointment, removed
        ) and await security.may_tell_times(uow, deps, appointment)
        await audit.record(
            uow, deps, AuditAction.APPOINTMENT_BOOKED, actor, appointment.id, staff=staff_id
        )
        await cases.assign_first_adviser(uow, deps, student.id, staff_id)
        await uow.commit()
    except IntegrityError:
        await uow.rollback()
        raise SlotTaken from None
    return BookedAppointment(
        appointment.id,
        staff_id,
        slot.starts_at,
        slot.ends_at,
        slot.mode,
        security_told=security_told,
    )


async def tell_adviser(
    uow: UnitOfWork, deps: Deps, appointment: Appointment, *, occasion: str | None = None
) -> None:
    """Queue the intake summary for the adviser, or tell coordinators it needs reassigning.

    `occasion` tells apart summaries of one appointment at one sequence (a handover sends
    one again without changing the times); by default it is the sequence.
    """
    sheet = await latest_submitted_sheet(uow, appointment.student_id)
    assert sheet is not None
    answers = read_answers(deps, sheet)
    adviser = await uow.session.get(StaffMember, appointment.staff_id)
    zone = deps.settings.zone
    if adviser is not None and adviser.active and await staff.has_acknowledged(uow, adviser):
        consents = await current_consents(uow, deps, appointment.student_id)
        deadline = answers.get(SheetField.DEADLINE)
        soon = deadline is not None and (
            date.fromisoformat(deadline) - appointment.starts_at.astimezone(zone).date()
            <= DEADLINE_SOON
        )
        html = texts.intake_summary(
            when=appointment.starts_at,
            ends=appointment.ends_at,
            mode=appointment.mode,
            zone=zone,
            answers=answers,
            consents={s: state.granted for s, state in consents.items()},
            deadline_soon=soon,
            case=await cases.reference_for_student(uow, appointment.student_id),
        )
        chat_id = staff_chat_id(deps, adviser)
        for part_number, part in enumerate(texts.split_message(html, limit=3900)):
            await outbox.enqueue(
                uow,
                deps,
                kind=outbox.ADVISER_SUMMARY,
                chat_id=chat_id,
                html=part,
                dedupe_key=f"summary:{appointment.id}:{occasion or appointment.sequence}:"
                f"{part_number}",
                ordering_key=f"adviser:{appointment.id}",
            )
        return
    await outbox.alert_coordinators(
        uow,
        deps,
        texts.summary_needs_reassigning(appointment.starts_at, zone),
        dedupe_key=f"reassign:{appointment.id}:{appointment.sequence}",
    )


def epoch_minute(moment: datetime) -> int:
    """A slot's start as whole minutes since the epoch: compact enough for button data."""
    return int(moment.timestamp()) // 60


def from_epoch_minute(minute: int) -> datetime:
    return datetime.fromtimestamp(minute * 60, tz=UTC)


async def require_sheet(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> None:
    """Booking starts only after the information sheet is in."""
    student = await find_student(uow, deps, telegram_user_id)
    if student is None or await latest_submitted_sheet(uow, student.id) is None:
        raise NoSheet


async def open_days(uow: UnitOfWork, deps: Deps, mode: AppointmentMode | None) -> list[date]:
    zone = deps.settings.zone
    return sorted(
        {s.starts_at.astimezone(zone).date() for s in await open_slots(uow, deps, mode=mode)}
    )


async def slots_on(
    uow: UnitOfWork, deps: Deps, mode: AppointmentMode | None, day: date
) -> list[Slot]:
    zone = deps.settings.zone
    return [
        s
        for s in await open_slots(uow, deps, mode=mode)
        if s.starts_at.astimezone(zone).date() == day
    ]


@dataclass(frozen=True)
class AppointmentView:
    appointment_id: str
    starts_at: datetime
    ends_at: datetime
    mode: AppointmentMode
    status: AppointmentStatus


def _view(appointment: Appointment) -> AppointmentView:
    return AppointmentView(
        appointment.id,
        appointment.starts_at,
        appointment.ends_at,
        AppointmentMode(appointment.mode),
        AppointmentStatus(appointment.status),
    )


async def my_appointments(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int
) -> list[AppointmentView]:
    """A student's upcoming booked appointments, soonest first."""
    student = await find_student(uow, deps, telegram_user_id)
    if student is None:
        return []
    return [_view(a) for a in await upcoming_appointments(uow, deps, student.id)]


async def _own_upcoming(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, appointment_id: str
) -> tuple[Appointment, str]:
    """The student's own live appointment, or StaleAction (someone else's id, or gone)."""
    student = await find_student(uow, deps, telegram_user_id)
    appointment = await uow.session.get(Appointment, appointment_id)
    if (
        student is None
        or appointment is None
        or appointment.student_id != student.id
        or appointment.status != AppointmentStatus.BOOKED.value
        or appointment.ends_at <= deps.clock.now()
    ):
        raise StaleAction
    return appointment, student.id


async def my_appointment(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, appointment_id: str
) -> AppointmentView:
    appointment, _ = await _own_upcoming(uow, deps, telegram_user_id, appointment_id)
    return _view(appointment)


async def cancel_mine(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, appointment_id: str
) -> AppointmentView:
    """The student cancels; the slot is free again at once and the adviser is told."""
    appointment, student_id = await _own_upcoming(uow, deps, telegram_user_id, appointment_id)
    now = deps.clock.now()
    appointment.status = AppointmentStatus.CANCELLED.value
    await statistics.appointment_outcome(
        uow, deps, appointment.starts_at, mode=appointment.mode, outcome=AppointmentStatus.CANCELLED
    )
    appointment.sequence += 1
    appointment.updated_at = now
    appointment.moving_until = None
    await outbox.withdraw(uow, deps, kind=REMINDER, ordering_key=reminder_key(appointment.id))
    adviser = await uow.session.get(StaffMember, appointment.staff_id)
    if adviser is not None and adviser.active:
        sheet = await latest_submitted_sheet(uow, student_id)
        name = read_answers(deps, sheet).get(SheetField.FULL_NAME) if sheet else None
        await outbox.enqueue(
            uow,
            deps,
            kind=outbox.ADVISER_CANCELLATION,
            chat_id=staff_chat_id(deps, adviser),
            html=texts.adviser_told_cancelled(
                appointment.starts_at, deps.settings.zone, name or ""
            ),
            dedupe_key=f"cancelled:{appointment.id}:{appointment.sequence}",
            ordering_key=f"adviser:{appointment.id}",
        )
    actor = audit.student_actor(student_id)
    await security.sync(uow, deps, appointment, actor=actor)
    await audit.record(uow, deps, AuditAction.APPOINTMENT_CANCELLED, actor, appointment.id)
    await cases.touch(uow, deps, appointment.student_id)
    await uow.commit()
    return _view(appointment)


async def upcoming_by_ref(
    uow: UnitOfWork, deps: Deps, ref: str, *, student_id: str | None = None
) -> Appointment:
    """The one upcoming booking whose id starts with `ref` (of this student, if given), or
    StaleAction."""
    query = select(Appointment).where(
        Appointment.is_booked,
        Appointment.starts_at > deps.clock.now(),
        Appointment.id.startswith(ref, autoescape=True),
    )
    if student_id is not None:
        query = query.where(Appointment.student_id == student_id)
    found = list((await uow.session.execute(query)).scalars())
    if len(found) != 1:
        raise StaleAction
    return found[0]


async def _own_by_ref(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, ref: str
) -> tuple[Appointment, str]:
    """The student's own upcoming appointment whose id starts with `ref`, or StaleAction."""
    student = await find_student(uow, deps, telegram_user_id)
    if student is None:
        raise StaleAction
    return await upcoming_by_ref(uow, deps, ref, student_id=student.id), student.id


async def movable(uow: UnitOfWork, deps: Deps, telegram_user_id: int, ref: str) -> AppointmentView:
    """The student's own appointment they are about to move; the move is now in progress."""
    return await still_moving(uow, deps, telegram_user_id, ref)


async def still_moving(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, ref: str
) -> AppointmentView:
    """A step of moving an appointment: hold its reminders while the student chooses.

    A reminder queued but not yet sent is taken back; if the move is left unfinished, the
    reminder job queues it again once the hold has passed.
    """
    appointment, _ = await _own_by_ref(uow, deps, telegram_user_id, ref)
    appointment.moving_until = deps.clock.now() + MOVE_HOLD
    await outbox.withdraw(uow, deps, kind=REMINDER, ordering_key=reminder_key(appointment.id))
    await uow.commit()
    return _view(appointment)


async def reschedule(
    uow: UnitOfWork,
    deps: Deps,
    telegram_user_id: int,
    ref: str,
    staff_id: str,
    starts_at: datetime,
) -> tuple[datetime, AppointmentView]:
    """Move an appointment to an offered slot, keeping the record; the old slot frees at once.

    Returns the old start and the appointment as it is now.
    """
    appointment, student_id = await _own_by_ref(uow, deps, telegram_user_id, ref)
    offered = await open_slots(uow, deps, staff_id=staff_id)
    slot = next((s for s in offered if s.starts_at == starts_at), None)
    if slot is None:
        raise SlotTaken
    old_start, old_staff = appointment.starts_at, appointment.staff_id
    appointment.staff_id = slot.staff_id
    appointment.starts_at, appointment.ends_at = slot.starts_at, slot.ends_at
    appointment.mode = slot.mode.value
    appointment.sequence += 1
    appointment.updated_at = appointment.scheduled_at = deps.clock.now()
    appointment.moving_until = None
    await outbox.withdraw(uow, deps, kind=REMINDER, ordering_key=reminder_key(appointment.id))
    try:
        await uow.session.flush()
        await _tell_advisers_moved(uow, deps, appointment, old_start, old_staff, student_id)
        actor = audit.student_actor(student_id)
        await security.sync(uow, deps, appointment, actor=actor)
        await audit.record(
            uow, deps, AuditAction.APPOINTMENT_MOVED, actor, appointment.id, staff=slot.staff_id
        )
        await cases.touch(uow, deps, student_id)
        await uow.commit()
    except IntegrityError:
        await uow.rollback()
        raise SlotTaken from None
    return old_start, _view(appointment)


async def _tell_advisers_moved(
    uow: UnitOfWork,
    deps: Deps,
    appointment: Appointment,
    old_start: datetime,
    old_staff: str,
    student_id: str,
) -> None:
    """The adviser it was with is told of the move; a new adviser gets the full summary."""
    if appointment.staff_id != old_staff:
        await tell_adviser(uow, deps, appointment)
    adviser = await uow.session.get(StaffMember, old_staff)
    if adviser is None or not adviser.active:
        return
    sheet = await latest_submitted_sheet(uow, student_id)
    name = read_answers(deps, sheet).get(SheetField.FULL_NAME) if sheet else None
    await outbox.enqueue(
        uow,
        deps,
        kind=outbox.ADVISER_MOVE,
        chat_id=staff_chat_id(deps, adviser),
        html=texts.adviser_told_moved(
            old_start, appointment.starts_at, deps.settings.zone, name or ""
        ),
        dedupe_key=f"moved:{appointment.id}:{appointment.sequence}",
        ordering_key=f"adviser:{appointment.id}",
    )
