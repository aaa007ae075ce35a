"""In a group the bot says once a day that it works only in private chats, across restarts,
and keeps no group chat id in clear."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot import texts
from bot.clock import FixedClock
from bot.transport import to_update
from storage.models import GroupNotice
from tests.handlers.conftest import STUDENT, Bot, BotMaker

GROUP = -100123
OTHER_GROUP = -100456


async def in_group(bot: Bot, payload: dict[str, object]) -> None:
    await bot.app.process_update(to_update(payload, bot.app))


async def everything_in(bot: Bot, group: int) -> None:
    f = bot.factory
    await in_group(bot, f.added_to_group(STUDENT, group))
    for command in ("/start", "/help", "/book", "/removed", "/start@uss_intake_bot"):
        await in_group(bot, f.group_command(STUDENT, group, command))
    await in_group(bot, f.group_text(STUDENT, group, "my name is Sam Jones"))


async def test_in_a_group_the_bot_says_private_only_at_most_once_a_day(bot: Bot) -> None:
    await everything_in(bot, GROUP)
    await everything_in(bot, GROUP)
    assert [m.plain_text for m in bot.api.messages(GROUP)] == [texts.PRIVATE_ONLY]
    assert bot.api.messages(STUDENT.id) == []


async def test_the_group_notice_is_not_repeated_after_a_restart(make_bot: BotMaker) -> None:
    first = await make_bot()
    await in_group(first, first.factory.group_command(STUDENT, GROUP, "/start"))
    restarted = await make_bot()
    await everything_in(restarted, GROUP)
    assert [m.plain_text for m in restarted.api.messages(GROUP)] == [texts.PRIVATE_ONLY]


async def test_the_group_notice_comes_again_the_next_day_and_each_group_gets_its_own(
    bot: Bot, clock: FixedClock
) -> None:
    await everything_in(bot, GROUP)
    await everything_in(bot, OTHER_GROUP)
    clock.advance(timedelta(days=1))
    await everything_in(bot, GROUP)
    assert [m.plain_text for m in bot.api.messages(GROUP)] == [texts.PRIVATE_ONLY] * 2
    assert [m.plain_text for m in bot.api.messages(OTHER_GROUP)] == [texts.PRIVATE_ONLY]


async def test_a_group_is_remembered_only_by_a_keyed_blind_index(bot: Bot) -> None:
    await everything_in(bot, GROUP)
    async with bot.deps.uow() as uow:
        rows = (await uow.session.execute(select(GroupNotice))).scalars().all()
    assert [row.chat_index for row in rows] == [bot.deps.group_chat_key(GROUP)]
    assert str(abs(GROUP)) not in rows[0].chat_index
