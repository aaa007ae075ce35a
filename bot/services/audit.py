"""Recording sensitive actions in the sealed, MAC-chained audit log (ids only, never personal
data), and publishing its head to the coordinators so it is kept outside the database."""

from __future__ import annotations

import logging
from datetime import time

from bot import texts
from bot.services.deps import Deps
from bot.services.notices import outbox
from bot.services.notices.staff_directory import active_staff_chats
from bot.vocabulary import AuditAction, Role
from storage import audit as chain
from storage.uow import UnitOfWork

log = logging.getLogger("bot.audit")

SYSTEM = "system"
COMMAND_LINE = "cli"


def student_actor(student_id: str) -> str:
    return f"student:{student_id}"


def staff_actor(staff_id: str) -> str:
    return f"staff:{staff_id}"


def stranger_actor(telegram_key: str) -> str:
    """Someone not registered: named by a prefix of their blind index, not their Telegram id."""
    return f"unknown:{telegram_key[:16]}"


async def record(
    uow: UnitOfWork,
    deps: Deps,
    action: AuditAction,
    actor: str,
    subject: str | None = None,
    **detail: str | int | bool | None,
) -> None:
    # Only the seq is logged: an action next to its subject is the very link the log seals.
    entry = await chain.append(
        uow.session,
        deps.cipher,
        deps.audit_key,
        at=deps.clock.now(),
        action=action.value,
        actor=actor,
        subject=subject,
        detail=detail,
    )
    log.debug("audit entry %d appended", entry.seq)


# When the day's head goes to the coordinators (service time): early in the working day.
HEAD_PUBLISHED_AT = time(8, 0)


async def publish_head(deps: Deps) -> int:
    """Once a day, from HEAD_PUBLISHED_AT, send the log's head to every active coordinator.

    The head (last seq and MAC) kept outside the database is what lets `audit verify --head`
    catch removed or rewritten entries. Derived from the database and keyed by date and chat,
    so a restart neither skips nor repeats it. Returns the number of messages queued.
    """
    local_now = deps.clock.now().astimezone(deps.settings.zone)
    if local_now.time() < HEAD_PUBLISHED_AT:
        return 0
    today = local_now.date()
    queued = 0
    async with deps.uow() as uow:
        head = await chain.head(uow.session)
        if head.seq == 0:
            return 0
        html = texts.audit_head(today, str(head))
        for chat_id in await active_staff_chats(uow, deps, Role.COORDINATOR):
            message = await outbox.enqueue(
                uow,
                deps,
                kind=outbox.AUDIT_HEAD,
                chat_id=chat_id,
                html=html,
                dedupe_key=f"audit-head:{today.isoformat()}:{chat_id}",
            )
            queued += message is not None
        await uow.commit()
    return queued
