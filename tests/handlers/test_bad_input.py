"""Bad input of every kind gets a clear, kind reply, loses nothing, and never crashes the bot."""

from __future__ import annotations

import itertools
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import texts
from bot.services.intake import intake
from bot.transport import LocalChat, LocalUser, check_html
from bot.vocabulary import SheetField
from tests.handlers.conftest import STUDENT, Bot, BotMaker, answer_current

WRONG_REPLY = "went wrong on our side"


async def at_question(chat: LocalChat, number: int) -> None:
    await chat.send("/start")
    await chat.press("Continue")
    while not chat.last_text.startswith(f"Question {number} of"):
        await answer_current(chat)


@pytest.mark.parametrize(
    ("question", "answer", "says"),
    [
        (1, "<script>alert(1)</script>", "letters, spaces, hyphens"),
        (2, "12345", "9 digits"),
        (3, "sam@gmail.com", "ending in city.ac.uk"),
        (3, "not an email", "doesn't look like an email"),
        (4, "ring me", "doesn't look like a phone number"),
        (8, "help", "at least 10 characters"),
        (8, "x" * 5000, "to 1000 characters or fewer (yours has 5000;"),
        (9, "next week sometime", "couldn't read that as a date"),
        (9, "01/01/2020", "already passed"),
        (6, "Year 9", "choose one of the buttons"),
    ],
)
async def test_a_refused_answer_says_why_and_asks_the_same_question_again(
    student: LocalChat, question: int, answer: str, says: str
) -> None:
    await at_question(student, question)
    replies = await student.send(answer)
    assert says in replies[0].plain_text
    assert replies[-1].plain_text.startswith(f"Question {question} of 12")


@pytest.mark.parametrize("kind", ["sticker", "photo", "voice", "document", "location", "contact"])
async def test_non_text_messages_get_please_type_and_the_question_again(
    bot: Bot, student: LocalChat, kind: str
) -> None:
    await at_question(student, 2)
    replies = await student.deliver(getattr(bot.factory, kind)(STUDENT))
    assert "Please type your answer" in replies[0].plain_text
    assert replies[-1].plain_text.startswith("Question 2 of 12")


async def test_a_forwarded_message_is_not_taken_as_an_answer(bot: Bot, student: LocalChat) -> None:
    await at_question(student, 1)
    replies = await student.deliver(bot.factory.text(STUDENT, "Sam Jones", forwarded=True))
    assert "forwarded" in replies[0].plain_text
    assert replies[-1].plain_text.startswith("Question 1 of 12")


async def test_a_sticker_at_a_button_question_asks_for_a_button(
    bot: Bot, student: LocalChat
) -> None:
    await at_question(student, 6)
    replies = await student.deliver(bot.factory.sticker(STUDENT))
    assert "choose one of the buttons" in replies[0].plain_text
    assert replies[-1].buttons


async def test_an_edited_message_is_explained_and_changes_nothing(
    bot: Bot, student: LocalChat
) -> None:
    await at_question(student, 2)
    replies = await student.deliver(bot.factory.text(STUDENT, "Someone Else", edited=True))
    assert replies[0].plain_text == texts.EDITED_MESSAGE
    async with bot.deps.uow() as uow:
        view = await intake.current(uow, bot.deps, STUDENT.id)
    assert view.answers[SheetField.FULL_NAME] == "Sam Jones"


@pytest.mark.parametrize(
    "data",
    [
        "zz",
        "a:year:7:extra",
        "a:nonsense:1",
        "a:year:x",
        "cs:school:2",
        "da:not-an-id",
        "",
        "ü" * 30,
    ],
)
async def test_forged_button_data_is_refused_politely_and_changes_nothing(
    bot: Bot, student: LocalChat, data: str
) -> None:
    await at_question(student, 6)
    message = bot.api.last_message_with_buttons(STUDENT.id)
    assert message is not None
    replies = await student.deliver(bot.factory.callback(STUDENT, message, data))
    assert "expired" in replies[0].plain_text
    async with bot.deps.uow() as uow:
        view = await intake.current(uow, bot.deps, STUDENT.id)
    assert view.step.value == "year"


async def test_a_button_from_an_earlier_question_has_expired(bot: Bot, student: LocalChat) -> None:
    await at_question(student, 6)
    year_keyboard = bot.api.last_message_with_buttons(STUDENT.id)
    await student.press("Year 2")
    assert year_keyboard is not None
    replies = await student.deliver(bot.factory.callback(STUDENT, year_keyboard, "a:year:0"))
    assert "expired" in replies[0].plain_text
    async with bot.deps.uow() as uow:
        view = await intake.current(uow, bot.deps, STUDENT.id)
    assert view.answers[SheetField.YEAR] == "2"


async def test_someone_elses_button_acts_only_on_their_own_state(
    bot: Bot, student: LocalChat
) -> None:
    await at_question(student, 6)
    message = bot.api.last_message_with_buttons(STUDENT.id)
    assert message is not None
    stranger = LocalUser(9999, "Mallory")
    await bot.app.process_update(
        __import__("telegram").Update.de_json(
            bot.factory.callback(stranger, message, "a:year:0"), bot.app.bot
        )
    )
    async with bot.deps.uow() as uow:
        view = await intake.current(uow, bot.deps, STUDENT.id)
    assert view.step.value == "year"


async def test_an_update_redelivered_after_a_restart_has_no_second_effect(
    make_bot: BotMaker,
) -> None:
    first = await make_bot()
    student = first.chat(STUDENT)
    await at_question(student, 1)
    payload = first.factory.text(STUDENT, "Sam Jones")
    await student.deliver(payload)
    assert student.last_text.startswith("Question 2 of 12")
    restarted = await make_bot()  # Telegram sends it again to the new process
    bot = restarted
    replies = await restarted.chat(STUDENT).deliver(payload)
    assert replies == []
    async with bot.deps.uow() as uow:
        view = await intake.current(uow, bot.deps, STUDENT.id)
    assert view.step.value == "student_number"


async def test_an_unexpected_error_gets_a_kind_reply_and_logs_no_personal_data(
    bot: Bot, student: LocalChat, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    await at_question(student, 1)

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database on fire for Sam Jones")

    monkeypatch.setattr(intake, "receive_text", broken)
    with caplog.at_level(logging.DEBUG):
        replies = await student.send("Sam Jones")
    assert WRONG_REPLY in replies[-1].plain_text
    assert "E-" in replies[-1].plain_text
    assert "Sam Jones" not in caplog.text
    assert "RuntimeError" in caplog.text


def _update(bot: Bot, payload: dict[str, object]):  # type: ignore[no-untyped-def]
    from telegram import Update

    return Update.de_json(payload, bot.app.bot)


_user_ids = itertools.count(50_000)
awkward_text = st.one_of(
    st.text(max_size=300),
    st.text(alphabet="<>&\"'/*_`[]()~|#+-=.!{}", max_size=80),
    st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=5), st.integers(2000, 2500)),
    st.sampled_from(["<b>bold</b>", "&amp;", "</i>", "<a href='x'>", "\u202e\u200b", "🙂" * 3000]),
    # Exactly 10,000 characters of arbitrary text (hypothesis cannot draw that size directly).
    st.builds(lambda s: (s * 10_000)[:10_000], st.text(min_size=1, max_size=20)),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=awkward_text, step=st.integers(0, 15))
async def test_any_text_at_any_step_gets_a_valid_reply_and_never_an_error(
    bot: Bot, text: str, step: int
) -> None:
    chat = bot.chat(LocalUser(next(_user_ids), "Hypo"))
    await chat.send("/start")
    await chat.press("Continue")
    for _ in range(step):
        if chat.last_text.startswith("Question "):
            await answer_current(chat)
        elif chat.buttons():
            await chat.press(0)
    before = len(bot.api.calls)
    replies = await chat.send(text) if text.strip() else []
    failures = [c for c in bot.api.calls[before:] if not c.ok]
    assert failures == []
    for reply in replies:
        assert WRONG_REPLY not in reply.plain_text
        assert reply.text is not None
        check_html(reply.text)
        assert len(reply.plain_text) <= 4096
