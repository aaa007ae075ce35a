"""A long text Telegram's apps send as several messages is judged as one answer, never in halves."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from bot.clock import FixedClock
from bot.jobs import judge_held_texts
from bot.services.intake import intake
from bot.services.split_texts import WINDOW
from bot.transport import LocalChat
from bot.transport.updates import app_parts
from bot.vocabulary import SheetField
from tests.handlers.conftest import GOOD_BUTTON, GOOD_TEXT, STUDENT, Bot, BotMaker
from tests.handlers.test_telegram_limits import DESCRIPTION_MAX, GOTHIC
from tests.handlers.test_telegram_limits import settings as settings  # descriptions of 2,500


def words(length: int) -> str:
    """Ordinary prose of exactly `length` characters."""
    text = " ".join(f"word{i}" for i in range(length))
    return text[:length].rstrip() + "x" * (length - len(text[:length].rstrip()))


async def at_the_description(student: LocalChat) -> None:
    await student.send("/start")
    await student.press("Continue")
    while not student.last_text.startswith("Question 8 "):
        text = student.last_text
        typed = next((a for p, a in GOOD_TEXT.items() if text.startswith(p)), None)
        if typed is not None:
            await student.send(typed)
        else:
            await student.press(next(b for p, b in GOOD_BUTTON.items() if text.startswith(p)))


async def saved_description(bot: Bot) -> str | None:
    async with bot.deps.uow() as uow:
        view = await intake.current(uow, bot.deps, STUDENT.id)
    return view.answers.get(SheetField.DESCRIPTION)


async def job(bot: Bot) -> None:
    context: Any = SimpleNamespace(bot_data=bot.app.bot_data, bot=bot.app.bot)
    await judge_held_texts(context)


@pytest.mark.parametrize(("length", "messages"), [(5000, 2), (9000, 3)])
async def test_a_description_sent_in_parts_is_refused_whole_with_its_real_length(
    bot: Bot, student: LocalChat, length: int, messages: int
) -> None:
    await at_the_description(student)
    text = words(length)
    assert len(app_parts(text)) == messages

    replies = await student.send_as_an_app_would(text)

    said = [m.plain_text for m in replies]
    assert len(said) == 2, said  # one refusal for the whole text, and the question again
    assert f"yours has {length};" in said[0]
    assert said[1].startswith("Question 8 ")
    assert await saved_description(bot) is None


async def test_a_long_description_of_two_unit_letters_sent_in_parts_is_saved_whole(
    bot: Bot, student: LocalChat
) -> None:
    await at_the_description(student)
    text = GOTHIC * DESCRIPTION_MAX  # 5,000 units: two messages, cut inside the "word"
    assert len(app_parts(text)) == 2

    replies = await student.send_as_an_app_would(text)

    assert [m.plain_text[:12] for m in replies] == ["Question 9 o"]
    assert await saved_description(bot) == text


async def test_the_parts_are_joined_after_a_restart_between_them(
    make_bot: BotMaker, clock: FixedClock
) -> None:
    first = await make_bot()
    student = first.chat(STUDENT)
    await at_the_description(student)
    head, tail = app_parts(words(5000))
    await student.send(head)
    assert student.replies == []  # held: nothing said yet

    again = await make_bot()  # the process restarted between the two parts
    resumed = again.chat(student.user)
    clock.advance(timedelta(seconds=1))
    replies = await resumed.send(tail)

    assert "yours has 5000;" in replies[0].plain_text
    assert await saved_description(again) is None


async def test_a_long_text_nothing_follows_is_judged_alone_when_its_window_ends(
    bot: Bot, student: LocalChat, clock: FixedClock
) -> None:
    await at_the_description(student)
    text = GOTHIC * 2000  # 4,000 units: it may be a first part, so it waits
    await student.send(text)
    assert student.replies == []
    await job(bot)
    assert student.api.messages(student.user.id)[-1].plain_text.startswith("Question 8 ")

    clock.advance(WINDOW + timedelta(seconds=1))
    await job(bot)

    assert student.last_text.startswith("Question 9 ")
    assert await saved_description(bot) == text


async def test_a_long_fragment_nothing_follows_is_refused_alone_and_never_saved(
    bot: Bot, student: LocalChat, clock: FixedClock
) -> None:
    await at_the_description(student)
    head, _tail = app_parts(words(5000))
    await student.send(head)

    clock.advance(WINDOW + timedelta(seconds=1))
    await job(bot)

    said = [m.plain_text for m in student.api.messages(student.user.id)[-2:]]
    assert f"yours has {len(head)};" in said[0]
    assert said[1].startswith("Question 8 ")
    assert await saved_description(bot) is None


async def test_a_text_after_the_window_is_a_new_answer_and_the_held_one_is_judged_first(
    bot: Bot, student: LocalChat, clock: FixedClock
) -> None:
    await at_the_description(student)
    head, _tail = app_parts(words(5000))
    await student.send(head)
    clock.advance(WINDOW + timedelta(seconds=1))

    replies = await student.send("My placement attendance was marked wrongly.")

    said = [m.plain_text for m in replies]
    assert f"yours has {len(head)};" in said[0]
    assert said[-1].startswith("Question 9 ")
    assert await saved_description(bot) == "My placement attendance was marked wrongly."
