"""An adviser's day and week: their appointments, and marking how each went."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot import texts
from bot.services import audit
from bot.services.booking.reminders import REMINDER, reminder_key
from bot.services.cases import cases
from bot.services.deps import Deps
from bot.services.errors import StaleAction
from bot.services.intake.sheet_store import latest_submitted_sheet, read_answers
from bot.services.intake.students import student_chat_id
from bot.services.notices import outbox, security
from bot.services.staff import second_factor, staff
from bot.services.statistics import events as statistics
from bot.vocabulary import (
    ADVISING_ROLES,
    AppointmentMode,
    AppointmentStatus,
    AuditAction,
    ServiceCancelReason,
    SheetField,
)
from storage.models import Appointment, AvailabilityChange, StaffMember, Student
from storage.uow import UnitOfWork

SHOWN = (
    AppointmentStatus.BOOKED.value,
    AppointmentStatus.ATTENDED.value,
    AppointmentStatus.NO_SHOW.value,
)


@dataclass(frozen=True)
class AgendaItem:
    appointment_id: str
    starts_at: datetime
    ends_at: datetime
    mode: AppointmentMode
    status: AppointmentStatus
    student_name: str
    category: str
    started: bool
    case: str


async def agenda(uow: UnitOfWork, deps: Deps, telegram_user_id: int, days: int) -> list[AgendaItem]:
    """The caller's appointments from the start of today for `days` days, in time order.

    Reading the students' details is a read of their case records, so it is audited.
    """
    me = await second_factor.authorise(
        uow, deps, telegram_user_id, ADVISING_ROLES, command="agenda"
    )
    zone = deps.settings.zone
    now = deps.clock.now()
    start = datetime.combine(now.astimezone(zone).date(), time(0), tzinfo=zone)
    end = start + timedelta(days=days)
    rows = (
        await uow.session.execute(
            select(Appointment)
            .where(
                Appointment.staff_id == me.id,
                Appointment.status.in_(SHOWN),
                Appointment.starts_at >= start,
                Appointment.starts_at < end,
            )
            .order_by(Appointment.starts_at)
        )
    ).scalars()
    items = []
    for appointment in rows:
        sheet = await latest_submitted_sheet(uow, appointment.student_id)
        answers = read_answers(deps, sheet) if sheet else {}
        await audit.record(
            uow,
            deps,
            AuditAction.AGENDA_READ,
            audit.staff_actor(me.id),
            audit.student_actor(appointment.student_id),
            appointment=appointment.id,
        )
        items.append(
            AgendaItem(
                appointment.id,
                appointment.starts_at,
                appointment.ends_at,
                AppointmentMode(appointment.mode),
                AppointmentStatus(appointment.status),
                answers.get(SheetField.FULL_NAME) or "",
                answers.get(SheetField.CATEGORY) or "",
                appointment.starts_at <= now,
                await cases.reference_for_student(uow, appointment.student_id),
            )
        )
    await uow.commit()
    return items


async def _mine(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, appointment_id: str
) -> tuple[StaffMember, Appointment]:
    me = await second_factor.authorise(uow, deps, telegram_user_id, ADVISING_ROLES, command="mark")
    appointment = await uow.session.get(Appointment, appointment_id)
    if appointment is None or not staff.acts_for(me, appointment.staff_id):
        raise StaleAction
    return me, appointment


async def cancellable(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, appointment_id: str
) -> None:
    """StaleAction unless the appointment is this adviser's (or any, for the coordinator) and
    still booked: asked before the reasons are offered."""
    _, appointment = await _mine(uow, deps, telegram_user_id, appointment_id)
    if not appointment.is_booked:
        raise StaleAction


async def mark(
    uow: UnitOfWork,
    deps: Deps,
    telegram_user_id: int,
    appointment_id: str,
    outcome: AppointmentStatus,
) -> None:
    """Attended or no-show, once the appointment has started."""
    if outcome not in (AppointmentStatus.ATTENDED, AppointmentStatus.NO_SHOW):
        raise ValueError("only attended or no-show are marked this way")
    me, appointment = await _mine(uow, deps, telegram_user_id, appointment_id)
    if appointment.starts_at > deps.clock.now() or appointment.status not in SHOWN:
        raise StaleAction
    before = AppointmentStatus(appointment.status)
    if before is not outcome:
        if before is not AppointmentStatus.BOOKED:  # a correction: the count moves with it
            await statistics.appointment_outcome(
                uow, deps, appointment.starts_at, mode=appointment.mode, outcome=before, by=-1
            )
        await statistics.appointment_outcome(
            uow, deps, appointment.starts_at, mode=appointment.mode, outcome=outcome
        )
    appointment.status = outcome.value
    appointment.updated_at = deps.clock.now()
    await audit.record(
        uow,
        deps,
        AuditAction.APPOINTMENT_MARKED,
        audit.staff_actor(me.id),
        appointment.id,
        outcome=outcome.value,
    )
    await cases.touch(uow, deps, appointment.student_id)
    await uow.commit()


async def cancel_by_service(
    uow: UnitOfWork,
    deps: Deps,
    telegram_user_id: int,
    appointment_id: str,
    reason: ServiceCancelReason,
) -> None:
    """The service cancels: the slot frees, and the student is told why in kind words."""
    me, appointment = await _mine(uow, deps, telegram_user_id, appointment_id)
    if (
        appointment.status != AppointmentStatus.BOOKED.value
        or appointment.ends_at <= deps.clock.now()
    ):
        raise StaleAction
    await _cancel_for_service(uow, deps, me, appointment, reason)
    await uow.commit()


async def _cancel_for_service(
    uow: UnitOfWork,
    deps: Deps,
    me: StaffMember,
    appointment: Appointment,
    reason: ServiceCancelReason,
) -> None:
    """Cancel one booking for the service and queue the student's kind notice (no commit)."""
    appointment.status = AppointmentStatus.CANCELLED_BY_SERVICE.value
    await statistics.appointment_outcome(
        uow,
        deps,
        appointment.starts_at,
        mode=appointment.mode,
        outcome=AppointmentStatus.CANCELLED_BY_SERVICE,
    )
    appointment.sequence += 1
    appointment.updated_at = deps.clock.now()
    await outbox.withdraw(uow, deps, kind=REMINDER, ordering_key=reminder_key(appointment.id))
    student = await uow.session.get(Student, appointment.student_id)
    if student is not None:
        await outbox.enqueue(
            uow,
            deps,
            kind=outbox.STUDENT_NOTICE,
            chat_id=student_chat_id(deps, student),
            html=texts.cancelled_by_service(appointment.starts_at, deps.settings.zone, reason),
            dedupe_key=f"service-cancel:{appointment.id}:{appointment.sequence}",
            ordering_key=f"notice:{appointment.id}",
            student_id=student.id,
        )
    await security.sync(uow, deps, appointment, actor=audit.staff_actor(me.id))
    await audit.record(
        uow,
        deps,
        AuditAction.APPOINTMENT_CANCELLED,
        audit.staff_actor(me.id),
        appointment.id,
        reason=reason.value,
    )
    await cases.touch(uow, deps, appointment.student_id)


def _local_span(
    day: date, start: time | None, end: time | None, zone: ZoneInfo
) -> tuple[datetime, datetime]:
    opening = datetime.combine(day, start or time(0), tzinfo=zone)
    closing = (
        datetime.combine(day, end, tzinfo=zone)
        if end is not None
        else datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    )
    return opening.astimezone(UTC), closing.astimezone(UTC)


async def booked_within(
    uow: UnitOfWork, deps: Deps, staff_id: str, change: AvailabilityChange
) -> list[Appointment]:
    """This adviser's live bookings that overlap a stretch of time off."""
    start, end = _local_span(
        change.day,
        time(change.start_minute // 60, change.start_minute % 60)
        if change.start_minute is not None
        else None,
        time(change.end_minute // 60, change.end_minute % 60)
        if change.end_minute is not None
        else None,
        deps.settings.zone,
    )
    rows = await uow.session.execute(
        select(Appointment).where(
            Appointment.staff_id == staff_id,
            Appointment.is_booked,
            Appointment.starts_at < end,
            Appointment.ends_at > start,
            Appointment.ends_at > deps.clock.now(),
        )
    )
    return list(rows.scalars())


async def cancel_within_time_off(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, change_id: str
) -> int:
    """Cancel every booking inside a time off the caller may change (their own, or any for a
    coordinator); each student is told."""
    me = await second_factor.authorise(
        uow, deps, telegram_user_id, ADVISING_ROLES, command="availability"
    )
    change = await uow.session.get(AvailabilityChange, change_id)
    if change is None or change.kind != "remove" or not staff.acts_for(me, change.staff_id):
        raise StaleAction
    affected = await booked_within(uow, deps, change.staff_id, change)
    for appointment in affected:
        await _cancel_for_service(uow, deps, me, appointment, ServiceCancelReason.UNAVAILABLE)
    await uow.commit()
    return len(affected)
