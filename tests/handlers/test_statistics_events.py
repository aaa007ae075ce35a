"""Anonymous statistics, on both engines: what happens is counted in the same transaction, by
month and closed-vocabulary facets; no column of the table holds anything that joins back to a
student, case, appointment or staff member; a purge leaves the counts alone."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, inspect, select, text

from bot import case_texts
from bot.clock import FixedClock
from bot.services.cases import cases
from bot.services.lifecycle import retention
from bot.services.staff import staff
from bot.services.statistics import events
from bot.services.statistics.backfill import backfill
from bot.transport import LocalChat
from bot.vocabulary import (
    AppointmentMode,
    AppointmentStatus,
    ConsentScope,
    DisclosureBasis,
    RecipientKind,
    Role,
    StatEvent,
    YearOfStudy,
)
from storage.models import Base, Case, StatisticsBackfill, StatisticsCount
from tests.handlers.conftest import (
    ADVISER,
    COORDINATOR,
    SECURITY,
    STUDENT,
    Bot,
    add_staff,
    submit_sheet,
)
from tests.handlers.test_booking_journey import adviser_with_tuesdays, book_first_in_person
from tests.handlers.test_disclosures import disclose

APPOINTMENT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


async def counts(bot: Bot) -> dict[tuple[str, ...], int]:
    """Every counter above 0, keyed by (event, period, non-empty facets as name=value)."""
    async with bot.deps.uow() as uow:
        opened = await events.read_all(uow, bot.deps)
    found: dict[tuple[str, ...], int] = {}
    for c in opened:
        if c.tally:
            facets = tuple(f"{n}={c.facets[n]}" for n in events.FACET_NAMES if c.facets.get(n))
            found[(c.event.value, c.period, *facets)] = c.tally
    return found


async def a_full_journey(bot: Bot, student: LocalChat) -> str:
    """A removed student's sheet, a booking attended, a disclosure, a case closed."""
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    await add_staff(bot, SECURITY, Role.SECURITY)
    await adviser_with_tuesdays(bot)
    await submit_sheet(student, removed=True)
    await book_first_in_person(student)
    clock: FixedClock = bot.deps.clock  # type: ignore[assignment]
    clock.set(APPOINTMENT + timedelta(minutes=5))
    adviser = bot.chat(ADVISER)
    await adviser.send("/today")
    await adviser.press("✓ 10:00 attended")
    async with bot.deps.uow() as uow:
        case = await uow.session.scalar(select(Case))
        assert case is not None
        reference: str = case.reference
    await disclose(adviser, reference, RecipientKind.SCHOOL, DisclosureBasis.CONSENT)
    await adviser.press(case_texts.BTN_RECORD_IT)
    async with bot.deps.uow() as uow:
        me = await staff.find_staff(uow, bot.deps, ADVISER.id)
        found = await uow.session.scalar(select(Case))
        assert me is not None and found is not None
        await cases.close(uow, bot.deps, me, found, 0)
        await uow.commit()
    return reference


async def test_what_happens_is_counted_by_month_and_facets(bot: Bot, student: LocalChat) -> None:
    await a_full_journey(bot, student)
    found = await counts(bot)
    opened = [k for k in found if k[0] == StatEvent.CASE_OPENED.value]
    assert opened == [
        (
            "case_opened",
            "2026-11",
            "category=Academic appeal",
            "year_of_study=2",
            "mode=in_person",
            "client=new",
        )
    ]
    assert found[("appointment_outcome", "2026-12", "mode=in_person", "outcome=attended")] == 1
    assert found[("disclosure_made", "2026-12", "basis=consent", "recipient=school")] == 1
    closed = [k for k in found if k[0] == StatEvent.CASE_CLOSED.value]
    assert closed == [
        (
            "case_closed",
            "2026-12",
            "category=Academic appeal",
            f"outcome={bot.deps.settings.case_outcomes[0]}",
            "weeks_open=0-1",
        )
    ]
    granted = [k for k in found if k[0] == StatEvent.CONSENT_AT_SUBMISSION.value]
    assert len(granted) == len(ConsentScope)
    assert all("outcome=granted" in k for k in granted)
    # Removed from the course: a number per term, crossed with nothing.
    assert found[("removed_from_course", "2026-27 autumn")] == 1
    assert found[("security_notice", "2026-11")] == 1  # the booking's times, told once


async def all_ids(bot: Bot) -> set[str]:
    """Every id and reference held anywhere in the database."""
    held: set[str] = set()
    async with bot.deps.uow() as uow:
        for table in Base.metadata.sorted_tables:
            if table.name == StatisticsCount.__tablename__:
                continue
            for column in table.columns:
                if column.name in ("id", "reference") or column.name.endswith("_id"):
                    rows = await uow.session.execute(select(column).where(column.is_not(None)))
                    held.update(str(v) for v in rows.scalars())
    # Row ids are 32 hex digits and case references 6; short numbers (positions, update and
    # message numbers) could never name a row of their own.
    return {v for v in held if len(v) >= 6}


async def test_no_column_of_the_statistics_can_be_joined_back(bot: Bot, student: LocalChat) -> None:
    reference = await a_full_journey(bot, student)
    settings = bot.deps.settings
    allowed = {
        "category": {*settings.categories, events.OTHER, ""},
        "year_of_study": {y.value for y in YearOfStudy} | {""},
        "mode": {m.value for m in AppointmentMode} | {""},
        "client": {"new", "returning", ""},
        "outcome": {*settings.case_outcomes, events.OTHER, "granted", "refused", "access"}
        | {"erasure", ""}
        | {s.value for s in AppointmentStatus},
        "weeks_open": {label for _, label in events.WEEK_BUCKETS} | {events.LONGEST_BUCKET, ""},
        "scope": {s.value for s in ConsentScope} | {""},
        "basis": {b.value for b in DisclosureBasis} | {""},
        "recipient": {r.value for r in RecipientKind} | {""},
        "on_time": {"yes", "no", ""},
    }
    period = re.compile(r"^(\d{4}-\d{2}|\d{4}-\d{2} (autumn|spring|summer))$")
    # In the file: an id, a keyed digest and a ciphertext per counter, nothing in the clear.
    assert {c.name for c in inspect(StatisticsCount).columns} == {"id", "counter_key", "sealed"}
    async with bot.deps.uow() as uow:
        raw = (await uow.session.execute(text("SELECT * FROM statistics"))).mappings().all()
        opened = await events.read_all(uow, bot.deps)
    assert raw and len(raw) == len(opened)
    for row in raw:
        assert b"Academic appeal" not in bytes(row["sealed"])
        assert re.fullmatch(r"[0-9a-f]{64}", row["counter_key"])
    # Opened, every value is a period, a closed vocabulary or a count: nothing joins back.
    ids = await all_ids(bot) | {reference}
    for counted in opened:
        assert period.match(counted.period), counted.period
        assert counted.tally >= 0
        assert set(counted.facets) == set(allowed)
        for name, vocabulary in allowed.items():
            assert counted.facets[name] in vocabulary, (name, counted.facets[name])
        assert not {counted.period, *counted.facets.values()} & ids


async def test_counts_survive_the_purge_of_what_they_counted(bot: Bot, student: LocalChat) -> None:
    await a_full_journey(bot, student)
    before = await counts(bot)
    bot.deps.clock.advance(timedelta(days=6 * 365))  # type: ignore[attr-defined]
    purged = await retention.purge(bot.deps)
    assert purged.cases == 1 and purged.students == 1
    assert await counts(bot) == before


async def test_a_change_rolled_back_counts_nothing(bot: Bot, student: LocalChat) -> None:
    await add_staff(bot, ADVISER, Role.ADVISER)
    await submit_sheet(student)
    before = await counts(bot)
    async with bot.deps.uow() as uow:
        await events.security_notice_sent(uow, bot.deps, bot.deps.clock.now())
        await uow.rollback()
    assert await counts(bot) == before
    assert STUDENT.id  # the student's own data is untouched by counting


async def test_the_backfill_counts_what_was_held_as_the_bot_would_have_once(
    bot: Bot, student: LocalChat
) -> None:
    await a_full_journey(bot, student)
    counted_live = await counts(bot)
    async with bot.deps.uow() as uow:
        await uow.session.execute(delete(StatisticsCount))
        await uow.session.execute(delete(StatisticsBackfill))
        await uow.commit()
    assert await backfill(bot.deps)
    assert await counts(bot) == counted_live
    assert not await backfill(bot.deps)  # once
    assert await counts(bot) == counted_live
