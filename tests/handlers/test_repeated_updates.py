"""The same update delivered twice has one effect and one reply, in one process or after a restart.

Telegram redelivers an update when its webhook call was not acknowledged in time, and after a
crash; a process that already handled it must recognise it from the database every time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import select
from telegram import Update
from telegram.ext import MessageHandler, filters

from bot import texts
from bot.handlers.common import Context, boundary, uow_for
from bot.services.intake.students import find_student, register_student
from bot.transport import LocalChat, LocalUser, to_update
from bot.vocabulary import Role
from storage.models import Base
from tests.handlers.conftest import (
    ADVISER,
    COORDINATOR,
    STUDENT,
    Bot,
    BotMaker,
    add_staff,
    submit_sheet,
)
from tests.handlers.test_bad_input import at_question
from tests.handlers.test_booking_journey import adviser_with_tuesdays

Payload = dict[str, Any]
# Given a running bot, reach the point just before the update and return who sends it and what.
Arrange = Callable[[Bot], Awaitable[tuple[LocalUser, Payload]]]


def _press_payload(bot: Bot, chat: LocalChat, label: str) -> Payload:
    message = bot.api.last_message_with_buttons(chat.user.id)
    assert message is not None
    data = next(d for row in message.buttons for text, d in row if text == label)
    return bot.factory.callback(chat.user, message, data or "")


async def a_sheet_answer(bot: Bot) -> tuple[LocalUser, Payload]:
    await at_question(bot.chat(STUDENT), 1)
    return STUDENT, bot.factory.text(STUDENT, "Sam Jones")


async def a_consent_press(bot: Bot) -> tuple[LocalUser, Payload]:
    student = bot.chat(STUDENT)
    await submit_sheet(student, consent=False)
    await student.send("/consent")
    await student.press("Change: Contact organisations outside the University")
    return STUDENT, _press_payload(bot, student, "Yes")


async def an_invite(bot: Bot) -> tuple[LocalUser, Payload]:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    return COORDINATOR, bot.factory.command(COORDINATOR, "/invite", args="adviser")


async def a_day_off(bot: Bot) -> tuple[LocalUser, Payload]:
    await add_staff(bot, ADVISER, Role.ADVISER)
    await bot.chat(ADVISER).send("/availability add Tue 10:00-12:30")
    return ADVISER, bot.factory.command(ADVISER, "/availability", args="off 1/12/2026")


async def a_booking_confirm(bot: Bot) -> tuple[LocalUser, Payload]:
    await adviser_with_tuesdays(bot)
    student = bot.chat(STUDENT)
    await submit_sheet(student)
    await student.press(texts.BTN_BOOK)
    await student.press("In person")
    await student.press("Tue 1 Dec")
    await student.press("10:00")
    return STUDENT, _press_payload(bot, student, texts.BTN_CONFIRM_BOOKING)


WRITING_UPDATES = pytest.mark.parametrize(
    "arrange",
    [a_sheet_answer, a_consent_press, an_invite, a_day_off, a_booking_confirm],
    ids=["sheet-answer", "consent-press", "invite", "day-off", "booking-confirm"],
)


async def everything_stored(bot: Bot) -> dict[str, list[str]]:
    """Every row of every table, so any second effect (a ledger entry, an audit row…) shows."""
    async with bot.deps.uow() as uow:
        return {
            table.name: sorted(repr(tuple(row)) for row in await uow.session.execute(select(table)))
            for table in Base.metadata.sorted_tables
        }


@WRITING_UPDATES
async def test_an_update_delivered_twice_to_one_process_has_one_effect_and_one_reply(
    bot: Bot, arrange: Arrange
) -> None:
    user, payload = await arrange(bot)
    chat = bot.chat(user)
    first = await chat.deliver(payload)
    assert first, "the first delivery is answered"
    stored = await everything_stored(bot)

    again = await chat.deliver(payload)

    assert again == []
    assert await everything_stored(bot) == stored


# The duplicate is recognised before any handler runs, so a redelivered press is not answered
# a second time either (Telegram would refuse that answer, and the autouse check fails on it).
@WRITING_UPDATES
async def test_an_update_redelivered_after_a_restart_has_one_effect_and_one_reply(
    make_bot: BotMaker, arrange: Arrange
) -> None:
    bot = await make_bot()
    user, payload = await arrange(bot)
    first = await bot.chat(user).deliver(payload)
    assert first, "the first delivery is answered"
    stored = await everything_stored(bot)

    restarted = await make_bot()
    again = await restarted.chat(user).deliver(payload)

    assert again == []
    assert await everything_stored(restarted) == stored


@WRITING_UPDATES
async def test_an_update_delivered_three_times_between_other_updates_is_handled_once(
    bot: Bot, arrange: Arrange
) -> None:
    user, payload = await arrange(bot)
    chat = bot.chat(user)
    await chat.deliver(payload)
    stored = await everything_stored(bot)
    for _ in range(2):
        await chat.send("/help")
        assert await chat.deliver(payload) == []
    after = await everything_stored(bot)
    # Each /help is marked processed too; nothing else changed.
    markers_before, markers_after = stored.pop("processed_updates"), after.pop("processed_updates")
    assert after == stored
    assert set(markers_before) < set(markers_after)
    assert len(markers_after) == len(markers_before) + 2


async def test_later_units_of_work_of_one_handler_run_go_ahead_but_a_rerun_does_not(
    bot: Bot,
) -> None:
    steps: list[int] = []

    @boundary
    async def two_steps(update: Update, context: Context) -> None:
        """A handler that commits twice for one update (a refusal audit, then a reply…)."""
        for step in (1, 2):
            async with uow_for(update, context) as uow:
                await register_student(uow, bot.deps, 70_000 + step)
                await uow.commit()
            steps.append(step)

    bot.app.add_handler(MessageHandler(filters.Regex("^two steps$"), two_steps), group=-10)
    update = to_update(bot.factory.text(STUDENT, "two steps"), bot.app)

    await bot.app.process_update(update)
    await bot.app.process_update(update)

    assert steps == [1, 2]
    async with bot.deps.uow() as uow:
        for step in (1, 2):
            assert await find_student(uow, bot.deps, 70_000 + step) is not None
