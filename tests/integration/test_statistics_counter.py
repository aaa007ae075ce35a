"""The statistics counter on both engines: increments add up, a correction moves a count,
and many transactions counting the same thing at once lose none of it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.services.deps import Deps
from bot.services.statistics import events
from bot.services.statistics.periods import parse_period
from bot.vocabulary import (
    AppointmentMode,
    AppointmentStatus,
    ConsentScope,
    DisclosureBasis,
    RecipientKind,
    StatEvent,
    YearOfStudy,
)
from storage.models import StatisticsCount


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
    from datetime import date, timedelta

    assert events.term_of(date(2026, 9, 1)) == "2026-autumn"
    assert events.term_of(date(2026, 12, 31)) == "2026-autumn"
    assert events.term_of(date(2027, 1, 5)) == "2027-spring"
    assert events.term_of(date(2027, 5, 1)) == "2027-summer"
    assert events.term_of(date(2027, 8, 31)) == "2027-summer"
    # The names reports ask for: the counter's term is a block of its own.
    assert parse_period(events.term_of(date(2027, 2, 1))).first.name == "2027-01"
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert events.weeks_bucket(start, start + timedelta(days=3)) == "0-1"
    assert events.weeks_bucket(start, start + timedelta(weeks=4, days=6)) == "2-4"
    assert events.weeks_bucket(start, start + timedelta(weeks=60)) == "53+"


def longest(values: Iterable[object]) -> str:
    return max((str(v) for v in values), key=len)


async def test_every_counter_seals_to_one_length_the_longest_values_too(deps: Deps) -> None:
    # A counter's ciphertext must not tell which facets it holds by its length: a foundation
    # year, a returning student and the longest category a setting allows (64 characters)
    # seal to the same length as a counter with none.
    settings = deps.settings.model_copy(
        update={"categories": ("C" * 64, "Housing"), "case_outcomes": ("O" * 60,)}
    )
    wide = Deps(deps.sessions, deps.cipher, deps.index, deps.clock, settings, deps.audit_key)
    at = datetime(2026, 10, 5, 12, 0, tzinfo=UTC)
    async with wide.uow() as uow:
        await events.security_notice_sent(uow, wide, at)
        await events.case_opened(
            uow,
            wide,
            at,
            category="C" * 64,
            year=YearOfStudy.FOUNDATION.value,
            mode=longest(AppointmentMode),
            returning=True,
        )
        await events.case_closed(
            uow, wide, at, category="C" * 64, outcome="O" * 60, opened_at=at.replace(year=2020)
        )
        await events.appointment_outcome(
            uow, wide, at, mode="in_person", outcome=AppointmentStatus.CANCELLED_BY_SERVICE
        )
        await events.consent_at_submission(
            uow, wide, at, ConsentScope(longest(ConsentScope)), granted=False
        )
        await events.disclosure_made(
            uow,
            wide,
            at,
            DisclosureBasis(longest(DisclosureBasis)),
            RecipientKind(longest(RecipientKind)),
        )
        await events.request_answered(uow, wide, at, kind="erasure", on_time=False)
        await events.count(uow, wide, StatEvent.CASE_OPENED, "2026-10", 10**9, category="Housing")
        await uow.commit()
    async with wide.uow() as uow:
        sealed = (await uow.session.execute(select(StatisticsCount.sealed))).scalars().all()
    assert len(sealed) == 9
    assert len({len(bytes(token)) for token in sealed}) == 1
