"""/availability: advisers add weekly times, days off and extras; students see the effect."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot import texts
from bot.services import booking
from bot.transport import LocalChat
from bot.vocabulary import AuditAction, Role
from storage.models import AuditEntry
from tests.handlers.conftest import ADVISER, Bot, add_staff


@pytest.fixture
async def adviser(bot: Bot) -> LocalChat:
    await add_staff(bot, ADVISER, Role.ADVISER)
    return bot.chat(ADVISER)


async def open_starts(bot: Bot) -> list[str]:
    async with bot.deps.uow() as uow:
        slots = await booking.open_slots(uow, bot.deps)
    zone = bot.deps.settings.zone
    return [s.starts_at.astimezone(zone).strftime("%a %d %b %H:%M") for s in slots]


async def test_an_adviser_adds_a_weekly_time_and_students_can_book_it(
    bot: Bot, adviser: LocalChat
) -> None:
    await adviser.send("/availability add Tue 10:00-12:30 in person")
    assert adviser.replies[0].plain_text == "Added: Tuesday 10:00-12:30, in person."
    assert "Tuesday 10:00-12:30, in person" in adviser.last_text
    assert (await open_starts(bot))[:2] == ["Tue 01 Dec 10:00", "Tue 01 Dec 11:00"]
    async with bot.deps.uow() as uow:
        actions = list((await uow.session.execute(select(AuditEntry.action))).scalars())
    assert AuditAction.AVAILABILITY_CHANGED.value in actions


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("Tue 12:00-10:00", "end time must be after"),
        ("Tus 10:00-12:00", "didn't recognise the day"),
        ("Tue 10:00-10:20", "shorter than one appointment"),
        ("Tue 10:00-12:00 by owl", "in person, phone or video"),
        ("whenever", "couldn't read that"),
    ],
)
async def test_invalid_ranges_get_a_clear_reason(
    adviser: LocalChat, typed: str, problem: str
) -> None:
    await adviser.send(f"/availability add {typed}")
    assert problem in adviser.replies[0].plain_text


async def test_overlapping_weekly_times_are_refused(adviser: LocalChat) -> None:
    await adviser.send("/availability add Tue 10:00-12:30")
    await adviser.send("/availability add Tue 12:00-14:00 phone")
    assert adviser.replies[0].plain_text == texts.RANGE_PROBLEMS["overlap"]


async def test_a_day_off_and_an_extra_afternoon_change_what_is_offered(
    bot: Bot, adviser: LocalChat
) -> None:
    await adviser.send("/availability add Tue 10:00-12:30")
    await adviser.send("/availability off 1/12/2026")
    assert "Off: Tuesday 1 December 2026 (all day)" in adviser.last_text
    assert not any("01 Dec" in s for s in await open_starts(bot))
    await adviser.send("/availability extra 3/12/2026 14:00-15:00 phone")
    assert "Thu 03 Dec 14:00" in await open_starts(bot)
    await adviser.send("/availability off 1/1/2020")
    assert adviser.replies[0].plain_text == texts.RANGE_PROBLEMS["date"]


async def test_removing_a_weekly_time_stops_offering_it(bot: Bot, adviser: LocalChat) -> None:
    await adviser.send("/availability add Tue 10:00-12:30")
    await adviser.press("Remove Tue 10:00")
    assert adviser.replies[0].plain_text == texts.AVAILABILITY_REMOVED
    assert await open_starts(bot) == []


async def test_students_cannot_change_availability(bot: Bot) -> None:
    from tests.handlers.conftest import STUDENT

    student = bot.chat(STUDENT)
    await student.send("/availability add Tue 10:00-12:30")
    assert student.last_text == texts.NOT_AUTHORISED
    assert await open_starts(bot) == []
