"""Answers at their limits in letters outside the BMP (two UTF-16 units each) still reach people."""

from __future__ import annotations

import pytest

from bot import texts
from bot.services.intake.sheet import ACCESSIBILITY_MAX, COURSE_MAX, NAME_MAX
from bot.settings import Settings
from bot.transport import LocalChat
from tests.conftest import Database
from tests.handlers.conftest import ADVISER, GOOD_BUTTON, GOOD_TEXT, STUDENT, Bot
from tests.handlers.test_booking_journey import adviser_with_tuesdays, book_first_in_person, deliver

DESCRIPTION_MAX = 2500
GOTHIC = "𐍈"  # a letter (category Lo) outside the BMP: one character, two UTF-16 units


@pytest.fixture
def settings(database: Database) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database.url,
        timezone="Europe/London",
        email_domains=("city.ac.uk",),
        description_max_chars=DESCRIPTION_MAX,
    )


AT_THE_LIMIT = {
    **GOOD_TEXT,
    "Question 1 ": GOTHIC * NAME_MAX,
    "Question 5 ": GOTHIC * COURSE_MAX,
    "Question 8 ": GOTHIC * (DESCRIPTION_MAX - 3) + "😀🙂🎓",
    "Question 11 ": GOTHIC * (ACCESSIBILITY_MAX - 1) + "😀",
}


def refused(bot: Bot) -> list[str]:
    return [f"{c.method}: {c.error}" for c in bot.api.calls if not c.ok]


async def fill_at_the_limit(student: LocalChat) -> None:
    await student.send("/start")
    await student.press("Continue")
    while student.last_text.startswith("Question "):
        text = student.last_text
        typed = next((a for p, a in AT_THE_LIMIT.items() if text.startswith(p)), None)
        if typed is not None:
            await student.send(typed)
        else:
            await student.press(next(b for p, b in GOOD_BUTTON.items() if text.startswith(p)))


async def test_the_review_screen_of_answers_at_their_limits_arrives_in_parts(
    bot: Bot, student: LocalChat
) -> None:
    await fill_at_the_limit(student)

    review = student.replies
    assert refused(bot) == []
    assert len(review) > 1
    assert review[0].plain_text.startswith("Please check your answers")
    assert GOTHIC * DESCRIPTION_MAX not in "".join(m.plain_text for m in review)
    assert (GOTHIC * (DESCRIPTION_MAX - 3) + "😀🙂🎓") in "".join(m.plain_text for m in review)
    assert review[-1].buttons and not any(m.buttons for m in review[:-1])


async def test_continue_where_i_left_off_shows_the_long_review_again(
    bot: Bot, student: LocalChat
) -> None:
    await fill_at_the_limit(student)
    await student.send("/start")

    await student.press(texts.BTN_RESUME)

    assert refused(bot) == []
    assert student.replies[0].plain_text.startswith("Please check your answers")
    await student.press("Everything is correct")
    assert student.last_text.startswith("Last step: your consent")


async def test_mysheet_and_the_advisers_summary_arrive_with_answers_at_their_limits(
    bot: Bot, student: LocalChat
) -> None:
    await adviser_with_tuesdays(bot)
    await fill_at_the_limit(student)
    await student.press("Everything is correct")
    while student.last_text.startswith(("Consent ", "Last step")):
        await student.press("Yes")
    await book_first_in_person(student)

    await student.send("/mysheet")
    await deliver(bot)

    assert refused(bot) == []
    mysheet = "".join(m.plain_text for m in student.replies)
    assert (GOTHIC * (ACCESSIBILITY_MAX - 1) + "😀") in mysheet
    summary = bot.api.messages(ADVISER.id)
    assert len(summary) > 1
    assert summary[0].plain_text.startswith("CONFIDENTIAL: USS intake summary")
    every_letter = NAME_MAX + COURSE_MAX + (DESCRIPTION_MAX - 3) + (ACCESSIBILITY_MAX - 1)
    assert "".join(m.plain_text for m in summary).count(GOTHIC) == every_letter
    assert all(m.chat_id == ADVISER.id for m in summary) and STUDENT.id != ADVISER.id
