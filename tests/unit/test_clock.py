"""The test clock's sleep: it returns when the test moves time past it, never on its own."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.clock import FixedClock

START = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


async def test_a_sleeper_wakes_only_once_the_clock_passes_its_time() -> None:
    clock = FixedClock(START)
    sleeper = asyncio.ensure_future(clock.sleep(timedelta(seconds=3)))
    await asyncio.sleep(0)

    clock.advance(timedelta(seconds=2))
    await asyncio.sleep(0)
    assert not sleeper.done()

    clock.advance(timedelta(seconds=1))
    await asyncio.sleep(0)
    assert sleeper.done()


async def test_a_cancelled_sleeper_is_forgotten() -> None:
    clock = FixedClock(START)
    sleeper = asyncio.ensure_future(clock.sleep(timedelta(seconds=3)))
    await asyncio.sleep(0)
    sleeper.cancel()
    await asyncio.sleep(0)
    clock.advance(timedelta(seconds=5))
    assert sleeper.cancelled()
