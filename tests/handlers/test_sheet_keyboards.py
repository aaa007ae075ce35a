"""Buttons in the sheet: stale ones say where the student is now, and only the current
question keeps live buttons."""

from __future__ import annotations

from bot import texts
from bot.transport import LocalChat, LocalUser
from tests.handlers.conftest import STUDENT, Bot, submit_sheet
from tests.handlers.test_bad_input import at_question


def live_keyboards(bot: Bot, chat: LocalChat) -> list[str]:
    """The first line of every message in the chat that still has buttons."""
    return [m.plain_text.split("\n")[0] for m in bot.api.messages(chat.user.id) if m.buttons]


async def test_a_stale_button_mid_sheet_says_it_expired_and_shows_the_current_question(
    bot: Bot, student: LocalChat
) -> None:
    await at_question(student, 6)
    year_question = bot.api.last_message_with_buttons(STUDENT.id)
    assert year_question is not None
    await student.press("Year 2")
    replies = await student.deliver(bot.factory.callback(STUDENT, year_question, "a:year:0"))
    assert [m.plain_text.split("\n")[0] for m in replies] == [
        texts.EXPIRED,
        "Question 7 of 12",
    ]
    assert replies[-1].buttons
    assert all("/start" not in m.plain_text for m in replies)


async def test_a_forged_button_mid_sheet_says_it_expired_and_shows_the_current_question(
    bot: Bot, student: LocalChat
) -> None:
    await at_question(student, 3)
    message = student.last
    for data in ("zz", "a:year:7:extra", "rv", "cs:school:1"):
        replies = await student.deliver(bot.factory.callback(STUDENT, message, data))
        assert replies[0].plain_text == texts.EXPIRED
        assert replies[-1].plain_text.startswith("Question 3 of 12")
        assert all("/start" not in m.plain_text for m in replies)


async def test_a_stale_button_after_the_sheet_was_sent_points_to_help(
    bot: Bot, student: LocalChat
) -> None:
    await submit_sheet(student)
    replies = await student.deliver(bot.factory.callback(STUDENT, student.last, "a:year:0"))
    assert [m.plain_text for m in replies] == [texts.EXPIRED_HELP]


async def test_a_stale_button_before_any_sheet_still_says_how_to_begin(bot: Bot) -> None:
    newcomer = bot.chat(LocalUser(7007, "Nell"))
    await newcomer.send("/help")
    replies = await newcomer.deliver(bot.factory.callback(newcomer.user, newcomer.last, "rv"))
    assert [m.plain_text for m in replies] == [texts.EXPIRED_PLAIN + " " + texts.NOT_STARTED]


async def test_a_question_asked_again_keeps_buttons_only_on_the_newest_asking(
    bot: Bot, student: LocalChat
) -> None:
    await at_question(student, 6)
    await student.deliver(bot.factory.sticker(STUDENT))
    await student.send("Year 9")
    await student.send("/start")
    await student.press("Continue where I left off")
    assert live_keyboards(bot, student) == ["Question 6 of 12"]
    await student.press("Year 2")
    assert live_keyboards(bot, student) == ["Question 7 of 12"]


async def test_a_typed_answer_takes_the_buttons_off_the_question(
    bot: Bot, student: LocalChat
) -> None:
    await at_question(student, 4)  # the phone number: optional, so it has a Skip button
    assert live_keyboards(bot, student) == ["Question 4 of 12"]
    await student.send("07700 900123")
    assert live_keyboards(bot, student) == []
    assert student.last_text.startswith("Question 5 of 12")


async def test_a_typed_choice_is_echoed_with_what_was_recorded(
    bot: Bot, student: LocalChat
) -> None:
    await at_question(student, 6)
    replies = await student.send("year 3")
    assert replies[0].plain_text == "Year of study: Year 3"
    assert replies[-1].plain_text.startswith("Question 7 of 12")
    assert live_keyboards(bot, student) == ["Question 7 of 12"]
