"""Recording sensitive actions in the hash-chained audit log (ids only, never personal data)."""

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
    log.info("%s by %s on %s", action.value, actor, subject or "-")
    await chain.append(
        uow.session,
        at=deps.clock.now(),
        action=action.value,
        actor=actor,
        subject=subject,
        detail=detail,
    )
