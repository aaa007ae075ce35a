"""Calendar files (.ics) for appointments: one stable UID, a sequence that grows with changes.

The file says only that it is a USS appointment, when, how and where: nothing about the case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event
from sqlalchemy import select

from bot import texts
from bot.services.deps import Deps
from bot.services.errors import StaleAction
from bot.services.intake.students import find_student
from bot.vocabulary import AppointmentMode, AppointmentStatus
from storage.models import Appointment
from storage.uow import UnitOfWork

UID_DOMAIN = "uss-intake-bot"
PRODID = "-//Union Support Service//USS Intake Bot//EN"
# The time zone definition in the file covers the appointment's dates with a margin, not every
# rule the zone ever had: the file stays small.
ZONE_MARGIN = timedelta(days=366)


@dataclass(frozen=True)
class CalendarFile:
    filename: str
    content: bytes


def ics(
    *,
    appointment_id: str,
    sequence: int,
    starts_at: datetime,
    ends_at: datetime,
    mode: AppointmentMode,
    cancelled: bool,
    now: datetime,
    service: str,
    office: str,
    zone: ZoneInfo,
) -> bytes:
    """One event, in the service's time zone (TZID with its VTIMEZONE), built by `icalendar`,
    which folds long lines and escapes text as RFC 5545 requires."""
    event = Event()
    event.add("uid", f"{appointment_id}@{UID_DOMAIN}")
    event.add("sequence", sequence)
    event.add("dtstamp", now.astimezone(UTC))
    event.add("dtstart", starts_at.astimezone(zone))
    event.add("dtend", ends_at.astimezone(zone))
    event.add("summary", f"{service} appointment")
    event.add("description", texts.MODE_LABELS[mode.value])
    if mode is AppointmentMode.IN_PERSON:
        event.add("location", office)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "CANCEL" if cancelled else "PUBLISH")
    calendar.add_component(event)
    calendar.add_missing_timezones(
        first_date=(starts_at - ZONE_MARGIN).date(), last_date=(ends_at + ZONE_MARGIN).date()
    )
    return bytes(calendar.to_ical())


async def calendar_file(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, appointment_id: str
) -> CalendarFile:
    """The .ics for one of the student's own appointments (booked, or cancelled)."""
    student = await find_student(uow, deps, telegram_user_id)
    appointment = await uow.session.scalar(
        select(Appointment).where(Appointment.id == appointment_id)
    )
    allowed = (AppointmentStatus.BOOKED.value, AppointmentStatus.CANCELLED.value)
    if (
        student is None
        or appointment is None
        or appointment.student_id != student.id
        or appointment.status not in allowed
    ):
        raise StaleAction
    content = ics(
        appointment_id=appointment.id,
        sequence=appointment.sequence,
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at,
        mode=AppointmentMode(appointment.mode),
        cancelled=appointment.status == AppointmentStatus.CANCELLED.value,
        now=deps.clock.now(),
        service=deps.settings.service_name,
        office=deps.settings.office_details,
        zone=deps.settings.zone,
    )
    return CalendarFile(f"uss-appointment-{appointment.id[:8]}.ics", content)
