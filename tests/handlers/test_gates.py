"""The gates: every staff button and command is refused to the wrong person before anything is
shown, and Security gets its one line whatever it sends or presses."""

from __future__ import annotations

from datetime import date

import pytest
from telegram.ext import CommandHandler

from bot import texts
from bot.callbacks import _SHAPES, Action, Press, encode
from bot.handlers.gates import PRESS_GATES, STAFF_COMMANDS, STAFF_SUBCOMMANDS, Gate
from bot.handlers.staff import staff as staff_help
from bot.services.staff import staff
from bot.services.staff.policy import bundled_policy
from bot.transport import LocalChat, LocalUser, SentMessage
from bot.vocabulary import (
    AuditAction,
    BreakGlassReason,
    CasePart,
    ConsentScope,
    DisclosureBasis,
    LegalDuty,
    NoteKind,
    RecipientKind,
    Role,
    ServiceCancelReason,
    SheetField,
)
from storage.audit import entries as audit_entries
from tests.handlers.conftest import ADVISER, COORDINATOR, SECURITY, STUDENT, Bot, add_staff

STRANGER = LocalUser(6001, "Stan", "Stranger")
FORMER = LocalUser(6002, "Fay", "Former")
NEWCOMER = LocalUser(6003, "Nia", "Newcomer")
STUDENT_COMMANDS = {"start", "help", "privacy", "cancel", "mysheet", "book", "appointments"}
STUDENT_COMMANDS |= {"consent", "mydata"}

_SAMPLE: dict[str, object] = {
    "field": SheetField.YEAR,
    "index": 0,
    "scope": next(iter(ConsentScope)),
    "granted": True,
    "staff_id": "0" * 32,
    "mode": "any",
    "day": date(2026, 12, 1),
    "minute": 29_000_000,
    "appointment_id": "a" * 32,
    "window_id": "b" * 32,
    "ref": "abcdef12",
    "reason": ServiceCancelReason.OTHER.value,
    "case": "K7PM3Q",
    "part": CasePart.SUMMARY,
    "page": 0,
    "note_kind": NoteKind.OTHER,
    "glass": BreakGlassReason.COVERING,
    "recipient": RecipientKind.SCHOOL,
    "basis": DisclosureBasis.CONSENT,
    "duty": LegalDuty.OTHER,
    "document_id": "c" * 32,
    "request_id": "d" * 32,
}


def forged(action: Action) -> str:
    """Well-formed button data for `action`, as anyone could type it into a client."""
    values = {name: _SAMPLE[name] for name in _SHAPES.get(action, ())}
    return encode(Press(action, **values))  # type: ignore[arg-type]


async def refusals(bot: Bot) -> int:
    async with bot.deps.uow() as uow:
        found = audit_entries(uow.session, bot.deps.cipher, action=AuditAction.ACCESS_REFUSED.value)
        return len([entry async for entry in found])


async def people(bot: Bot) -> dict[str, tuple[LocalChat, Role, bool]]:
    """Everyone who might press a staff button: each with the role it has and its policy state."""
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    await add_staff(bot, ADVISER, Role.ADVISER)
    await add_staff(bot, NEWCOMER, Role.ADVISER, acknowledged=False)
    await add_staff(bot, SECURITY, Role.SECURITY)
    await add_staff(bot, FORMER, Role.ADVISER)
    async with bot.deps.uow() as uow:
        member = await staff.find_staff(uow, bot.deps, FORMER.id)
        assert member is not None
        member.active = False
        await uow.commit()
    student = bot.chat(STUDENT)
    await student.send("/start")
    await student.press("Continue")  # mid-sheet
    return {
        "stranger": (bot.chat(STRANGER), Role.STUDENT, False),
        "student": (student, Role.STUDENT, False),
        "deactivated adviser": (bot.chat(FORMER), Role.STUDENT, False),
        "adviser who has not acknowledged": (bot.chat(NEWCOMER), Role.ADVISER, False),
        "adviser": (bot.chat(ADVISER), Role.ADVISER, True),
        "security": (bot.chat(SECURITY), Role.SECURITY, True),
    }


def only_refusal(replies: list[SentMessage], expected: str) -> None:
    assert [m.plain_text for m in replies] == [expected]
    assert not replies[0].buttons


def only_policy(replies: list[SentMessage]) -> None:
    assert len(replies) == 1
    assert replies[0].document is not None
    assert replies[0].document[0] == bundled_policy().filename
    assert [b[0] for row in replies[0].buttons for b in row] == [texts.BTN_ACK_POLICY]


def test_every_button_kind_has_a_gate() -> None:
    assert set(PRESS_GATES) == set(Action)


async def test_every_command_is_either_for_students_or_gated_for_staff(bot: Bot) -> None:
    registered = {
        command
        for group in bot.app.handlers.values()
        for handler in group
        if isinstance(handler, CommandHandler)
        for command in handler.commands
    }
    assert registered == STUDENT_COMMANDS | set(STAFF_COMMANDS)


@pytest.mark.parametrize("action", list(Action), ids=lambda a: a.name)
async def test_a_forged_press_shows_nothing_to_anyone_without_the_role(
    bot: Bot, action: Action
) -> None:
    gate: Gate | None = PRESS_GATES[action]
    for who, (chat, role, acknowledged) in (await people(bot)).items():
        await chat.send("/help")
        message = chat.last
        refused_before = await refusals(bot)
        if role is Role.SECURITY:
            if action is Action.POLICY_ACK:
                continue  # Security acknowledges the policy like all staff
            replies = await chat.deliver(bot.factory.callback(chat.user, message, forged(action)))
            only_refusal(replies, texts.SECURITY_ONLY)
            continue
        if gate is None:
            continue  # the student's own journey: the services check each press
        if role not in gate.roles:
            replies = await chat.deliver(bot.factory.callback(chat.user, message, forged(action)))
            only_refusal(replies, texts.NOT_AUTHORISED)
            assert await refusals(bot) == refused_before + 1, who
        elif gate.policy and not acknowledged:
            replies = await chat.deliver(bot.factory.callback(chat.user, message, forged(action)))
            only_policy(replies)


@pytest.mark.parametrize("command", sorted(STAFF_COMMANDS))
async def test_a_staff_command_is_refused_to_strangers_and_students_before_its_arguments(
    bot: Bot, command: str
) -> None:
    student = bot.chat(STUDENT)
    await student.send("/start")
    await student.press("Continue")
    stranger = bot.chat(STRANGER)
    for chat in (stranger, student):
        for args in ("", "ABCDEF12", "ABCDEF12 on", "on", "add Monday 10:00-12:00", "adviser"):
            replies = await chat.send(f"/{command} {args}".strip())
            only_refusal(replies, texts.NOT_AUTHORISED)
        replies = await chat.send(f"/{command}@{bot.app.bot.username} ABCDEF12 on")
        only_refusal(replies, texts.NOT_AUTHORISED)


async def test_removed_usage_is_shown_only_to_advising_staff(bot: Bot) -> None:
    await add_staff(bot, ADVISER, Role.ADVISER)
    adviser = bot.chat(ADVISER)
    await adviser.send("/removed")
    assert adviser.last_text == texts.REMOVED_USAGE
    stranger = bot.chat(STRANGER)
    for attempt in ("/removed", "/removed ABCDEF12", "/removed on"):
        replies = await stranger.send(attempt)
        only_refusal(replies, texts.NOT_AUTHORISED)


async def test_an_adviser_who_has_not_acknowledged_gets_the_policy_not_the_usage(
    bot: Bot,
) -> None:
    await add_staff(bot, NEWCOMER, Role.ADVISER, acknowledged=False)
    newcomer = bot.chat(NEWCOMER)
    only_policy(await newcomer.send("/removed"))


async def test_security_gets_its_one_line_whatever_it_sends_or_presses(bot: Bot) -> None:
    await add_staff(bot, SECURITY, Role.SECURITY)
    security = bot.chat(SECURITY)
    await security.send("/help")
    message = security.last
    factory = bot.factory
    attempts = {
        "text": factory.text(SECURITY, "hello"),
        "student command": factory.command(SECURITY, "/consent"),
        "staff command": factory.command(SECURITY, "/removed", args="ABCDEF12 on"),
        "unknown command": factory.command(SECURITY, "/frobnicate"),
        "start for another bot": factory.command(SECURITY, "/start@otherbot"),
        "policy for another bot": factory.command(SECURITY, "/policy@otherbot"),
        "publishing the policy": factory.command(SECURITY, "/policy", args="publish"),
        "the signatures": factory.command(SECURITY, "/policy", args="Signatures"),
        "edited policy command": factory.text(SECURITY, "/policy", edited=True),
        "edited text": factory.text(SECURITY, "hello again", edited=True),
        "forwarded text": factory.text(SECURITY, "hello", forwarded=True),
        "sticker": factory.sticker(SECURITY),
        "photo": factory.photo(SECURITY),
        "document": factory.document(SECURITY),
        "garbage press": factory.callback(SECURITY, message, "zz:1"),
        "empty press": factory.callback(SECURITY, message, ""),
        "student press": factory.callback(SECURITY, message, forged(Action.PRIVACY_CONTINUE)),
        "staff press": factory.callback(SECURITY, message, forged(Action.SERVICE_CANCEL_ASK)),
    }
    for what, payload in attempts.items():
        replies = await security.deliver(payload)
        assert [m.plain_text for m in replies] == [texts.SECURITY_ONLY], what


async def test_security_may_still_start_read_help_and_the_policy(bot: Bot) -> None:
    await add_staff(bot, SECURITY, Role.SECURITY)
    security = bot.chat(SECURITY)
    await security.send("/start")
    assert "registered as Security" in security.replies[0].plain_text
    await security.send(f"/policy@{bot.app.bot.username}")
    assert security.last.document is not None
    await security.send("/help")
    assert security.last_text == texts.SECURITY_ONLY


@pytest.mark.parametrize("role", [Role.ADVISER, Role.COORDINATOR])
def test_the_help_of_each_staff_role_names_every_command_it_may_use(role: Role) -> None:
    shown = staff_help.help_for(role)
    missing = [
        command
        for command, gate in STAFF_COMMANDS.items()
        if role in gate.roles and f"/{command}" not in shown
    ]
    missing += [
        f"{command} {word}"
        for (command, word), gate in STAFF_SUBCOMMANDS.items()
        if role in gate.roles and f"/{command} {word}" not in shown
    ]
    assert missing == []


@pytest.mark.parametrize(("command", "word"), sorted(STAFF_SUBCOMMANDS))
async def test_a_part_of_a_command_is_refused_to_staff_without_its_role(
    bot: Bot, command: str, word: str
) -> None:
    await add_staff(bot, ADVISER, Role.ADVISER)
    adviser = bot.chat(ADVISER)
    before = await refusals(bot)
    for typed in (f"/{command} {word}", f"/{command} {word.upper()} more words"):
        only_refusal(await adviser.send(typed), texts.NOT_AUTHORISED)
    assert await refusals(bot) == before + 2
