"""The statistics counter on both engines: increments add up, a correction moves a count,
and many transactions counting the same thing at once lose none of it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime

import pytest
from sqlalchemy import String, select

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
        rows = (await uow.session.execute(select(StatisticsCount))).scalars().all()
    return sum(
        r.tally for r in rows if all(getattr(r, name) == value for name, value in facets.items())
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


async def test_every_value_a_facet_can_take_fits_its_column(deps: Deps) -> None:
    # The longest value of each closed vocabulary, counted on both engines (PostgreSQL checks
    # lengths: a value too long would fail the change it is counted with).
    settings = deps.settings
    at = datetime(2026, 10, 5, 12, 0, tzinfo=UTC)
    async with deps.uow() as uow:
        await events.case_opened(
            uow,
            deps,
            at,
            category=longest(settings.categories),
            year=YearOfStudy.FOUNDATION.value,
            mode=longest(AppointmentMode),
            returning=True,
        )
        await events.case_closed(
            uow, deps, at, category="x", outcome=longest(settings.case_outcomes), opened_at=at
        )
        await events.appointment_outcome(
            uow, deps, at, mode="video", outcome=AppointmentStatus.CANCELLED_BY_SERVICE
        )
        await events.consent_at_submission(
            uow, deps, at, ConsentScope(longest(ConsentScope)), granted=False
        )
        await events.disclosure_made(
            uow,
            deps,
            at,
            DisclosureBasis(longest(DisclosureBasis)),
            RecipientKind(longest(RecipientKind)),
        )
        await events.request_answered(uow, deps, at, kind="erasure", on_time=False)
        await uow.commit()
    assert await tally(deps, year_of_study="foundation") == 1
    assert await tally(deps, event="case_opened") == 1
    # And the widest a configured value may be fits too.
    assert width("category") >= 64  # USS_CATEGORIES: 64 characters at most
    assert width("outcome") >= 60  # USS_CASE_OUTCOMES: 60 at most
    for name, vocabulary in (
        ("year_of_study", YearOfStudy),
        ("mode", AppointmentMode),
        ("scope", ConsentScope),
        ("basis", DisclosureBasis),
        ("recipient", RecipientKind),
        ("outcome", AppointmentStatus),
    ):
        assert len(longest(vocabulary)) <= width(name), name


def longest(values: Iterable[object]) -> str:
    return max((str(v) for v in values), key=len)


def width(column: str) -> int:
    kind = StatisticsCount.__table__.columns[column].type
    assert isinstance(kind, String) and kind.length is not None
    return kind.length
