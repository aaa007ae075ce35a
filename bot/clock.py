"""Time, injected: a system clock for production and a movable one for tests."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Anything that can tell the current time as an aware UTC datetime, and wait on it."""

    def now(self) -> datetime: ...

    async def sleep(self, delay: timedelta) -> None: ...


class SystemClock:
    """The real time, always aware and in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, delay: timedelta) -> None:
        await asyncio.sleep(max(delay.total_seconds(), 0))


class FixedClock:
    """A clock that stands still until a test moves it; sleepers wake when it passes their time."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._now = start.astimezone(UTC)
        self._sleepers: list[tuple[datetime, asyncio.Future[None]]] = []

    def now(self) -> datetime:
        return self._now

    async def sleep(self, delay: timedelta) -> None:
        """Return once the clock has been moved on by `delay` (at once if it is not positive)."""
        if delay <= timedelta(0):
            await asyncio.sleep(0)
            return
        sleeper = (self._now + delay, asyncio.get_running_loop().create_future())
        self._sleepers.append(sleeper)
        try:
            await sleeper[1]
        finally:
            self._sleepers.remove(sleeper)

    def advance(self, delta: timedelta) -> None:
        self._now += delta
        self._wake()

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._now = moment.astimezone(UTC)
        self._wake()

    def _wake(self) -> None:
        for when, future in self._sleepers:
            if when <= self._now and not future.done():
                future.set_result(None)
