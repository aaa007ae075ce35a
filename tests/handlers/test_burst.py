"""A burst: two hundred students at once, through the update processor as deployed."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import texts
from bot.transport import LocalChat, LocalUser
from bot.transport.local import SentMessage
from bot.transport.updates import to_update
from bot.update_order import ChatOrderedProcessor
from bot.vocabulary import SheetStatus
from storage.models import InformationSheet
from tests.handlers.conftest import Bot, submit_sheet

STUDENTS = 200
ERROR_REPLY = texts.something_went_wrong("E-0").partition("E-0")[0]


class DeployedChat(LocalChat):
    """A chat whose updates go through the update processor, as `run_polling` hands them over."""

    async def deliver(self, payload: dict[str, Any]) -> list[SentMessage]:
        before = self._mark = len(self.api.messages(self.user.id))
        update = to_update(payload, self.app)
        await self.app.update_processor.process_update(update, self.app.process_update(update))
        return self.api.messages(self.user.id)[before:]


class ConnectionsOut:
    """The most connections checked out of the engine's pool at once."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.now = self.most = 0
        event.listen(engine.sync_engine, "checkout", self._out)
        event.listen(engine.sync_engine, "checkin", self._in)

    def _out(self, *_: object) -> None:
        self.now += 1
        self.most = max(self.most, self.now)

    def _in(self, *_: object) -> None:
        self.now -= 1


async def test_two_hundred_students_at_once_all_submit_their_sheets_without_an_error(
    bot: Bot, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    processor = bot.app.update_processor
    assert isinstance(processor, ChatOrderedProcessor)
    connections = ConnectionsOut(engine)
    chats = [
        DeployedChat(bot.app, bot.api, bot.factory, LocalUser(50_000 + i, "Student", f"N{i}"))
        for i in range(STUDENTS)
    ]

    with caplog.at_level(logging.ERROR):
        async with asyncio.TaskGroup() as group:  # a student who does not finish fails the test
            for chat in chats:
                group.create_task(submit_sheet(chat))

    told_something_went_wrong = [
        chat.user.id
        for chat in chats
        if any((m.text or "").startswith(ERROR_REPLY) for m in bot.api.messages(chat.user.id))
    ]
    assert told_something_went_wrong == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    async with bot.deps.uow() as uow:
        submitted = await uow.session.scalar(
            select(func.count())
            .select_from(InformationSheet)
            .where(InformationSheet.status == SheetStatus.SUBMITTED.value)
        )
    assert submitted == STUDENTS
    # The bound held: never more connections out than updates allowed to run together.
    assert connections.most <= processor.at_once
    if engine.dialect.name == "postgresql":
        # Updates really ran together. (On SQLite an update's statements run on the event
        # loop's thread without yielding, so two updates' connections need never overlap.)
        assert connections.most > 1
