"""Booking: which slots are open, and taking one. Double booking is refused by the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot.services import audit
from bot.services.availability import (
    BookingRules,
    ChangeKind,
    DayChange,
    Slot,
    WeeklyWindow,
    free_slots,
)
from bot.services.deps import Deps
from bot.services.errors import NoSheet, SlotTaken, TooManyAppointments
from bot.services.sheet_store import latest_submitted_sheet
from bot.services.students import find_student
from bot.settings import Settings
from bot.vocabulary import AppointmentMode, AppointmentStatus, AuditAction, Role
from storage.models import Appointment, AvailabilityChange, AvailabilityWindow, StaffMember
from storage.uow import UnitOfWork

ADVISING_ROLES = (Role.ADVISER.value, Role.COORDINATOR.value)


def booking_rules(settings: Settings) -> BookingRules:
    return BookingRules(
        slot=timedelta(minutes=settings.slot_minutes),
        buffer=timedelta(minutes=settings.buffer_minutes),
        min_notice=timedelta(minutes=settings.min_notice_minutes),
        horizon=timedelta(days=settings.booking_horizon_days),
        zone=settings.zone,
    )


def _clock(minute: int) -> time:
    return time(minute // 60, minute % 60)


@dataclass(frozen=True)
class BookedAppointment:
    appointment_id: str
    staff_id: str
    starts_at: datetime
    ends_at: datetime
    mode: AppointmentMode


async def _schedule(uow: UnitOfWork, staff_id: str) -> tuple[list[WeeklyWindow], list[DayChange]]:
    windows = (
        await uow.session.execute(
            select(AvailabilityWindow).where(AvailabilityWindow.staff_id == staff_id)
        )
    ).scalars()
    changes = (
        await uow.session.execute(
            select(AvailabilityChange).where(AvailabilityChange.staff_id == staff_id)
        )
    ).scalars()
    return (
        [
            WeeklyWindow(
                w.weekday, _clock(w.start_minute), _clock(w.end_minute), AppointmentMode(w.mode)
            )
            for w in windows
        ],
        [
            DayChange(
                c.day,
                ChangeKind(c.kind),
                _clock(c.start_minute) if c.start_minute is not None else None,
                _clock(c.end_minute) if c.end_minute is not None else None,
                AppointmentMode(c.mode) if c.mode else None,
            )
            for c in changes
        ],
    )


async def _booked(
    uow: UnitOfWork, staff_id: str, since: datetime
) -> list[tuple[datetime, datetime]]:
    rows = await uow.session.execute(
        select(Appointment.starts_at, Appointment.ends_at).where(
            Appointment.staff_id == staff_id,
            Appointment.status == AppointmentStatus.BOOKED.value,
            Appointment.ends_at >= since,
        )
    )
    return [(start, end) for start, end in rows]


async def open_slots(
    uow: UnitOfWork,
    deps: Deps,
    *,
    mode: AppointmentMode | None = None,
    staff_id: str | None = None,
) -> list[Slot]:
    """Every slot a student could book now, across active advisers, in time order."""
    query = select(StaffMember.id).where(
        StaffMember.active.is_(True), StaffMember.role.in_(ADVISING_ROLES)
    )
    if staff_id is not None:
        query = query.where(StaffMember.id == staff_id)
    now = deps.clock.now()
    rules = booking_rules(deps.settings)
    slots: list[Slot] = []
    for adviser_id in (await uow.session.execute(query)).scalars():
        weekly, changes = await _schedule(uow, adviser_id)
        if not weekly and not changes:
            continue
        slots += free_slots(
            staff_id=adviser_id,
            weekly=weekly,
            changes=changes,
            booked=await _booked(uow, adviser_id, now - rules.buffer),
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
            Appointment.status == AppointmentStatus.BOOKED.value,
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
    )
    uow.session.add(appointment)
    try:
        await uow.session.flush()
        await audit.record(
            uow,
            deps,
            AuditAction.APPOINTMENT_BOOKED,
            audit.student_actor(student.id),
            appointment.id,
            staff=staff_id,
        )
        await uow.commit()
    except IntegrityError:
        await uow.rollback()
        raise SlotTaken from None
    return BookedAppointment(appointment.id, staff_id, slot.starts_at, slot.ends_at, slot.mode)
