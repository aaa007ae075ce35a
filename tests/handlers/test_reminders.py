"""Reminders: with consent only, at the set offsets, once each, never stale, restart-safe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import FixedClock
from bot.services.reminders import queue_due_reminders
from bot.transport import LocalChat
from tests.handlers.conftest import Bot, submit_sheet
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
