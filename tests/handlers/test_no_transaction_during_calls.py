"""No database transaction is open while Telegram is being called.

On SQLite an open transaction holds the write lock (BEGIN IMMEDIATE), so a slow Bot API call,
or one sleeping out a RetryAfter, would stall every other update and job meanwhile. On
PostgreSQL it would pin a connection and its locks. Replies and deliveries therefore happen
after the unit of work has ended; this checks it across the common journeys.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.transport.local import Failure
from bot.vocabulary import Role
from tests.handlers.conftest import ADVISER, COORDINATOR, STUDENT, Bot, add_staff, answer_current
from tests.handlers.test_booking_journey import adviser_with_tuesdays, book_first_in_person, deliver


class OpenTransactions:
    """Counts transactions begun and not yet ended on an engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine.sync_engine
        self.open = 0

    def _begin(self, _conn: Any) -> None:
        self.open += 1

    def _end(self, _conn: Any) -> None:
        self.open -= 1

    def __enter__(self) -> OpenTransactions:
        event.listen(self.engine, "begin", self._begin)
        event.listen(self.engine, "commit", self._end)
        event.listen(self.engine, "rollback", self._end)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self.engine, "begin", self._begin)
        event.remove(self.engine, "commit", self._end)
        event.remove(self.engine, "rollback", self._end)


@pytest.fixture
def watched(bot: Bot) -> Iterator[list[str]]:
    """The Bot API methods called while a transaction was open."""
    found: list[str] = []
    with OpenTransactions(bot.deps.sessions.kw["bind"]) as transactions:

        def probe(method: str, _params: dict[str, Any]) -> Failure | None:
            if transactions.open > 0:
                found.append(method)
            return None

        bot.api.fail_while(probe)
        yield found
        bot.api.fail_while(None)


async def test_no_bot_api_call_is_made_inside_a_transaction(bot: Bot, watched: list[str]) -> None:
    student = bot.chat(STUDENT)
    await student.send("/consent")  # no sheet yet
    await student.send("hello")  # no sheet yet
    await student.send("/start")
    await student.press("Continue")
    await student.send("not a name 123 <b>")  # rejected answer
    while student.last_text.startswith("Question "):
        await answer_current(student)
    await student.press("Everything is correct")
    while student.last_text.startswith(("Consent ", "Last step")):
        await student.press("Yes")
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    await bot.chat(COORDINATOR).send("/invite")  # usage
    await adviser_with_tuesdays(bot)
    await book_first_in_person(student)
    await bot.chat(ADVISER).send("/availability add Wed 10:00-12:00 in person")
    await deliver(bot)
    await student.send("/appointments")
    assert bot.api.messages(ADVISER.id), "the journey reached the adviser"
    assert watched == []
