"""What every service is given: sessions, crypto, clock and settings, wired in one place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.services.intake.sheet import SheetRules
from bot.settings import Settings
from storage.crypto import AuditKey, BlindIndex, FieldCipher
from storage.uow import UnitOfWork

TELEGRAM_PURPOSE = "telegram-user"
STUDENT_NUMBER_PURPOSE = "student-number"
GROUP_CHAT_PURPOSE = "telegram-group-chat"
FULL_NAME_PURPOSE = "full-name"


def normal_name(name: str) -> str:
    """A name as its blind index sees it: case and spacing do not matter, spelling does."""
    return " ".join(name.casefold().split())


@dataclass
class Deps:
    sessions: async_sessionmaker[AsyncSession]
    cipher: FieldCipher
    index: BlindIndex
    clock: Clock
    settings: Settings
    # The audit chain's MAC key (its own, never the data or index key).
    audit_key: AuditKey
    # Called after a transaction that queued outbox messages commits, so they go out at once
    # rather than at the outbox job's next run (None: wait for the job, as tests do).
    wake_outbox: Callable[[], None] | None = None
    rules: SheetRules = field(init=False)

    def __post_init__(self) -> None:
        s = self.settings
        self.rules = SheetRules(
            student_number_pattern=s.student_number_pattern,
            student_number_hint=s.student_number_hint,
            email_domains=s.email_domains,
            categories=s.categories,
            description_max=s.description_max_chars,
            zone=s.zone,
        )

    def uow(
        self,
        update_id: int | None = None,
        *,
        one_transaction: bool = False,
        read_only: bool = False,
    ) -> UnitOfWork:
        return UnitOfWork(
            self.sessions,
            self.clock.now,
            update_id=update_id,
            one_transaction=one_transaction,
            read_only=read_only,
        )

    def telegram_key(self, telegram_user_id: int) -> str:
        return self.index.digest(TELEGRAM_PURPOSE, str(telegram_user_id))

    def group_chat_key(self, chat_id: int) -> str:
        return self.index.digest(GROUP_CHAT_PURPOSE, str(chat_id))

    def student_number_key(self, number: str) -> str:
        return self.index.digest(STUDENT_NUMBER_PURPOSE, number)

    def full_name_key(self, name: str) -> str:
        return self.index.digest(FULL_NAME_PURPOSE, normal_name(name))
