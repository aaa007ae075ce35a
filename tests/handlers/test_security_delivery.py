"""Security notices are never lost and never misleading: failures, crashes, order, escalation.

Each test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot import texts
from bot.clock import FixedClock
from bot.notify import TelegramSender
from bot.services.notices import outbox
from bot.transport import FailureKind, LocalChat
from bot.transport.local import Failure
from bot.vocabulary import Role
from tests.handlers.conftest import (
    ADVISER,
    COORDINATOR,
    SECURITY,
    Bot,
    BotMaker,
    add_staff,
    submit_sheet,
)
from tests.handlers.test_booking_journey import (
    ESCALATE,
    adviser_with_tuesdays,
    book_first_in_person,
    deliver,
)
from tests.handlers.test_security_notices import NOTICE_ON_CAMPUS, move_to, notices


def security_down(bot: Bot, kind: FailureKind) -> None:
    """Every send to the Security chat fails in the given way until `security_up`."""

    def decide(method: str, params: dict[str, Any]) -> Failure | None:
        if method == "sendMessage" and int(params.get("chat_id", 0)) == SECURITY.id:
            return Failure(kind, retry_after=3)
        return None

    bot.api.fail_while(decide)


def security_up(bot: Bot) -> None:
    bot.api.fail_while(None)


async def removed_student(bot: Bot, student: LocalChat) -> None:
    await adviser_with_tuesdays(bot)
    await add_staff(bot, SECURITY, Role.SECURITY)
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    await submit_sheet(student, removed=True)


def clock_of(bot: Bot) -> FixedClock:
    clock: FixedClock = bot.deps.clock  # type: ignore[assignment]
    return clock


async def deliver_for(bot: Bot, minutes: int) -> None:
    """Run the outbox job every 30 seconds of (fake) time for `minutes`."""
    for _ in range(minutes * 2):
        await deliver(bot)
        clock_of(bot).advance(timedelta(seconds=30))


@pytest.mark.parametrize(
    "kind", [FailureKind.NETWORK_ERROR, FailureKind.SERVER_ERROR, FailureKind.RETRY_AFTER]
)
async def test_a_notice_waits_out_a_failing_transport_and_arrives_once(
    bot: Bot, student: LocalChat, kind: FailureKind
) -> None:
    await removed_student(bot, student)
    security_down(bot, kind)
    await book_first_in_person(student)
    await deliver_for(bot, 3)
    assert notices(bot) == []
    security_up(bot)
    await deliver_for(bot, 20)
    assert notices(bot) == [NOTICE_ON_CAMPUS]


async def test_a_crash_between_commit_and_send_loses_nothing(
    bot: Bot, make_bot: BotMaker, student: LocalChat
) -> None:
    await removed_student(bot, student)
    await book_first_in_person(student)  # committed with its notice; never sent by this process
    restarted = await make_bot()
    await outbox.dispatch(
        restarted.deps, TelegramSender(restarted.app.bot), escalate_after=ESCALATE
    )
    await outbox.dispatch(
        restarted.deps, TelegramSender(restarted.app.bot), escalate_after=ESCALATE
    )
    assert notices(restarted) == [NOTICE_ON_CAMPUS]


class ProcessKilled(BaseException):
    """The process dies: nothing after this line of the dispatcher runs."""


class SendThenDie:
    def __init__(self, inner: TelegramSender) -> None:
        self.inner = inner

    async def send(self, chat_id: int, html: str) -> None:
        await self.inner.send(chat_id, html)
        if chat_id == SECURITY.id:
            raise ProcessKilled


async def test_a_crash_between_send_and_mark_gives_one_identical_duplicate(
    bot: Bot, make_bot: BotMaker, student: LocalChat
) -> None:
    await removed_student(bot, student)
    await book_first_in_person(student)
    with pytest.raises(ProcessKilled):
        await outbox.dispatch(
            bot.deps, SendThenDie(TelegramSender(bot.app.bot)), escalate_after=ESCALATE
        )
    assert notices(bot) == [NOTICE_ON_CAMPUS]
    restarted = await make_bot()
    # The dead process still holds the row's lease; once it lapses the notice goes again.
    await deliver(restarted)
    assert len(notices(restarted)) == 1
    clock_of(restarted).advance(outbox.CLAIM_FOR + timedelta(seconds=1))
    await deliver(restarted)
    await deliver(restarted)
    sent = [m.plain_text for m in restarted.api.messages(SECURITY.id)]
    assert len(sent) == 2
    assert sent[0] == sent[1]  # the same full statement of the times, with the same reference


async def test_a_move_queued_behind_an_undelivered_notice_never_overtakes_it(
    bot: Bot, student: LocalChat
) -> None:
    await removed_student(bot, student)
    security_down(bot, FailureKind.RETRY_AFTER)
    await book_first_in_person(student)
    await deliver(bot)
    await move_to(student, "In person", "Tue 1 Dec", "11:00")
    await move_to(student, "In person", "Tue 8 Dec", "10:00")
    await deliver_for(bot, 1)
    assert notices(bot) == []
    security_up(bot)
    await deliver_for(bot, 1)
    assert [n.split("\n")[0] for n in notices(bot)] == [
        "USS appointment: on campus",
        "USS appointment moved",
        "USS appointment moved",
    ]
    assert "Tuesday 8 December 2026 from 10:00 to 10:45" in notices(bot)[-1]


async def test_an_undelivered_notice_alerts_the_coordinator_without_details_and_keeps_trying(
    bot: Bot, student: LocalChat
) -> None:
    clock_of(bot).set(datetime(2026, 12, 1, 7, 0, tzinfo=UTC))
    await removed_student(bot, student)
    security_down(bot, FailureKind.NETWORK_ERROR)
    await book_first_in_person(student)
    await deliver_for(bot, 14)
    coordinator = [m.plain_text for m in bot.api.messages(COORDINATOR.id)]
    assert not any("Security notice" in t for t in coordinator)
    await deliver_for(bot, 2)
    alerts = [
        m.plain_text for m in bot.api.messages(COORDINATOR.id) if "Security notice" in m.plain_text
    ]
    assert len(alerts) == 1
    assert alerts[0].startswith(
        "A Security notice for an appointment at 10:00 today is undelivered."
    )
    assert "Sam" not in alerts[0] and "210012345" not in alerts[0]
    security_up(bot)
    await deliver_for(bot, 16)
    assert notices(bot) == [NOTICE_ON_CAMPUS]


def test_the_escalation_names_the_day_relative_to_now() -> None:
    zone = ZoneInfo("Europe/London")
    at = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    assert "at 14:00 today" in texts.security_undelivered(at, at - timedelta(hours=3), zone)
    assert "at 14:00 tomorrow" in texts.security_undelivered(at, at - timedelta(days=1), zone)
    assert "at 14:00 on Tuesday 1 December 2026" in texts.security_undelivered(
        at, at - timedelta(days=3), zone
    )


async def test_waiting_messages_are_withdrawn_from_staff_deactivated_meanwhile(
    bot: Bot, student: LocalChat
) -> None:
    """Security's notice and the adviser's summary wait on a failing transport; both
    recipients are deactivated; neither is ever sent, and nothing else is held back."""
    await removed_student(bot, student)
    down = {SECURITY.id, ADVISER.id}

    def decide(method: str, params: dict[str, Any]) -> Failure | None:
        if method == "sendMessage" and int(params.get("chat_id", 0)) in down:
            return Failure(FailureKind.NETWORK_ERROR)
        return None

    bot.api.fail_while(decide)
    await book_first_in_person(student)
    await deliver_for(bot, 1)
    coordinator = bot.chat(COORDINATOR)
    for name in ("Sid Security", "Alex Adviser"):
        await coordinator.send("/staff")
        await coordinator.press(f"Deactivate {name}")
        await coordinator.press("Yes, deactivate")
    bot.api.fail_while(None)
    await deliver_for(bot, 20)
    assert bot.api.messages(SECURITY.id) == []
    assert not any("Sam Jones" in m.plain_text for m in bot.api.messages(ADVISER.id))
    async with bot.deps.uow() as uow:
        waiting = await outbox.pending_summary(uow)
    assert waiting == []
    # Coordinators were still told the booking needs a new adviser.
    assert any("upcoming booking" in m.plain_text for m in bot.api.messages(COORDINATOR.id))
