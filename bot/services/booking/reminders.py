"""Appointment reminders, derived from the database each run, so restarts lose none.

Only with the student's consent to reminders in this chat. After downtime only the most
recent reminder that has fallen due is sent (never a pile of stale ones), and each
(appointment, version, offset) is queued at most once. A reminder whose moment had already
passed when the appointment got its current times (booked or moved) is never sent: it would
arrive on the heels of "Booked." And none is sent while the student is moving the appointment.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot import texts
from bot.services.deps import Deps
from bot.services.intake.consent import current_consents
from bot.services.intake.students import student_chat_id
from bot.services.notices import outbox
from bot.vocabulary import ConsentScope
from storage.models import Appointment, Student

REMINDER = "reminder"
# How long a step of moving an appointment holds its reminders: if the student leaves the move
# unfinished, a reminder that fell due meanwhile is sent once this has passed.
MOVE_HOLD = timedelta(minutes=15)


def reminder_key(appointment_id: str) -> str:
    return f"student:{appointment_id}"


async def queue_due_reminders(deps: Deps) -> int:
    """Queue the reminders that have fallen due; returns how many were queued."""
    offsets = sorted(timedelta(minutes=m) for m in deps.settings.reminder_offsets_minutes)
    if not offsets:
        return 0
    now = deps.clock.now()
    queued = 0
    async with deps.uow() as uow:
        rows = await uow.session.execute(
            select(Appointment, Student)
            .join(Student, Student.id == Appointment.student_id)
            .where(
                Appointment.is_booked,
                Appointment.starts_at > now,
                Appointment.starts_at <= now + offsets[-1],
            )
        )
        for appointment, student in rows:
            if appointment.moving_until is not None and appointment.moving_until > now:
                continue
            due = [
                o for o in offsets if appointment.scheduled_at < appointment.starts_at - o <= now
            ]
            if not due:
                continue
            consents = await current_consents(uow, deps, student.id)
            offset = due[0]  # the nearest to the appointment supersedes earlier ones
            key = f"reminder:{appointment.id}:{appointment.sequence}:"
            key += str(int(offset.total_seconds() // 60))
            if consents[ConsentScope.REMINDERS].granted is not True:
                # Not wanted: a stand-in, so the outbox does not show the consent choice.
                await outbox.enqueue_stand_in(
                    uow,
                    deps,
                    kind=REMINDER,
                    dedupe_key=key,
                    ordering_key=reminder_key(appointment.id),
                    student_id=student.id,
                )
                continue
            made = await outbox.enqueue(
                uow,
                deps,
                kind=REMINDER,
                chat_id=student_chat_id(deps, student),
                html=texts.reminder(
                    appointment.starts_at,
                    appointment.mode,
                    deps.settings.zone,
                    deps.settings.office_details,
                ),
                dedupe_key=key,
                ordering_key=reminder_key(appointment.id),
                student_id=student.id,
            )
            queued += made is not None
        await uow.commit()
    return queued
