"""No call the bot makes is one Telegram refuses: stale presses edit nothing that is already
gone, and a press is answered once even when its handler is refused part-way.

(Every handler test also fails on any refused call: see `no_call_is_refused` in conftest.)
"""

from __future__ import annotations

import pytest

from bot import texts
from bot.services.errors import NotAuthorised
from bot.services.staff import staff
from bot.transport import LocalChat
from bot.vocabulary import Role
from tests.handlers.conftest import ADVISER, COORDINATOR, STUDENT, Bot, add_staff
from tests.handlers.test_bad_input import at_question


async def test_a_second_press_on_a_keyboard_already_taken_off_edits_nothing(
    bot: Bot, student: LocalChat
) -> None:
    await at_question(student, 3)
    await student.send("/start")
    offer = bot.api.last_message_with_buttons(STUDENT.id)
    assert offer is not None
    await student.press("Start over")
    assert not offer.buttons
    before = len(bot.api.calls)
    await student.deliver(bot.factory.callback(STUDENT, offer, "so"))  # a double tap
    later = bot.api.calls[before:]
    edits = [c for c in later if c.method.startswith("edit")]
    assert all(int(c.params["message_id"]) != offer.message_id for c in edits)
    assert [c.method for c in later].count("answerCallbackQuery") == 1
    assert bot.api.refused == []


async def test_a_press_refused_inside_its_handler_is_answered_once(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    await add_staff(bot, ADVISER, Role.ADVISER)
    coordinator = bot.chat(COORDINATOR)
    await coordinator.send("/staff")
    await coordinator.press("Deactivate Alex Adviser")

    async def refused(*args: object, **kwargs: object) -> None:
        raise NotAuthorised((Role.COORDINATOR,))  # e.g. demoted between two presses

    monkeypatch.setattr(staff, "deactivate", refused)
    before = len(bot.api.calls)
    await coordinator.press("Yes, deactivate")
    answers = [c for c in bot.api.calls[before:] if c.method == "answerCallbackQuery"]
    assert [c.ok for c in answers] == [True]
    assert coordinator.last_text == texts.NOT_AUTHORISED
    assert bot.api.refused == []
