"""Finding a case by the student's exact number or exact full name, through blind indexes.

Nothing here searches plaintext: what staff type is turned into the same keyed digests the
sheet stored, and only equal digests match. The audit entry holds how many were found, never
what was typed.
"""

from __future__ import annotations

from sqlalchemy import or_, select

from bot.services import audit
from bot.services.cases import cases
from bot.services.deps import Deps
from bot.services.staff import second_factor
from bot.vocabulary import ADVISING_ROLES, AuditAction
from storage.models import Case, InformationSheet
from storage.uow import UnitOfWork

QUERY_MAX = 200  # longer than any name or number the sheet accepts


def _number(typed: str) -> str:
    """A student number as the sheet stores it (no spaces, upper case)."""
    return "".join(typed.split()).upper()


async def find(uow: UnitOfWork, deps: Deps, telegram_user_id: int, typed: str) -> list[str]:
    """The references of the current cases of students with exactly this number or full name,
    newest first (audited with the count; committed here)."""
    me = await second_factor.authorise(uow, deps, telegram_user_id, ADVISING_ROLES, command="find")
    typed = " ".join(typed.split())
    found: list[Case] = []
    if typed and len(typed) <= QUERY_MAX:
        students = (
            await uow.session.execute(
                select(InformationSheet.student_id)
                .where(
                    or_(
                        InformationSheet.student_number_index
                        == deps.student_number_key(_number(typed)),
                        InformationSheet.full_name_index == deps.full_name_key(typed),
                    )
                )
                .distinct()
            )
        ).scalars()
        for student_id in list(students):
            case = await cases.current_case(uow, student_id)
            if case is not None:
                found.append(case)
    found.sort(key=lambda c: c.opened_at, reverse=True)
    await audit.record(
        uow, deps, AuditAction.CASE_SEARCHED, audit.staff_actor(me.id), count=len(found)
    )
    await uow.commit()
    return [c.reference for c in found]
