"""Each update costs one transaction and never repeats a statement, across the common journeys.

The update's unit of work is opened once, before the first guard (bot/handlers/scope.py): the
marker, the sender's role and the handler's work share it. Redelivered updates, handler
blocks and Bot API calls must not split it, and no query is asked twice with the same values.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from telegram import Update

from bot import policy_texts, texts
from bot.clock import FixedClock
from bot.vocabulary import Role
from tests.handlers.conftest import (
    ADVISER,
    COORDINATOR,
    STUDENT,
    Bot,
    add_staff,
    code_now,
    submit_sheet,
)
from tests.handlers.test_booking_journey import adviser_with_tuesdays, book_first_in_person
from tests.handlers.test_policy_publishing import NEW_TEXT
from tests.handlers.test_reminders import move_first_to_phone_at_two


@dataclass
class UpdateWork:
    """What one update asked of the database."""

    name: str
    transactions: int = 0
    statements: list[tuple[str, str]] = field(default_factory=list)

    def repeated(self) -> list[str]:
        counts = Counter(self.statements)
        return [statement for (statement, _), n in counts.items() if n > 1]


class DatabaseWork:
    """Transactions and statements of each update the application processes."""

    def __init__(self, bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
        self.updates: list[UpdateWork] = []
        self._current: UpdateWork | None = None
        engine = bot.deps.sessions.kw["bind"].sync_engine
        event.listen(engine, "begin", self._begin)
        event.listen(engine, "before_cursor_execute", self._statement)
        process = bot.app.process_update

        async def recorded(update: object) -> None:
            assert isinstance(update, Update)
            self._current = UpdateWork(_describe(update))
            try:
                await process(update)
            finally:
                self.updates.append(self._current)
                self._current = None

        monkeypatch.setattr(bot.app, "process_update", recorded)

    def _begin(self, _conn: Any) -> None:
        if self._current is not None:
            self._current.transactions += 1

    def _statement(self, *args: Any) -> None:
        _conn, _cursor, statement, parameters, _context, _many = args
        if self._current is not None:
            self._current.statements.append((statement, repr(parameters)))

    def check(self) -> None:
        assert self.updates, "no update was recorded"
        split = [(u.name, u.transactions) for u in self.updates if u.transactions > 1]
        assert split == [], f"updates that opened more than one transaction: {split}"
        repeats = [(u.name, u.repeated()) for u in self.updates if u.repeated()]
        assert repeats == [], f"updates that asked the same query twice: {repeats}"


def _describe(update: Update) -> str:
    if update.callback_query is not None:
        return f"press {update.callback_query.data}"
    message = update.effective_message
    return f"message {(message.text or '')[:30]!r}" if message else f"update {update.update_id}"


@pytest.fixture
def work(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> DatabaseWork:
    return DatabaseWork(bot, monkeypatch)


async def test_the_sheet_and_consent_take_one_transaction_per_update(
    bot: Bot, work: DatabaseWork
) -> None:
    student = bot.chat(STUDENT)
    await student.send("/start")
    await submit_sheet(student)
    await student.send("/mysheet")
    await student.send("/consent")
    await student.press("Change: Contact organisations outside the University")
    await student.press("No")
    work.check()
    assert len(work.updates) >= 25  # the whole sheet was recorded, update by update
    assert all(u.transactions == 1 for u in work.updates)


async def test_booking_moving_and_cancelling_take_one_transaction_per_update(
    bot: Bot, work: DatabaseWork
) -> None:
    await adviser_with_tuesdays(bot)
    student = bot.chat(STUDENT)
    await submit_sheet(student)
    await book_first_in_person(student)
    await student.press(texts.BTN_CALENDAR)
    await move_first_to_phone_at_two(student)
    await student.send("/appointments")
    await student.press("Cancel Tue 01 Dec 14:00")
    await student.press("Yes, cancel it")
    assert student.last_text.startswith("Cancelled:")
    work.check()


async def test_staff_commands_take_one_transaction_per_update(
    bot: Bot, work: DatabaseWork, clock: FixedClock
) -> None:
    secret = await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    assert secret is not None
    await adviser_with_tuesdays(bot)
    coordinator, adviser = bot.chat(COORDINATOR), bot.chat(ADVISER)
    await coordinator.send("/lock")
    clock.advance(timedelta(minutes=1))
    await coordinator.send(f"/unlock {code_now(bot, secret)}")
    assert coordinator.last_text.startswith("Unlocked until")
    await coordinator.send("/invite adviser")
    await coordinator.send("/staff")
    await adviser.send("/availability add Wed 10:00-12:00 in person")
    await adviser.send("/availability off 2/12/2026")
    await adviser.send("/today")
    await adviser.send("/week")
    await adviser.send("/help")
    await bot.chat(STUDENT).send("/availability")  # refused, and the refusal audited
    work.check()


async def test_the_policy_cycle_takes_one_transaction_per_update(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    await add_staff(bot, ADVISER, Role.ADVISER)
    coordinator, adviser = bot.chat(COORDINATOR), bot.chat(ADVISER)
    await coordinator.send("/policy publish")
    # Fetching the document is a call to Telegram between two transactions, like /attach's.
    await coordinator.deliver(
        bot.factory.document(COORDINATOR, content=NEW_TEXT.encode(), file_name="policy.txt")
    )
    work = DatabaseWork(bot, monkeypatch)
    await coordinator.send("20/11/2026")
    await coordinator.send("not a version!")
    await coordinator.press(policy_texts.btn_use_version("2026.2"))
    await coordinator.press(policy_texts.BTN_PUBLISH)
    await adviser.send("/today")  # the new version first
    await adviser.press(texts.BTN_ACK_POLICY)
    await adviser.send("/today")
    await adviser.send("/policy")
    await coordinator.press(texts.BTN_ACK_POLICY)
    await coordinator.send("/policy signatures")
    await coordinator.send("/policy publish")
    await coordinator.send("/cancel")
    work.check()
