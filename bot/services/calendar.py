"""Calendar files (.ics) for appointments: one stable UID, a sequence that grows with changes.

The file says only that it is a USS appointment, when, how and where: nothing about the case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from bot import texts
from bot.services.deps import Deps
from bot.services.errors import StaleAction
from bot.services.students import find_student
from bot.vocabulary import AppointmentMode, AppointmentStatus
from storage.models import Appointment
from storage.uow import UnitOfWork

UID_DOMAIN = "uss-intake-bot"


@dataclass(frozen=True)
class CalendarFile:
    filename: str
    content: bytes


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


def _text(value: str) -> str:
    """Escape a value for iCalendar (RFC 5545, 3.3.11)."""
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


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
) -> str:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Union Support Service//USS Intake Bot//EN",
        "CALSCALE:GREGORIAN",
        f"METHOD:{'CANCEL' if cancelled else 'PUBLISH'}",
        "BEGIN:VEVENT",
        f"UID:{appointment_id}@{UID_DOMAIN}",
        f"SEQUENCE:{sequence}",
        f"DTSTAMP:{_stamp(now)}",
        f"DTSTART:{_stamp(starts_at)}",
        f"DTEND:{_stamp(ends_at)}",
        f"SUMMARY:{_text(service + ' appointment')}",
        f"DESCRIPTION:{_text(texts.MODE_LABELS[mode.value])}",
        f"STATUS:{'CANCELLED' if cancelled else 'CONFIRMED'}",
    ]
    if mode is AppointmentMode.IN_PERSON:
        lines.append(f"LOCATION:{_text(office)}")
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return "\r\n".join(lines) + "\r\n"


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
    )
    return CalendarFile(f"uss-appointment-{appointment.id[:8]}.ics", content.encode("utf-8"))
