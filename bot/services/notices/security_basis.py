"""The consent gate's Security branch: when the policy's first exception holds.

A student removed from their course who has an in-person appointment will be on campus, and the
policy lets the service tell University Security who and when. `security_refusal` is that rule,
asked by `disclosures.basis_holds` (the one predicate every disclosure path calls); it lives
here, below both the gate and the notices, so neither has to import the other's callers: this
module imports neither `disclosures` nor `security`.
"""

from __future__ import annotations

from bot.services.deps import Deps
from bot.services.intake.sheet_store import Answers, latest_submitted_sheet, read_answers
from bot.services.intake.students import removed_flag
from bot.vocabulary import (
    AppointmentMode,
    AppointmentStatus,
    GateRefusal,
    RecipientKind,
    SheetField,
    YesNo,
)
from storage.models import Appointment, Student
from storage.uow import UnitOfWork


def removed_on_sheet(answers: Answers) -> bool:
    return answers.get(SheetField.REMOVED) == YesNo.YES.value


async def is_removed(uow: UnitOfWork, deps: Deps, student: Student) -> bool:
    """As staff last set it, or else as the student said on their latest sheet."""
    flag = removed_flag(deps, student)
    if flag is not None:
        return flag is YesNo.YES
    sheet = await latest_submitted_sheet(uow, student.id)
    return sheet is not None and removed_on_sheet(read_answers(deps, sheet))


async def security_refusal(
    uow: UnitOfWork,
    deps: Deps,
    student_id: str,
    recipient: RecipientKind,
    appointment: Appointment | None,
) -> GateRefusal | None:
    """None when Security may be told this appointment's times now; why not otherwise.

    Fails closed: the recipient must be Security, the appointment the student's own, booked,
    in person and not yet ended, and the student recorded as removed from their course.
    """
    if recipient is not RecipientKind.SECURITY or appointment is None:
        return GateRefusal.NOT_A_BASIS
    if appointment.student_id != student_id:
        return GateRefusal.NOT_A_BASIS
    if appointment.status != AppointmentStatus.BOOKED.value:
        return GateRefusal.SECURITY_NOT_BOOKED
    if appointment.mode != AppointmentMode.IN_PERSON.value:
        return GateRefusal.SECURITY_NOT_IN_PERSON
    if appointment.ends_at <= deps.clock.now():
        return GateRefusal.SECURITY_ENDED
    student = await uow.session.get(Student, student_id)
    if student is None or not await is_removed(uow, deps, student):
        return GateRefusal.SECURITY_NOT_REMOVED
    return None
