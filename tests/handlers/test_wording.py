"""Wording people stumbled on: invites, /help, Security's onboarding, the review buttons."""

from __future__ import annotations

from bot import texts
from bot.app import STUDENT_COMMANDS
from bot.transport import LocalUser, utf16_length
from bot.vocabulary import Role
from tests.handlers.conftest import COORDINATOR, STUDENT, Bot, add_staff, fill_to_review

GUARD = LocalUser(5006, "Gus", "Guard")


async def test_the_review_buttons_are_short_enough_for_two_to_a_row_on_a_phone(bot: Bot) -> None:
    student = bot.chat(STUDENT)
    await fill_to_review(student)
    rows = student.last.buttons
    change_rows = rows[:-1]
    labels = [label for row in change_rows for label, _ in row]
    assert len(labels) == 12
    assert len(set(labels)) == 12
    assert all(len(row) <= 2 for row in change_rows)
    assert max(utf16_length(label) for label in labels) <= texts.CHANGE_BUTTON_MAX == 20


async def test_an_invite_for_security_reads_as_a_person_not_a_department(bot: Bot) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    coordinator = bot.chat(COORDINATOR)
    await coordinator.send("/invite security")
    assert coordinator.last_text.startswith("Invite for a new member of University Security.")
    await coordinator.send("/invite adviser")
    assert coordinator.last_text.startswith("Invite for a new adviser.")


async def test_help_and_the_command_menu_say_appointments_can_be_moved_too(bot: Bot) -> None:
    student = bot.chat(STUDENT)
    await student.send("/help")
    assert "/appointments: your appointments, to move or cancel one" in student.last_text
    menu = {c.command: c.description for c in STUDENT_COMMANDS}
    assert "move or cancel" in menu["appointments"]


async def test_securitys_onboarding_promises_no_staff_commands(bot: Bot) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    coordinator = bot.chat(COORDINATOR)
    await coordinator.send("/invite security")
    payload = coordinator.last_text.split("start=", 1)[1]
    guard = bot.chat(GUARD)
    await guard.send(f"/start {payload}")
    caption = guard.last.plain_text
    assert guard.last.document is not None
    assert "Staff commands" not in caption
    assert "notices you receive here are confidential" in caption
    await guard.press(texts.BTN_ACK_POLICY)
    assert guard.last_text == texts.SECURITY_ONLY
