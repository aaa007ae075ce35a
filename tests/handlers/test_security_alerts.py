"""With nobody set up for Security, coordinators are alerted only when there is something to
tell, and once per cause whichever path (the notice, the digest) found nobody."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.clock import FixedClock
from bot.services.notices import security
from bot.transport import LocalChat
from bot.vocabulary import Role
from tests.handlers.conftest import COORDINATOR, Bot, add_staff, submit_sheet
from tests.handlers.test_booking_journey import (
    adviser_with_tuesdays,
    book_first_in_person,
    deliver,
)

DIGEST_TIME = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)  # 17:00 in London, the day before


def nobody_alerts(bot: Bot) -> list[str]:
    return [
        m.plain_text
        for m in bot.api.messages(COORDINATOR.id)
        if m.plain_text.startswith("A Security notice is due, but nobody")
    ]


async def digest_runs(bot: Bot, clock: FixedClock, *, minutes: int = 3) -> None:
    """The digest job, run every minute for a few minutes, then delivery."""
    for _ in range(minutes):
        await security.queue_digest(bot.deps)
        clock.advance(timedelta(minutes=1))
    await deliver(bot)


async def test_an_empty_digest_with_nobody_for_security_alerts_nobody(
    bot: Bot, clock: FixedClock
) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    for day in range(3):  # a fresh deployment, day after day
        clock.set(DIGEST_TIME + timedelta(days=day))
        await digest_runs(bot, clock)
    assert nobody_alerts(bot) == []
    assert bot.api.messages(COORDINATOR.id) == []


async def test_a_booking_and_the_digest_that_lists_it_alert_the_coordinator_once(
    bot: Bot, student: LocalChat, clock: FixedClock
) -> None:
    await adviser_with_tuesdays(bot)
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    clock.set(DIGEST_TIME)
    await security.queue_digest(bot.deps)  # the digest ran just before: nothing to tell
    await submit_sheet(student, removed=True)
    await book_first_in_person(student)  # tomorrow at 10:00, in person
    await digest_runs(bot, clock)  # and keeps running every minute after
    assert len(nobody_alerts(bot)) == 1
    clock.advance(timedelta(days=1))
    await digest_runs(bot, clock)
    assert len(nobody_alerts(bot)) == 1


async def test_a_digest_nobody_receives_alerts_for_what_was_not_yet_alerted(
    bot: Bot, student: LocalChat, clock: FixedClock
) -> None:
    bot.deps.settings.security_chat_ids = (9001,)
    await adviser_with_tuesdays(bot)
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    await submit_sheet(student, removed=True)
    await book_first_in_person(student)
    await deliver(bot)
    assert len(bot.api.messages(9001)) == 1
    assert nobody_alerts(bot) == []
    bot.deps.settings.security_chat_ids = ()  # Security's chat has gone since
    clock.set(DIGEST_TIME)
    await digest_runs(bot, clock)
    assert len(nobody_alerts(bot)) == 1
    assert not any("Sam" in t or "210012345" in t for t in nobody_alerts(bot))
