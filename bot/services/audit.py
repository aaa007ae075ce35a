"""Recording sensitive actions in the sealed, MAC-chained audit log (ids only, never personal
data), and publishing its head to the coordinators so it is kept outside the database."""

from __future__ import annotations

import logging

from bot.services.deps import Deps
from bot.vocabulary import AuditAction
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
