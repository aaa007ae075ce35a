"""The audit log's head goes to the coordinators once a day, to be kept outside the database."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import update

from bot.clock import FixedClock
from bot.jobs import publish_audit_head
from bot.services import audit
from bot.transport import LocalUser
from bot.vocabulary import AuditAction, Role
from storage import audit as chain
from storage.models import AuditEntry, AuditHead, StaffMember
from storage.triggers import drop_append_only_triggers
from tests.conftest import Database
from tests.handlers.conftest import ADVISER, COORDINATOR, Bot, BotMaker, add_staff
from tests.handlers.test_booking_journey import deliver

OTHER_COORDINATOR = LocalUser(3002, "Dana", "Deputy")
# 24 November 2026 is in GMT: local time is UTC.
BEFORE = datetime(2026, 11, 25, 7, 59, tzinfo=UTC)
AFTER = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def heads_sent(bot: Bot, chat_id: int) -> list[str]:
    return [
        m.plain_text for m in bot.api.messages(chat_id) if m.plain_text.startswith("Audit log head")
    ]


def head_in(message: str) -> chain.Head:
    found = re.search(r"\d+:[0-9a-f]{64}", message)
    assert found is not None, message
    return chain.Head.parse(found[0])


async def run_job(bot: Bot) -> None:
    context: Any = SimpleNamespace(bot_data=SimpleNamespace(deps=bot.deps))
    await publish_audit_head(context)
    await deliver(bot)


async def test_each_active_coordinator_gets_the_head_once_a_day_from_eight(
    make_bot: BotMaker, clock: FixedClock
) -> None:
    bot = await make_bot()
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    await add_staff(bot, OTHER_COORDINATOR, Role.COORDINATOR)
    await add_staff(bot, ADVISER, Role.ADVISER)
    async with bot.deps.uow() as uow:
        await uow.session.execute(
            update(StaffMember)
            .where(StaffMember.telegram_index == bot.deps.telegram_key(OTHER_COORDINATOR.id))
            .values(active=False)
        )
        await uow.commit()
    clock.set(BEFORE)
    await run_job(bot)
    assert heads_sent(bot, COORDINATOR.id) == []
    clock.set(AFTER)
    await run_job(bot)
    await run_job(bot)
    # A restarted process derives from the database that today's head went out.
    restarted = await make_bot()
    await run_job(restarted)
    sent = heads_sent(bot, COORDINATOR.id)
    assert len(sent) == 1
    assert "Wednesday 25 November 2026" in sent[0]
    assert heads_sent(bot, OTHER_COORDINATOR.id) == heads_sent(bot, ADVISER.id) == []
    # It is the log's head, and it may be copied and forwarded (it holds nothing personal).
    async with bot.deps.uow() as uow:
        assert head_in(sent[0]) == await chain.head(uow.session)
    message = next(m for m in bot.api.messages(COORDINATOR.id) if m.plain_text == sent[0])
    assert message.protect_content is False
    # The next day, the next head.
    async with bot.deps.uow() as uow:
        await audit.record(uow, bot.deps, AuditAction.KEYS_ROTATED, audit.COMMAND_LINE)
        await uow.commit()
    clock.advance(timedelta(days=1))
    await run_job(bot)
    sent = heads_sent(bot, COORDINATOR.id)
    assert len(sent) == 2
    assert head_in(sent[1]).seq == head_in(sent[0]).seq + 1


async def test_a_head_sent_to_the_coordinator_catches_a_later_truncation(
    bot: Bot, clock: FixedClock, database: Database
) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    await add_staff(bot, ADVISER, Role.ADVISER)
    clock.set(AFTER)
    await run_job(bot)
    kept = head_in(heads_sent(bot, COORDINATOR.id)[0])
    async with bot.deps.uow() as uow:
        report = await chain.verify(
            uow.session, bot.deps.cipher, bot.deps.audit_key, published=kept
        )
    assert report.ok
    kind = "sqlite" if database.kind == "sqlite" else "postgresql"
    async with database.engine.begin() as conn:
        for statement in drop_append_only_triggers(kind):
            await conn.exec_driver_sql(statement)
    async with bot.deps.uow() as uow:
        last = await uow.session.get(AuditEntry, kept.seq)
        assert last is not None
        await uow.session.delete(last)
        head = await uow.session.get(AuditHead, chain.HEAD_ID)
        assert head is not None
        previous = await uow.session.get(AuditEntry, kept.seq - 1)
        assert previous is not None
        head.seq, head.mac = previous.seq, previous.mac
        await uow.commit()
    async with bot.deps.uow() as uow:
        report = await chain.verify(
            uow.session, bot.deps.cipher, bot.deps.audit_key, published=kept
        )
    assert not report.ok
    assert report.reason == chain.TRUNCATED
