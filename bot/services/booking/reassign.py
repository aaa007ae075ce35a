"""The coordinator hands a booked appointment to another adviser: same time, same record.

Bookings need a new adviser when theirs was deactivated or has not acknowledged the current
policy (coordinators are told so, without details); any upcoming booking can also be handed
over by case reference, say when an adviser is ill. The new adviser gets the intake summary,
the previous one (if still active) is told, and the student is told the time is unchanged.
Security hears nothing: what it was told (times only) has not changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import uuid4

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot import texts
from bot.services import audit
from bot.services.booking.availability import booking_rules, within_published_times
from bot.services.booking.booking import tell_adviser, upcoming_by_ref
from bot.services.booking.schedule import schedule_of
from bot.services.cases import cases
from bot.services.deps import Deps
from bot.services.errors import SlotTaken, StaleAction
from bot.services.intake.students import student_chat_id
from bot.services.notices import outbox
from bot.services.notices.staff_directory import staff_chat_id
from bot.services.staff import second_factor, staff
from bot.vocabulary import ADVISING_ROLES, AppointmentMode, AuditAction, Role
from storage.models import Appointment, StaffMember, Student
from storage.uow import UnitOfWork


@dataclass(frozen=True)
class Handover:
    """An upcoming booking as the coordinator sees it here: no student details but the case."""

    appointment_id: str
    starts_at: datetime
    ends_at: datetime
    mode: AppointmentMode
    case: str
    adviser: str
    needs_adviser: bool


@dataclass(frozen=True)
class Candidate:
    staff_id: str
    name: str
    in_their_times: bool


async def _coordinator(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> StaffMember:
    return await second_factor.authorise(
        uow, deps, telegram_user_id, (Role.COORDINATOR,), command="reassign"
    )


async def _can_see_students(uow: UnitOfWork, member: StaffMember | None) -> bool:
    """Active advising staff who acknowledged the current policy: they may get summaries."""
    return (
        member is not None
        and member.active
        and member.role in ADVISING_ROLES
        and await staff.has_acknowledged(uow, member)
    )


async def _handovers(
    uow: UnitOfWork, deps: Deps, appointments: list[Appointment], *, only_needing: bool
) -> list[Handover]:
    found = []
    can_see: dict[str, bool] = {}  # per adviser, not per booking
    for appointment in appointments:
        adviser = await uow.session.get(StaffMember, appointment.staff_id)
        if appointment.staff_id not in can_see:
            can_see[appointment.staff_id] = await _can_see_students(uow, adviser)
        needs = not can_see[appointment.staff_id]
        if only_needing and not needs:
            continue
        found.append(
            Handover(
                appointment.id,
                appointment.starts_at,
                appointment.ends_at,
                AppointmentMode(appointment.mode),
                await cases.reference_for_student(uow, appointment.student_id),
                staff.staff_name(deps, adviser) if adviser is not None else "",
                needs,
            )
        )
    return found


async def needing_adviser(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> list[Handover]:
    """Upcoming bookings whose adviser can no longer see the student, soonest first."""
    await _coordinator(uow, deps, telegram_user_id)
    rows = await uow.session.execute(
        select(Appointment)
        .where(
            Appointment.is_booked,
            Appointment.starts_at > deps.clock.now(),
        )
        .order_by(Appointment.starts_at)
    )
    return await _handovers(uow, deps, list(rows.scalars()), only_needing=True)


async def of_case(uow: UnitOfWork, deps: Deps, telegram_user_id: int, case: str) -> list[Handover]:
    """One student's upcoming bookings, to hand over whoever holds them (UnknownCase if none)."""
    await _coordinator(uow, deps, telegram_user_id)
    student = await cases.student_by_case(uow, case)
    rows = await uow.session.execute(
        select(Appointment)
        .where(
            Appointment.student_id == student.id,
            Appointment.is_booked,
            Appointment.starts_at > deps.clock.now(),
        )
        .order_by(Appointment.starts_at)
    )
    return await _handovers(uow, deps, list(rows.scalars()), only_needing=False)


async def _clashes(uow: UnitOfWork, deps: Deps, staff_id: str, appointment: Appointment) -> bool:
    """Whether the adviser has another booking within the buffer of this one's times."""
    buffer = booking_rules(deps.settings).buffer
    found = await uow.session.scalar(
        select(Appointment.id).where(
            Appointment.staff_id == staff_id,
            Appointment.is_booked,
            Appointment.id != appointment.id,
            Appointment.starts_at < appointment.ends_at + buffer,
            Appointment.ends_at > appointment.starts_at - buffer,
        )
    )
    return found is not None


async def _in_their_times(
    uow: UnitOfWork, deps: Deps, staff_id: str, appointment: Appointment
) -> bool:
    schedule = await schedule_of(uow, deps, staff_id)
    return within_published_times(
        appointment.starts_at,
        appointment.ends_at,
        AppointmentMode(appointment.mode),
        weekly=[w.window for w in schedule.windows],
        changes=schedule.changes,
        zone=deps.settings.zone,
    )


async def candidates(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, ref: str
) -> tuple[Handover, list[Candidate]]:
    """Who could take this booking: free then, allowed to see students; in their times first."""
    await _coordinator(uow, deps, telegram_user_id)
    appointment = await upcoming_by_ref(uow, deps, ref)
    [handover] = await _handovers(uow, deps, [appointment], only_needing=False)
    members = (
        await uow.session.execute(
            select(StaffMember)
            .where(StaffMember.active.is_(True), StaffMember.role.in_(ADVISING_ROLES))
            .order_by(StaffMember.created_at)
        )
    ).scalars()
    found = []
    for member in members:
        if member.id == appointment.staff_id or not await _can_see_students(uow, member):
            continue
        if await _clashes(uow, deps, member.id, appointment):
            continue
        found.append(
            Candidate(
                member.id,
                staff.staff_name(deps, member),
                await _in_their_times(uow, deps, member.id, appointment),
            )
        )
    return handover, sorted(found, key=lambda c: not c.in_their_times)


@dataclass(frozen=True)
class Reassigned:
    starts_at: datetime
    adviser: str


async def reassign(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, ref: str, staff_id: str
) -> Reassigned:
    """Hand the booking to `staff_id`: StaleAction if either is no longer possible,
    SlotTaken if that adviser has just been booked at that time."""
    me = await _coordinator(uow, deps, telegram_user_id)
    appointment = await upcoming_by_ref(uow, deps, ref)
    target = await uow.session.get(StaffMember, staff_id)
    if (
        target is None
        or target.id == appointment.staff_id
        or not await _can_see_students(uow, target)
    ):
        raise StaleAction
    if await _clashes(uow, deps, target.id, appointment):
        raise SlotTaken
    previous = await uow.session.get(StaffMember, appointment.staff_id)
    appointment.staff_id = target.id
    appointment.updated_at = deps.clock.now()
    try:
        await uow.session.flush()
    except IntegrityError:
        await uow.rollback()
        raise SlotTaken from None
    await tell_adviser(
        uow, deps, appointment, occasion=f"{appointment.sequence}:handover:{uuid4().hex}"
    )
    zone = deps.settings.zone
    if previous is not None and previous.active:
        await outbox.enqueue(
            uow,
            deps,
            kind=outbox.ADVISER_HANDOVER,
            chat_id=staff_chat_id(deps, previous),
            html=texts.adviser_told_handed_over(
                appointment.starts_at,
                zone,
                await cases.reference_for_student(uow, appointment.student_id),
            ),
            dedupe_key=f"handed-over:{appointment.id}:{uuid4().hex}",
            ordering_key=f"adviser:{appointment.id}",
        )
    student = await uow.session.get(Student, appointment.student_id)
    assert student is not None
    await outbox.enqueue(
        uow,
        deps,
        kind=outbox.STUDENT_NOTICE,
        chat_id=student_chat_id(deps, student),
        html=texts.student_told_handed_over(appointment.starts_at, zone),
        dedupe_key=f"student-handover:{appointment.id}:{uuid4().hex}",
        student_id=student.id,
    )
    await audit.record(
        uow,
        deps,
        AuditAction.APPOINTMENT_REASSIGNED,
        audit.staff_actor(me.id),
        audit.student_actor(appointment.student_id),
        appointment=appointment.id,
        from_staff=previous.id if previous is not None else None,
        to_staff=target.id,
    )
    await uow.commit()
    return Reassigned(appointment.starts_at, staff.staff_name(deps, target))
