"""Reminders: with consent only, at the set offsets, once each, never stale, restart-safe."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from bot import texts
from bot.clock import FixedClock
from bot.services.booking.reminders import MOVE_HOLD, queue_due_reminders
from bot.transport import LocalChat
from tests.handlers.conftest import ADVISER, Bot, submit_sheet
from tests.handlers.test_booking_journey import adviser_with_tuesdays, book_first_in_person, deliver

APPOINTMENT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def reminders_in(chat: LocalChat) -> list[str]:
    return [
        m.plain_text
        for m in chat.api.messages(chat.user.id)
        if m.plain_text.startswith("Reminder:")
    ]


async def run_jobs(bot: Bot) -> None:
    await queue_due_reminders(bot.deps)
    await deliver(bot)


async def booked(bot: Bot, student: LocalChat, *, consent: bool = True) -> None:
    await adviser_with_tuesdays(bot)
    await submit_sheet(student, consent=consent)
    await book_first_in_person(student)


async def test_reminders_come_24h_and_2h_before_once_each(
    bot: Bot, student: LocalChat, clock: FixedClock
) -> None:
    await booked(bot, student)
    clock.set(APPOINTMENT - timedelta(hours=25))
    await run_jobs(bot)
    assert reminders_in(student) == []
    clock.set(APPOINTMENT - timedelta(hours=24))
    await run_jobs(bot)
    await run_jobs(bot)
    assert len(reminders_in(student)) == 1
    assert "Tuesday 1 December 2026, 10:00" in reminders_in(student)[0]
    clock.set(APPOINTMENT - timedelta(hours=2))
    await run_jobs(bot)
    clock.advance(timedelta(minutes=30))
    await run_jobs(bot)
    assert len(reminders_in(student)) == 2
    clock.set(APPOINTMENT + timedelta(minutes=5))
    await run_jobs(bot)
    assert len(reminders_in(student)) == 2


async def test_without_consent_no_reminder_is_sent(
    bot: Bot, student: LocalChat, clock: FixedClock
) -> None:
    await booked(bot, student, consent=False)
    clock.set(APPOINTMENT - timedelta(hours=1))
    await run_jobs(bot)
    assert reminders_in(student) == []


async def test_after_downtime_only_the_latest_due_reminder_is_sent(
    bot: Bot, student: LocalChat, clock: FixedClock
) -> None:
    await booked(bot, student)
    clock.set(APPOINTMENT - timedelta(hours=1))  # the bot was down at 24 h and at 2 h
    await run_jobs(bot)
    await run_jobs(bot)
    assert len(reminders_in(student)) == 1


async def test_a_cancelled_appointment_gets_no_reminder_even_one_already_queued(
    bot: Bot, student: LocalChat, clock: FixedClock
) -> None:
    await booked(bot, student)
    clock.set(APPOINTMENT - timedelta(hours=24))
    await queue_due_reminders(bot.deps)  # queued, not yet delivered
    await student.send("/appointments")
    await student.press("Cancel Tue 01 Dec 10:00")
    await student.press("Yes, cancel it")
    await deliver(bot)
    clock.set(APPOINTMENT - timedelta(hours=2))
    await run_jobs(bot)
    assert reminders_in(student) == []


@pytest.mark.telegram_refuses("bot was blocked by the user")
async def test_a_student_who_blocked_the_bot_is_recorded_unreachable_and_nothing_crashes(
    bot: Bot, student: LocalChat, clock: FixedClock
) -> None:
    from sqlalchemy import select

    from storage.models import Student

    await booked(bot, student)
    bot.api.block(student.user.id)
    clock.set(APPOINTMENT - timedelta(hours=24))
    await run_jobs(bot)
    async with bot.deps.uow() as uow:
        assert await uow.session.scalar(select(Student.unreachable_since)) == clock.now()
    bot.api.unblock(student.user.id)
    clock.advance(timedelta(minutes=10))
    await run_jobs(bot)
    assert len(reminders_in(student)) == 1
    async with bot.deps.uow() as uow:
        assert await uow.session.scalar(select(Student.unreachable_since)) is None


async def test_a_reminder_whose_moment_passed_before_booking_is_never_sent(
    bot: Bot, student: LocalChat, clock: FixedClock
) -> None:
    clock.set(APPOINTMENT - timedelta(hours=22))  # booked when "24 hours before" is gone
    await booked(bot, student)
    await run_jobs(bot)
    clock.advance(timedelta(minutes=5))
    await run_jobs(bot)
    assert reminders_in(student) == []
    clock.set(APPOINTMENT - timedelta(hours=2))
    await run_jobs(bot)
    await run_jobs(bot)
    assert len(reminders_in(student)) == 1


async def move_first_to_phone_at_two(student: LocalChat) -> None:
    await student.send("/appointments")
    await student.press("Move Tue 01 Dec 10:00")
    await student.press("By phone")
    await student.press("Tue 1 Dec")
    await student.press("14:00")
    await student.press(texts.BTN_CONFIRM_MOVE)
    assert student.last_text.startswith("Moved.")


async def test_a_moved_appointment_is_judged_against_when_it_was_moved(
    bot: Bot, student: LocalChat, clock: FixedClock
) -> None:
    await booked(bot, student)
    clock.set(APPOINTMENT - timedelta(hours=19))  # 14:00 is 23 hours away
    await move_first_to_phone_at_two(student)
    await run_jobs(bot)
    clock.advance(timedelta(minutes=5))
    await run_jobs(bot)
    assert reminders_in(student) == []
    clock.set(APPOINTMENT + timedelta(hours=2))  # 2 hours before the new time
    await run_jobs(bot)
    await run_jobs(bot)
    assert len(reminders_in(student)) == 1
    assert "Tuesday 1 December 2026, 14:00" in reminders_in(student)[0]


async def test_no_reminder_arrives_while_the_student_is_moving_the_appointment(
    bot: Bot, student: LocalChat, clock: FixedClock
) -> None:
    await booked(bot, student)
    clock.set(APPOINTMENT - timedelta(hours=24, minutes=3))
    await student.send("/appointments")
    await student.press("Move Tue 01 Dec 10:00")
    clock.advance(timedelta(minutes=4))  # "24 hours before" passes mid-move
    await run_jobs(bot)
    await student.press("By phone")
    clock.advance(timedelta(minutes=4))
    await run_jobs(bot)
    await student.press("Tue 1 Dec")
    await student.press("14:00")
    await run_jobs(bot)
    assert reminders_in(student) == []
    await student.press(texts.BTN_CONFIRM_MOVE)
    await run_jobs(bot)
    assert reminders_in(student) == []
    clock.set(APPOINTMENT + timedelta(hours=4) - timedelta(hours=24))
    await run_jobs(bot)
    await run_jobs(bot)
    assert len(reminders_in(student)) == 1
    assert "Tuesday 1 December 2026, 14:00" in reminders_in(student)[0]


async def test_a_move_left_unfinished_holds_the_reminder_then_sends_it_once(
    bot: Bot, student: LocalChat, clock: FixedClock
) -> None:
    await booked(bot, student)
    clock.set(APPOINTMENT - timedelta(hours=24))
    await queue_due_reminders(bot.deps)  # queued, not yet delivered
    await student.send("/appointments")
    await student.press("Move Tue 01 Dec 10:00")
    await student.press("By phone")
    await deliver(bot)
    clock.advance(MOVE_HOLD - timedelta(minutes=1))
    await run_jobs(bot)
    assert reminders_in(student) == []
    clock.advance(timedelta(minutes=2))  # the student went away: the hold has passed
    await run_jobs(bot)
    await run_jobs(bot)
    assert len(reminders_in(student)) == 1
    assert "Tuesday 1 December 2026, 10:00" in reminders_in(student)[0]
    clock.advance(timedelta(hours=1))
    await run_jobs(bot)
    assert len(reminders_in(student)) == 1


async def test_a_students_message_says_what_its_reference_is_for(
    bot: Bot, student: LocalChat, clock: FixedClock
) -> None:
    await booked(bot, student)
    clock.set(APPOINTMENT - timedelta(hours=2))
    await run_jobs(bot)
    reminder = student.api.messages(student.user.id)[-1]
    assert reminder.plain_text.startswith("Reminder:")
    assert re.search(
        r"\n\n<i>Message ref [0-9A-F]{6}: if you get this message twice, "
        r"you can ignore the copy\.</i>$",
        reminder.text or "",
    )
    summary = bot.chat(ADVISER).api.messages(ADVISER.id)[0]
    assert re.search(r"\n\n<i>Ref [0-9A-F]{6}</i>$", summary.text or "")  # staff know it
