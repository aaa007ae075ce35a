"""Jobs: registered once with safe defaults, and doing their work from the database."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func, select

from bot.clock import FixedClock
from bot.jobs import MISFIRE_GRACE_SECONDS, forget_old_updates
from bot.services.deps import Deps
from storage.models import ProcessedUpdate
from tests.handlers.conftest import BotMaker


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
        }
        assert by_id["forget-processed-updates"].misfire_grace_time == MISFIRE_GRACE_SECONDS
        assert all(j.coalesce is True for j in jobs)
    finally:
        await bot.app.stop()
