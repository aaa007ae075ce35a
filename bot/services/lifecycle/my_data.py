"""What a student can see at any time about what is held on them: the kinds of information,
how much of each, and the day it will be deleted if nothing more happens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from bot.services.cases import disclosure_register
from bot.services.deps import Deps
from bot.services.intake.students import find_student
from bot.services.lifecycle import requests, retention
from storage.models import (
    Appointment,
    Case,
    CaseDocument,
    CaseNote,
    ConsentEntry,
    InformationSheet,
)
from storage.uow import UnitOfWork


@dataclass(frozen=True)
class MyData:
    """Counts of each kind of record held about the student (none are opened here)."""

    sheets: int
    consent_choices: int
    appointments: int
    cases: int
    notes: int
    documents: int
    disclosures: int
    deleted_on: date | None
    requests: list[requests.RequestView]

    @property
    def anything(self) -> bool:
        return any(
            (self.sheets, self.consent_choices, self.appointments, self.cases, self.requests)
        )


async def _count(uow: UnitOfWork, statement: object) -> int:
    return int(await uow.session.scalar(statement) or 0)  # type: ignore[call-overload]


async def my_data(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> MyData:
    student = await find_student(uow, deps, telegram_user_id)
    if student is None:
        return MyData(0, 0, 0, 0, 0, 0, 0, None, [])
    sid = student.id
    case_ids = select(Case.id).where(Case.student_id == sid).scalar_subquery()
    counted = select(func.count())
    last_case = await uow.session.scalar(
        select(func.max(Case.last_activity_at)).where(Case.student_id == sid)
    )
    # Retention counts from a case's last activity; with no case, from the student's own.
    deleted_on = retention.deletion_day(
        deps, last_case if last_case is not None else student.last_activity_at
    )
    return MyData(
        sheets=await _count(
            uow,
            counted.select_from(InformationSheet).where(
                InformationSheet.student_id == sid, InformationSheet.submitted_at.is_not(None)
            ),
        ),
        consent_choices=await _count(
            uow, counted.select_from(ConsentEntry).where(ConsentEntry.student_id == sid)
        ),
        appointments=await _count(
            uow, counted.select_from(Appointment).where(Appointment.student_id == sid)
        ),
        cases=await _count(uow, counted.select_from(Case).where(Case.student_id == sid)),
        notes=await _count(
            uow, counted.select_from(CaseNote).where(CaseNote.case_id.in_(case_ids))
        ),
        documents=await _count(
            uow, counted.select_from(CaseDocument).where(CaseDocument.case_id.in_(case_ids))
        ),
        # As /mysheet shows them (those made under a duty in law wait for an access request).
        disclosures=len(await disclosure_register.about_me(uow, deps, telegram_user_id)),
        deleted_on=deleted_on,
        requests=await requests.mine(uow, deps, telegram_user_id),
    )
