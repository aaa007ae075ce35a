"""Jobs: registered once with safe defaults, and doing their work from the database."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func, select

from bot.clock import FixedClock
from bot.jobs import MISFIRE_GRACE_SECONDS, forget_old_updates
from bot.services.deps import Deps
from bot.services.notices import outbox
from storage.models import ProcessedUpdate
from tests.handlers.conftest import BotMaker

CHAT = 4242


async def test_old_processed_update_markers_are_forgotten_and_recent_ones_kept(
    deps: Deps, clock: FixedClock
) -> None:
    async with deps.uow() as uow:
        uow.session.add(ProcessedUpdate(update_id=1, processed_at=clock.now() - timedelta(days=3)))
        uow.session.add(ProcessedUpdate(update_id=2, processed_at=clock.now() - timedelta(hours=1)))
        await uow.commit()
    context: Any = SimpleNamespace(bot_data=SimpleNamespace(deps=deps))
    await forget_old_updates(context)
    async with deps.uow() as uow:
        left = list((await uow.session.execute(select(ProcessedUpdate.update_id))).scalars())
        count = await uow.session.scalar(select(func.count()).select_from(ProcessedUpdate))
    assert left == [2]
    assert count == 1


async def test_jobs_have_explicit_ids_and_a_real_misfire_grace(make_bot: BotMaker) -> None:
    bot = await make_bot()
    await bot.app.start()
    try:
        queue: Any = bot.app.job_queue
        jobs = queue.scheduler.get_jobs()
        by_id = {j.id: j for j in jobs}
        assert set(by_id) == {
            "forget-processed-updates",
            "deliver-outbox",
            "queue-reminders",
            "security-digest",
            "judge-held-texts",
            "publish-audit-head",
            "retention",
            "subject-requests",
            "policy-review",
        }
        assert by_id["forget-processed-updates"].misfire_grace_time == MISFIRE_GRACE_SECONDS
        assert all(j.coalesce is True for j in jobs)
    finally:
        await bot.app.stop()


async def test_a_commit_that_queues_a_message_wakes_delivery_at_once(make_bot: BotMaker) -> None:
    bot = await make_bot()
    await bot.app.start()
    try:
        queue: Any = bot.app.job_queue
        # Without the regular run, only the wake-up after the commit can deliver.
        queue.scheduler.remove_job("deliver-outbox")
        async with bot.deps.uow() as uow:
            await outbox.enqueue(
                uow, bot.deps, kind="test", chat_id=CHAT, html="sent at once", dedupe_key="w1"
            )
            await uow.commit()
        for _ in range(200):
            if bot.api.messages(CHAT):
                break
            await asyncio.sleep(0.05)
        assert [m.plain_text.split("\n\n")[0] for m in bot.api.messages(CHAT)] == ["sent at once"]
    finally:
        await bot.app.stop()


async def test_a_rolled_back_transaction_wakes_nothing(deps: Deps) -> None:
    woken: list[str] = []
    deps.wake_outbox = lambda: woken.append("woken")
    async with deps.uow() as uow:
        await outbox.enqueue(uow, deps, kind="test", chat_id=CHAT, html="a", dedupe_key="r1")
        await uow.rollback()
    async with deps.uow() as uow:
        await outbox.enqueue(uow, deps, kind="test", chat_id=CHAT, html="b", dedupe_key="r2")
    assert woken == []
    async with deps.uow() as uow:
        await outbox.enqueue(uow, deps, kind="test", chat_id=CHAT, html="c", dedupe_key="r3")
        await outbox.enqueue(uow, deps, kind="test", chat_id=CHAT, html="d", dedupe_key="r4")
        await uow.commit()
    assert woken == ["woken"]  # once per commit, however many messages it queued
