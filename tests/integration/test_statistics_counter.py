"""The statistics counter on both engines: increments add up, a correction moves a count,
and many transactions counting the same thing at once lose none of it."""

from __future__ import annotations

import asyncio

import pytest

from bot.services.deps import Deps
from bot.services.statistics import events
from bot.vocabulary import StatEvent


async def tally(deps: Deps, **facets: str) -> int:
    async with deps.uow() as uow:
        opened = await events.read_all(uow, deps)
    wanted_event = facets.pop("event", None)
    wanted_period = facets.pop("period", None)
    return sum(
        c.tally
        for c in opened
        if (wanted_event is None or c.event.value == wanted_event)
        and (wanted_period is None or c.period == wanted_period)
        and all(c.facets.get(name) == value for name, value in facets.items())
    )


async def test_counts_add_up_and_a_correction_moves_one(deps: Deps) -> None:
    for by in (1, 1, 1, -1):
        async with deps.uow() as uow:
            await events.count(uow, deps, StatEvent.SECURITY_NOTICE, "2026-12", by)
            await uow.commit()
    assert await tally(deps, event="security_notice", period="2026-12") == 2


async def test_an_unknown_facet_is_refused(deps: Deps) -> None:
    async with deps.uow() as uow:
        with pytest.raises(ValueError, match="not a statistics facet"):
            await events.count(uow, deps, StatEvent.CASE_OPENED, "2026-12", student="x")


async def test_many_transactions_counting_at_once_lose_nothing(deps: Deps) -> None:
    async def one() -> None:
        async with deps.uow() as uow:
            await events.count(uow, deps, StatEvent.CASE_OPENED, "2026-12", category="Housing")
            await uow.commit()

    await asyncio.gather(*(one() for _ in range(20)))
    assert await tally(deps, event="case_opened", category="Housing") == 20


def test_terms_and_week_buckets() -> None:
    from datetime import UTC, date, datetime, timedelta

    assert events.term_of(date(2026, 9, 1)) == "2026-27 autumn"
    assert events.term_of(date(2027, 1, 5)) == "2026-27 spring"
    assert events.term_of(date(2027, 8, 31)) == "2026-27 summer"
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert events.weeks_bucket(start, start + timedelta(days=3)) == "0-1"
    assert events.weeks_bucket(start, start + timedelta(weeks=4, days=6)) == "2-4"
    assert events.weeks_bucket(start, start + timedelta(weeks=60)) == "53+"
