"""What staff do from a case's summary: close, reopen, assign, and break the glass.

Each step opens the case again through `case_access.open_case` (a button is replayable and
client-controlled), and anyone who may open a case may close or reopen it; only the
coordinator assigns. Typed reasons go through a staff draft (bot/services/staff/staff_drafts.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.services.cases import case_access, cases
from bot.services.deps import Deps
from bot.services.errors import CaseStateWrong, NotAuthorised, StaleAction
from bot.services.staff import second_factor, staff, staff_drafts
from bot.services.staff.staff_drafts import Draft
from bot.vocabulary import ADVISING_ROLES, BreakGlassReason, CaseStatus, DraftPurpose, Role
from storage.models import Case, StaffMember
from storage.uow import UnitOfWork

COMMAND = "case"
REASON_STEP = "reason"


@dataclass(frozen=True)
class Adviser:
    staff_id: str
    name: str


async def _open(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, reference: str
) -> tuple[StaffMember, Case]:
    return await case_access.open_case(uow, deps, telegram_user_id, reference, command=COMMAND)


async def _open_drafted(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, draft: Draft
) -> tuple[StaffMember, Case]:
    case = await uow.session.get(Case, draft.case_id) if draft.case_id else None
    if case is None:
        raise StaleAction
    return await _open(uow, deps, telegram_user_id, case.reference)


def _must_be(case: Case, status: CaseStatus) -> None:
    if case.status != status.value:
        raise CaseStateWrong(CaseStatus(case.status))


async def _open_to_decide(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, reference: str
) -> tuple[StaffMember, Case]:
    """Closing and reopening are for the case's adviser and the coordinator: a reason to read
    another adviser's case (break-glass) is not a reason to decide it."""
    me, case = await _open(uow, deps, telegram_user_id, reference)
    if Role(me.role) is not Role.COORDINATOR and case.assigned_staff_id != me.id:
        raise NotAuthorised((Role.COORDINATOR,))
    return me, case


async def outcomes(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, reference: str
) -> tuple[str, tuple[str, ...]]:
    """The case's reference and the outcomes it may close with (it must be open)."""
    _, case = await _open_to_decide(uow, deps, telegram_user_id, reference)
    _must_be(case, CaseStatus.OPEN)
    return case.reference, deps.settings.case_outcomes


async def close(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, reference: str, outcome_index: int
) -> str:
    """Close the case with the outcome at `outcome_index`; returns the outcome (committed)."""
    me, case = await _open_to_decide(uow, deps, telegram_user_id, reference)
    if not 0 <= outcome_index < len(deps.settings.case_outcomes):
        raise StaleAction
    outcome = await cases.close(uow, deps, me, case, outcome_index)
    await uow.commit()
    return outcome


async def begin_reopen(uow: UnitOfWork, deps: Deps, telegram_user_id: int, reference: str) -> str:
    """Ask for the reason a closed case is reopened: a draft waits for it (committed)."""
    me, case = await _open_to_decide(uow, deps, telegram_user_id, reference)
    _must_be(case, CaseStatus.CLOSED)
    await staff_drafts.begin(
        uow, deps, me.id, DraftPurpose.REOPEN, case_id=case.id, step=REASON_STEP
    )
    await uow.commit()
    return case.reference


async def reopen(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, draft: Draft, reason: str
) -> str:
    """Reopen the drafted case with the typed reason (ValueError: a reason of 1 to 500
    characters is needed, and the draft waits on); returns the reference (committed)."""
    me, case = await _open_drafted(uow, deps, telegram_user_id, draft)
    try:
        await cases.reopen(uow, deps, me, case, reason)
    except CaseStateWrong:
        await staff_drafts.finish(uow, me.id)  # someone reopened it meanwhile
        await uow.commit()
        raise
    await staff_drafts.finish(uow, me.id)
    await uow.commit()
    return case.reference


async def _coordinator_opens(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, reference: str
) -> tuple[StaffMember, Case]:
    me, case = await _open(uow, deps, telegram_user_id, reference)
    if Role(me.role) is not Role.COORDINATOR:
        raise NotAuthorised((Role.COORDINATOR,))
    return me, case


async def advisers(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, reference: str
) -> tuple[str, list[Adviser]]:
    """Whom the coordinator may give the case to: active advisers and coordinators."""
    _, case = await _coordinator_opens(uow, deps, telegram_user_id, reference)
    members = await staff.all_staff(uow, deps)
    return case.reference, [
        Adviser(m.staff_id, m.name) for m in members if m.active and m.role in ADVISING_ROLES
    ]


async def assign(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, reference: str, staff_id: str
) -> str:
    """The coordinator gives the case to `staff_id`; returns their name (committed)."""
    me, case = await _coordinator_opens(uow, deps, telegram_user_id, reference)
    adviser = await cases.assign(uow, deps, me, case, staff_id)
    await uow.commit()
    return staff.staff_name(deps, adviser)


async def break_glass(
    uow: UnitOfWork,
    deps: Deps,
    telegram_user_id: int,
    reference: str,
    reason: BreakGlassReason,
) -> str | None:
    """Open a case that is not the caller's with a listed reason; returns its reference, or
    None when the reason must be typed (a draft then waits for it). Committed here."""
    me = await second_factor.authorise(uow, deps, telegram_user_id, ADVISING_ROLES, command=COMMAND)
    case = await cases.case_by_reference(uow, reference)
    if await case_access.may_open(uow, deps, me, case):
        return case.reference  # nothing to break: a replayed press
    if reason is BreakGlassReason.OTHER:
        await staff_drafts.begin(
            uow, deps, me.id, DraftPurpose.BREAK_GLASS, case_id=case.id, step=REASON_STEP
        )
        await uow.commit()
        return None
    await case_access.break_glass(uow, deps, telegram_user_id, case.reference, reason)
    await uow.commit()
    return case.reference


async def break_glass_typed(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, draft: Draft, reason: str
) -> str:
    """The reason in the caller's own words (ValueError if empty or too long; the draft waits
    on); returns the case's reference (committed)."""
    me = await second_factor.authorise(uow, deps, telegram_user_id, ADVISING_ROLES, command=COMMAND)
    case = await uow.session.get(Case, draft.case_id) if draft.case_id else None
    if case is None:
        raise StaleAction
    await case_access.break_glass(
        uow, deps, telegram_user_id, case.reference, BreakGlassReason.OTHER, other=reason
    )
    await staff_drafts.finish(uow, me.id)
    await uow.commit()
    return case.reference
