"""Where staff are reached: their private chats (kept apart so the outbox can use it)."""

from __future__ import annotations

from sqlalchemy import select

from bot.services.deps import Deps
from bot.vocabulary import Role
from storage.models import StaffMember
from storage.uow import UnitOfWork


def staff_chat_id(deps: Deps, member: StaffMember) -> int:
    return int(deps.cipher.open(member, "telegram_id_enc", member.telegram_id_enc) or 0)


async def active_staff_chats(uow: UnitOfWork, deps: Deps, role: Role) -> list[int]:
    """Private chats of every active staff member with `role`, longest-serving first."""
    members = (
        await uow.session.execute(
            select(StaffMember)
            .where(StaffMember.role == role.value, StaffMember.active.is_(True))
            .order_by(StaffMember.created_at)
        )
    ).scalars()
    return [staff_chat_id(deps, m) for m in members]
