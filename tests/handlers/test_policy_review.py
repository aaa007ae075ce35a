"""The annual review: the coordinators are reminded a month before the anniversary of the
current version's approval and on the day, each once, whatever restarts or instances run."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

from bot.clock import FixedClock
from bot.services.staff import policy_review, policy_versions
from bot.transport import LocalUser
from bot.vocabulary import Role
from tests.handlers.conftest import ADVISER, COORDINATOR, Bot, BotMaker, add_staff
from tests.handlers.test_booking_journey import deliver
from tests.handlers.test_policy_publishing import NEW_TEXT

SECOND_COORDINATOR = LocalUser(3002, "Dana", "Deputy")
HEADING = "Annual review of the confidentiality policy"


def reminders(bot: Bot, user: LocalUser) -> list[str]:
    return [m.plain_text for m in bot.api.messages(user.id) if m.plain_text.startswith(HEADING)]


async def publish(bot: Bot, approved_on: date) -> None:
    async with bot.deps.uow() as uow:
        await policy_versions.publish(
            uow, bot.deps, text=NEW_TEXT, approved_on=approved_on, version="2026.2", publisher=None
        )
        await uow.commit()


async def run_job(bot: Bot) -> int:
    queued = await policy_review.queue_due_reminders(bot.deps)
    await deliver(bot)
    return queued


def london(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in the service's time zone (GMT in winter, BST in summer), as UTC."""
    from zoneinfo import ZoneInfo

    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo("Europe/London")).astimezone(
        UTC
    )


async def test_review_reminders_fire_once_a_month_before_and_on_the_anniversary(
    bot: Bot, make_bot: BotMaker, clock: FixedClock
) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    await add_staff(bot, SECOND_COORDINATOR, Role.COORDINATOR)
    await add_staff(bot, ADVISER, Role.ADVISER)
    await publish(bot, date(2026, 11, 20))

    # Before the month-before day, nothing; on it, before working hours, nothing either.
    for moment in (london(2027, 10, 19, 12), london(2027, 10, 20, 8, 59)):
        clock.set(moment)
        assert await run_job(bot) == 0
    clock.set(london(2027, 10, 20, 9, 0))
    assert await run_job(bot) == 2  # one for each coordinator
    assert await run_job(bot) == 0  # the same job again
    other_instance = await make_bot()  # another process on the same database
    assert await policy_review.queue_due_reminders(other_instance.deps) == 0
    clock.set(london(2027, 10, 21, 15))
    assert await run_job(bot) == 0  # the next day: still the one reminder
    for user in (COORDINATOR, SECOND_COORDINATOR):
        sent = reminders(bot, user)
        assert len(sent) == 1
        assert (
            "version, 2026.2, was approved by the Board of Trustees on Friday 20 November 2026"
            in (sent[0])
        )
        assert "its review is due by Saturday 20 November 2027" in sent[0]
        assert "/policy publish" in sent[0]
    assert reminders(bot, ADVISER) == []

    # On the anniversary: once more, "today".
    clock.set(london(2027, 11, 20, 10))
    assert await run_job(bot) == 2
    assert await run_job(bot) == 0
    assert await policy_review.queue_due_reminders((await make_bot()).deps) == 0
    for user in (COORDINATOR, SECOND_COORDINATOR):
        sent = reminders(bot, user)
        assert len(sent) == 2
        assert "its review is due today" in sent[1]

    # A year on, the cycle goes on for the same version.
    clock.set(london(2028, 10, 20, 9, 30))
    assert await run_job(bot) == 2


async def test_two_instances_at_once_send_each_reminder_once(
    bot: Bot, make_bot: BotMaker, clock: FixedClock
) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    await publish(bot, date(2026, 11, 20))
    clock.set(london(2027, 11, 20, 9, 0))
    other = await make_bot()
    queued = await asyncio.gather(
        policy_review.queue_due_reminders(bot.deps),
        policy_review.queue_due_reminders(other.deps),
    )
    assert sorted(queued) == [0, 1]
    await deliver(bot)
    assert len(reminders(bot, COORDINATOR)) == 1


async def test_a_bot_that_was_down_on_the_day_sends_the_latest_reminder_late_once(
    bot: Bot, clock: FixedClock
) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    await publish(bot, date(2026, 11, 20))
    clock.set(london(2027, 11, 23, 11))  # both days passed while it was down
    assert await run_job(bot) == 1
    assert await run_job(bot) == 0
    sent = reminders(bot, COORDINATOR)
    assert len(sent) == 1
    assert "its review was due on Saturday 20 November 2027" in sent[0]


async def test_the_bundled_statement_has_no_approval_date_so_no_reminder(
    bot: Bot, clock: FixedClock
) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    for moment in (london(2027, 10, 24, 12), london(2027, 11, 24, 12), london(2030, 1, 1, 12)):
        clock.set(moment)
        assert await run_job(bot) == 0
    assert reminders(bot, COORDINATOR) == []


async def test_an_old_approval_published_late_is_not_due_before_it_was_published(
    bot: Bot, clock: FixedClock
) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    # Approved on 10 Dec 2025; published 24 Nov 2026, after its month-before day (10 Nov).
    await publish(bot, date(2025, 12, 10))
    assert await run_job(bot) == 0
    clock.set(london(2026, 12, 10, 9, 0))
    assert await run_job(bot) == 1
    assert "its review is due today" in reminders(bot, COORDINATOR)[0]


def test_reminder_days_fall_on_real_dates() -> None:
    assert policy_review.months_before(date(2027, 3, 31), 1) == date(2027, 2, 28)
    assert policy_review.months_before(date(2028, 3, 30), 1) == date(2028, 2, 29)
    assert policy_review.months_before(date(2027, 1, 15), 1) == date(2026, 12, 15)
    assert policy_review.anniversary(date(2028, 2, 29), 1) == date(2029, 2, 28)
    due = policy_review.latest_due(date(2026, 11, 20), date(2026, 11, 24), date(2027, 10, 20))
    assert due == policy_review.Due(date(2027, 10, 20), date(2027, 11, 20))
    assert (
        policy_review.latest_due(date(2026, 11, 20), date(2026, 11, 24), date(2027, 10, 19)) is None
    )
