"""/availability: advisers add weekly times, days off and extras; students see the effect."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot import texts
from bot.callbacks import Action, Press, encode
from bot.services.booking import booking
from bot.services.staff import staff
from bot.transport import LocalChat
from bot.vocabulary import AuditAction, Role
from storage import audit as audit_log
from storage.models import AvailabilityWindow
from tests.handlers.conftest import ADVISER, COORDINATOR, Bot, BotMaker, add_staff


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
        actions = [e.action async for e in audit_log.entries(uow.session, bot.deps.cipher)]
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


async def staff_id_of(bot: Bot, user_id: int) -> str:
    async with bot.deps.uow() as uow:
        member = await staff.find_staff(uow, bot.deps, user_id)
    assert member is not None
    return member.id


async def windows_of(bot: Bot, staff_id: str) -> list[tuple[int, int]]:
    async with bot.deps.uow() as uow:
        rows = await uow.session.execute(
            select(AvailabilityWindow.weekday, AvailabilityWindow.start_minute).where(
                AvailabilityWindow.staff_id == staff_id
            )
        )
        return [(day, minute) for day, minute in rows]


@pytest.fixture
async def coordinator(bot: Bot, adviser: LocalChat) -> LocalChat:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    return bot.chat(COORDINATOR)


async def test_a_coordinator_works_on_an_advisers_times_until_choosing_again(
    bot: Bot, adviser: LocalChat, coordinator: LocalChat
) -> None:
    adviser_id = await staff_id_of(bot, ADVISER.id)
    coordinator_id = await staff_id_of(bot, COORDINATOR.id)
    await coordinator.send("/availability")
    await coordinator.press(texts.BTN_MANAGE_OTHER)
    assert coordinator.last_text == texts.CHOOSE_ADVISER
    assert coordinator.buttons() == ["✓ My own times", "Alex Adviser"]
    await coordinator.press("Alex Adviser")
    assert "You are working on Alex Adviser's availability." in coordinator.last_text
    assert "Alex Adviser's weekly times" in coordinator.last_text

    await coordinator.send("/availability add Tue 10:00-12:30 in person")
    assert await windows_of(bot, adviser_id) == [(1, 600)]
    assert await windows_of(bot, coordinator_id) == []
    await coordinator.send("/availability off 1/12/2026")
    assert not any("01 Dec" in s for s in await open_starts(bot))
    # The adviser sees the change as their own, and the audit log names who made it.
    await adviser.send("/availability")
    assert "Tuesday 10:00-12:30, in person" in adviser.last_text
    async with bot.deps.uow() as uow:
        actors = {
            e.actor
            async for e in audit_log.entries(
                uow.session, bot.deps.cipher, action=AuditAction.AVAILABILITY_CHANGED
            )
        }
    assert actors == {f"staff:{coordinator_id}"}

    await coordinator.send("/availability")
    await coordinator.press("Remove Tue 10:00")
    assert await windows_of(bot, adviser_id) == []

    await coordinator.send("/availability")
    await coordinator.press(texts.BTN_MANAGE_OTHER)
    assert coordinator.buttons() == ["My own times", "✓ Alex Adviser"]
    await coordinator.press("My own times")
    assert "Your weekly times" in coordinator.last_text
    await coordinator.send("/availability add Wed 14:00-16:00 phone")
    assert await windows_of(bot, coordinator_id) == [(2, 840)]


async def test_the_choice_survives_a_restart_and_lapses_when_the_adviser_goes(
    bot: Bot, make_bot: BotMaker, adviser: LocalChat, coordinator: LocalChat
) -> None:
    await coordinator.send("/availability")
    await coordinator.press(texts.BTN_MANAGE_OTHER)
    await coordinator.press("Alex Adviser")
    restarted = (await make_bot()).chat(COORDINATOR)
    await restarted.send("/availability")
    assert "You are working on Alex Adviser's availability." in restarted.last_text

    async with bot.deps.uow() as uow:
        await staff.deactivate(uow, bot.deps, COORDINATOR.id, await staff_id_of(bot, ADVISER.id))
    await restarted.send("/availability")
    assert "Your weekly times" in restarted.last_text
    await restarted.press(texts.BTN_MANAGE_OTHER)
    assert restarted.buttons() == ["✓ My own times"]


async def test_an_adviser_cannot_work_on_anyone_elses_times(
    bot: Bot, adviser: LocalChat, coordinator: LocalChat
) -> None:
    coordinator_id = await staff_id_of(bot, COORDINATOR.id)
    await coordinator.send("/availability add Tue 10:00-12:30")
    assert texts.BTN_MANAGE_OTHER not in (await adviser.send("/availability"))[-1].plain_text
    assert texts.BTN_MANAGE_OTHER not in adviser.buttons()
    # Forged presses: choose the coordinator's times, remove the coordinator's window.
    await adviser.deliver(
        bot.factory.callback(
            adviser.user, adviser.last, encode(Press(Action.MANAGE_SET, staff_id=coordinator_id))
        )
    )
    assert adviser.last_text == texts.NOT_AUTHORISED
    await adviser.deliver(
        bot.factory.callback(adviser.user, adviser.last, encode(Press(Action.MANAGE_PICK)))
    )
    assert adviser.last_text == texts.NOT_AUTHORISED
    async with bot.deps.uow() as uow:
        window_id = (await uow.session.execute(select(AvailabilityWindow.id))).scalar_one()
    await adviser.deliver(
        bot.factory.callback(
            adviser.user, adviser.last, encode(Press(Action.WINDOW_REMOVE, window_id=window_id))
        )
    )
    assert await windows_of(bot, coordinator_id) == [(1, 600)]
    await adviser.send("/availability add Wed 10:00-11:00")
    assert await windows_of(bot, coordinator_id) == [(1, 600)]
