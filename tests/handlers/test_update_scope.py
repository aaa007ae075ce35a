"""The update's one unit of work: what commits when, and what a mistake or a failure does."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from sqlalchemy import func, select
from telegram import Update
from telegram.ext import ApplicationHandlerStop, BaseRateLimiter, MessageHandler, filters

from bot.handlers.common import Context, boundary, say, uow_for
from bot.handlers.scope import SettleFirst, current_scope
from bot.services.intake.students import find_student, register_student
from bot.transport import to_update
from storage.models import ProcessedUpdate
from tests.handlers.conftest import STUDENT, Bot, submit_sheet


def _handle(bot: Bot, text: str, handler: object) -> Update:
    bot.app.add_handler(MessageHandler(filters.Regex(f"^{text}$"), handler), group=-10)  # type: ignore[arg-type]
    return to_update(bot.factory.text(STUDENT, text), bot.app)


async def _marked(bot: Bot, update: Update) -> bool:
    async with bot.deps.uow(read_only=True) as uow:
        found = await uow.session.scalar(
            select(func.count())
            .select_from(ProcessedUpdate)
            .where(ProcessedUpdate.update_id == update.update_id)
        )
    return bool(found)


async def test_the_update_is_committed_before_its_reply_goes_to_telegram(bot: Bot) -> None:
    open_at_reply: list[bool] = []

    @boundary
    async def register_then_reply(update: Update, context: Context) -> None:
        async with uow_for(update, context) as uow:
            await register_student(uow, bot.deps, 81_001)
            await uow.commit()  # inside an update: a savepoint, not yet durable
        await say(update, context, "done")
        raise ApplicationHandlerStop  # nothing else answers this test's message

    def at_call(_method: str, _params: object) -> None:
        scope = current_scope()
        assert scope is not None  # the call is made from the update's own task
        open_at_reply.append(scope.uow.session.in_transaction())

    update = _handle(bot, "register me", register_then_reply)
    bot.api.fail_while(at_call)
    await bot.app.process_update(update)
    bot.api.fail_while(None)
    assert open_at_reply == [False]
    async with bot.deps.uow(read_only=True) as uow:
        assert await find_student(uow, bot.deps, 81_001) is not None
    assert await _marked(bot, update)


async def test_calling_telegram_inside_a_block_fails_loudly_and_keeps_nothing(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    @boundary
    async def reply_inside(update: Update, context: Context) -> None:
        async with uow_for(update, context) as uow:
            await register_student(uow, bot.deps, 81_002)
            await say(update, context, "too early")

    update = _handle(bot, "reply inside", reply_inside)
    with caplog.at_level(logging.ERROR):
        await bot.app.process_update(update)
    assert any("unhandled error" in r.getMessage() for r in caplog.records)
    assert all(m.text != "too early" for m in bot.api.messages(STUDENT.id))
    async with bot.deps.uow(read_only=True) as uow:
        assert await find_student(uow, bot.deps, 81_002) is None
    assert not await _marked(bot, update)  # a redelivery gets another chance


async def test_an_unexpected_error_keeps_what_a_service_committed_and_drops_the_rest(
    bot: Bot,
) -> None:
    @boundary
    async def commit_then_fail(update: Update, context: Context) -> None:
        async with uow_for(update, context) as uow:
            await register_student(uow, bot.deps, 81_003)
            await uow.commit()
            await register_student(uow, bot.deps, 81_004)
            raise ZeroDivisionError  # a bug, after the first commit

    update = _handle(bot, "half done", commit_then_fail)
    await bot.app.process_update(update)
    async with bot.deps.uow(read_only=True) as uow:
        assert await find_student(uow, bot.deps, 81_003) is not None
        assert await find_student(uow, bot.deps, 81_004) is None
    assert await _marked(bot, update)  # what was committed is not done twice
    assert bot.chat(STUDENT).last_text.startswith("Sorry, something went wrong")


async def test_a_task_started_during_an_update_never_commits_that_update(bot: Bot) -> None:
    scopes_seen: list[object] = []

    @boundary
    async def spawn(update: Update, context: Context) -> None:
        async def elsewhere() -> None:
            scopes_seen.append(current_scope())

        async with uow_for(update, context) as uow:
            await register_student(uow, bot.deps, 81_005)
            await asyncio.create_task(elsewhere())
        raise ApplicationHandlerStop

    update = _handle(bot, "spawn", spawn)
    await bot.app.process_update(update)
    assert scopes_seen == [None]  # the other task sees no scope to commit or reply through


class WaitingLimiter(BaseRateLimiter[Any]):
    """A rate limiter that makes every call wait its turn, recording what was open then."""

    def __init__(self) -> None:
        self.open_while_waiting: list[bool] = []

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Any | None,
    ) -> Any:
        scope = current_scope()
        self.open_while_waiting.append(scope is not None and scope.uow.session.in_transaction())
        await asyncio.sleep(0)  # the wait for the rate limit
        return await callback(*args, **kwargs)


async def test_no_transaction_is_open_while_a_call_waits_for_the_rate_limit(bot: Bot) -> None:
    limiter = WaitingLimiter()
    settle_first = bot.app.bot.rate_limiter
    assert isinstance(settle_first, SettleFirst)
    settle_first._inner = limiter
    await submit_sheet(bot.chat(STUDENT))
    assert len(limiter.open_while_waiting) > 20
    assert not any(limiter.open_while_waiting)
