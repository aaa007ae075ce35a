"""Who may open a case: least privilege, with a break-glass that is audited and reported.

An adviser opens the cases assigned to them; the coordinator opens any. Opening another
adviser's case (or one with no adviser yet) needs a reason: it is allowed, audited with the
reason, the coordinator is told (reference and adviser, nothing about the student), and for
a few hours the adviser is not asked again. Every path into a case goes through `open_case`,
and every read it allows is audited with the part read.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot import case_texts
from bot.services import audit
from bot.services.cases import cases
from bot.services.deps import Deps
from bot.services.errors import BreakGlassNeeded, StaleAction
from bot.services.notices import outbox
from bot.services.staff import second_factor, staff, staff_drafts
from bot.services.staff.staff_drafts import Draft
from bot.vocabulary import (
    ADVISING_ROLES,
    AuditAction,
    BreakGlassReason,
    CasePart,
    DraftPurpose,
    Role,
)
from storage import data_keys
from storage.models import Case, CaseAccessGrant, StaffMember
from storage.uow import UnitOfWork

GRANT_LIFETIME = timedelta(hours=8)
OTHER_REASON_MAX = 300


async def _granted(uow: UnitOfWork, deps: Deps, me: StaffMember, case: Case) -> bool:
    found = await uow.session.scalar(
        select(CaseAccessGrant.id)
        .where(
            CaseAccessGrant.staff_id == me.id,
            CaseAccessGrant.case_id == case.id,
            CaseAccessGrant.expires_at > deps.clock.now(),
        )
        .limit(1)
    )
    return found is not None


async def may_open(uow: UnitOfWork, deps: Deps, me: StaffMember, case: Case) -> bool:
    """The coordinator, the case's adviser, or an adviser who broke the glass lately."""
    if not me.active or Role(me.role) not in ADVISING_ROLES:
        return False
    if Role(me.role) is Role.COORDINATOR or case.assigned_staff_id == me.id:
        return True
    return await _granted(uow, deps, me, case)


async def open_case(
    uow: UnitOfWork,
    deps: Deps,
    telegram_user_id: int,
    reference: str,
    *,
    command: str,
    part: CasePart | None = None,
) -> tuple[StaffMember, Case]:
    """The caller and the case, if they may open it; NotAuthorised, UnknownCase or
    BreakGlassNeeded otherwise. With `part`, the read is audited (the caller commits)."""
    me = await second_factor.authorise(uow, deps, telegram_user_id, ADVISING_ROLES, command=command)
    case = await cases.case_by_reference(uow, reference)
    if not await may_open(uow, deps, me, case):
        raise BreakGlassNeeded(case.reference)
    if part is not None:
        await audit_read(uow, deps, me, case, part)
    return me, case


async def open_drafted_case(
    uow: UnitOfWork,
    deps: Deps,
    telegram_user_id: int,
    purposes: tuple[DraftPurpose, ...],
    steps: tuple[str, ...],
    *,
    command: str,
    reference: str | None = None,
) -> tuple[StaffMember, Case, Draft]:
    """The caller, their draft's case (opened again: access is checked on every step) and the
    draft, if it is of `purposes` at one of `steps` (for `reference`, if a button names one);
    StaleAction otherwise."""
    me = await second_factor.authorise(uow, deps, telegram_user_id, ADVISING_ROLES, command=command)
    draft = await staff_drafts.current(uow, deps, me.id)
    if draft is None or draft.purpose not in purposes or draft.case_id is None:
        raise StaleAction
    if draft.step not in steps:
        raise StaleAction
    case = await uow.session.get(Case, draft.case_id)
    if case is None or (reference is not None and case.reference != reference):
        raise StaleAction
    me, case = await open_case(uow, deps, telegram_user_id, case.reference, command=command)
    return me, case, draft


async def audit_read(
    uow: UnitOfWork, deps: Deps, me: StaffMember, case: Case, part: CasePart, **detail: str
) -> None:
    await audit.record(
        uow,
        deps,
        AuditAction.CASE_READ,
        audit.staff_actor(me.id),
        case.id,
        part=part.value,
        **detail,
    )


async def break_glass(
    uow: UnitOfWork,
    deps: Deps,
    telegram_user_id: int,
    reference: str,
    reason: BreakGlassReason,
    other: str | None = None,
) -> tuple[StaffMember, Case]:
    """An adviser opens a case that is not theirs, saying why (the caller commits).

    `other` is the reason in their own words, required with BreakGlassReason.OTHER.
    """
    me = await second_factor.authorise(uow, deps, telegram_user_id, ADVISING_ROLES, command="case")
    case = await cases.case_by_reference(uow, reference)
    if reason is BreakGlassReason.OTHER:
        other = " ".join((other or "").split())
        if not other or len(other) > OTHER_REASON_MAX:
            raise ValueError("the reason in your own words is needed (at most 300 characters)")
    else:
        other = None
    now = deps.clock.now()
    grant = CaseAccessGrant(
        staff_id=me.id, case_id=case.id, granted_at=now, expires_at=now + GRANT_LIFETIME
    )
    await data_keys.bind(uow.session, grant)
    grant.reason_enc = deps.cipher.seal_json(
        grant, "reason_enc", {"reason": reason.value, "other": other}
    )
    uow.session.add(grant)
    await audit.record(
        uow,
        deps,
        AuditAction.CASE_BREAK_GLASS,
        audit.staff_actor(me.id),
        case.id,
        reason=reason.value,
        grant=grant.id,
    )
    if Role(me.role) is not Role.COORDINATOR:
        await outbox.alert_coordinators(
            uow,
            deps,
            case_texts.break_glass_reported(
                case.reference, staff.staff_name(deps, me), case_texts.BREAK_GLASS_LABELS[reason]
            ),
            dedupe_key=f"break-glass:{grant.id}",
        )
    return me, case
