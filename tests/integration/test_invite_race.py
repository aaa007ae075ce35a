"""Invites on both engines: many people opening one invite link at once make one staff member."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from bot.services.deps import Deps
from bot.services.errors import AlreadyStaff, InviteInvalid, InviteProblem
from bot.services.staff import staff
from bot.services.staff.policy import bundled_policy
from bot.vocabulary import AuditAction, Role
from storage.audit import entries as audit_entries
from storage.models import StaffInvite, StaffMember

COORDINATOR_TG = 1001
RACERS = range(5000, 5012)


async def an_invite(deps: Deps) -> staff.Invite:
    async with deps.uow() as uow:
        await staff.add_staff(
            uow,
            deps,
            telegram_user_id=COORDINATOR_TG,
            name="Casey Coordinator",
            role=Role.COORDINATOR,
            actor="test",
        )
        await uow.commit()
    async with deps.uow() as uow:
        await staff.acknowledge_policy(uow, deps, COORDINATOR_TG, bundled_policy().short_digest)
    async with deps.uow() as uow:
        return await staff.create_invite(uow, deps, COORDINATOR_TG, Role.ADVISER)


async def test_an_invite_redeemed_by_many_at_once_makes_exactly_one_staff_member(
    deps: Deps,
) -> None:
    invite = await an_invite(deps)

    async def redeem(telegram_id: int) -> object:
        async with deps.uow() as uow:
            return await staff.redeem_invite(uow, deps, telegram_id, invite.token, "New Adviser")

    outcomes = await asyncio.gather(*(redeem(i) for i in RACERS), return_exceptions=True)

    winners = [o for o in outcomes if isinstance(o, StaffMember)]
    used = [o for o in outcomes if isinstance(o, InviteInvalid)]
    assert len(winners) == 1, outcomes
    assert len(used) == len(RACERS) - 1, outcomes
    assert {e.problem for e in used} == {InviteProblem.USED}
    async with deps.uow() as uow:
        advisers = await uow.session.scalar(
            select(func.count()).select_from(StaffMember).where(StaffMember.role == "adviser")
        )
        redeemed = len(
            [
                e
                async for e in audit_entries(
                    uow.session, deps.cipher, action=AuditAction.INVITE_REDEEMED.value
                )
            ]
        )
        stored = (await uow.session.execute(select(StaffInvite))).scalar_one()
    assert advisers == 1
    assert redeemed == 1
    assert stored.used_by == winners[0].id


async def test_a_redemption_that_fails_leaves_the_invite_for_the_next_person(deps: Deps) -> None:
    invite = await an_invite(deps)
    async with deps.uow() as uow:
        with pytest.raises(AlreadyStaff):
            await staff.redeem_invite(uow, deps, COORDINATOR_TG, invite.token, "Casey Again")

    async with deps.uow() as uow:
        member = await staff.redeem_invite(uow, deps, 5000, invite.token, "New Adviser")
    assert member.role == Role.ADVISER.value
