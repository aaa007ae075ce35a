"""Who may do what: every command and every kind of button, for every kind of person.

The expected outcome of each cell is written below. A command registered or a button kind
added without a row fails the test, so nothing new reaches users unexamined. Commands are
sent with the subject's case reference as their argument where they take one (the others
with none, so nothing is changed by the sweep); buttons are pressed with well-formed forged
data, as anyone could type it into a client.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

import pytest
from sqlalchemy import select
from telegram.ext import CommandHandler

from bot import texts
from bot.callbacks import Action
from bot.handlers.gates import STAFF_SUBCOMMANDS
from bot.services.staff import staff
from bot.services.staff.policy import bundled_policy
from bot.transport import LocalChat, LocalUser, SentMessage
from bot.vocabulary import Role
from storage.models import Student
from tests.handlers.conftest import (
    ADVISER,
    COORDINATOR,
    SECURITY,
    STUDENT,
    Bot,
    add_staff,
    case_reference,
    submit_sheet,
)
from tests.handlers.test_booking_journey import adviser_with_tuesdays, book_first_in_person
from tests.handlers.test_gates import forged


class Outcome(Enum):
    REFUSED = "R"  # the kind refusal, and nothing of what was asked
    POLICY = "P"  # the policy to acknowledge first
    SECURITY_ONLY = "X"  # Security's one line
    EXPIRED = "E"  # "that button has expired" (the service found nothing of theirs)
    SERVED = "S"  # the command's or button's own reply
    REASON = "G"  # asked for a reason first (break-glass)
    QUIET = "Q"  # the press is answered and its keyboard goes; no message
    LOCKED = "L"  # "your session is locked: /unlock", and nothing of what was asked
    SET_UP = "T"  # the second factor's set-up (a QR code and its key), nothing of what was asked


# The columns, in the order of each row's letters.
PEOPLE = (
    "stranger",
    "student",
    "subject",
    "adviser",
    "other adviser",
    "unacknowledged",
    "deactivated",
    "coordinator",
    "security",
    "locked adviser",
    "locked coordinator",
    "not set up",
)
OTHER_ADVISER = LocalUser(2002, "Blair", "Other")
UNACKNOWLEDGED = LocalUser(2003, "Nia", "Newcomer")
DEACTIVATED = LocalUser(2004, "Fay", "Former")
STRANGER = LocalUser(6001, "Stan", "Stranger")
LOCKED_ADVISER = LocalUser(2005, "Lou", "Locked")
LOCKED_COORDINATOR = LocalUser(3002, "Kit", "Keyless")
NOT_SET_UP = LocalUser(2006, "Una", "Unset")
OTHER_STUDENT = LocalUser(1002, "Robin", "Other")

# Commands: letters for stranger, student, subject, adviser (the case's), another adviser, an
# adviser who has not acknowledged the policy, a deactivated adviser, the coordinator, Security,
# then an adviser and a coordinator whose sessions are locked (second factor set up, not
# unlocked), and an adviser who acknowledged the policy but has no second factor yet.
# A deactivated adviser is treated as a student; Security may start, ask for help and read
# the policy, and nothing else. Whatever reads or acts on a student, or decides who may, needs
# an unlocked session; weekly times only a second factor set up.
COMMANDS: dict[str, str] = {
    # the student's own journey: anyone in a private chat gets an answer about themselves
    "start": "S S S S S S S S S S S T",
    "help": "S S S S S S S S X S S S",
    "privacy": "S S S S S S S S X S S S",
    "cancel": "S S S S S S S S X S S S",
    "mysheet": "S S S S S S S S X S S S",
    "book": "S S S S S S S S X S S S",
    "appointments": "S S S S S S S S X S S S",
    "consent": "S S S S S S S S X S S S",
    "mydata": "S S S S S S S S X S S S",
    # staff
    "policy": "R R R P P P R P P P P P",
    "invite": "R R R R R R R S X R L R",
    "staff": "R R R R R R R S X R L R",
    "reassign": "R R R R R R R S X R L R",
    "availability": "R R R S S P R S X S S T",
    "today": "R R R S S P R S X L L T",
    "week": "R R R S S P R S X L L T",
    "removed": "R R R S S P R S X L L T",
    # case records: the case's adviser and the coordinator read it; another adviser is asked why
    "case": "R R R S G P R S X L L T",
    "find": "R R R S S P R S X L L T",
    "note": "R R R S G P R S X L L T",
    "correct": "R R R S G P R S X L L T",
    "attach": "R R R S G P R S X L L T",
    "consentfor": "R R R S G P R S X L L T",
    "disclose": "R R R S G P R S X L L T",
    "disclosures": "R R R R R R R S X R L R",
    # the second factor: /unlock (bare: how to use it, or the set-up), /lock
    "unlock": "R R R S S P R S X S S T",
    "lock": "R R R S S P R S X S S S",
    # subject requests: recorded against a case, and the coordinator's register
    "request": "R R R S S P R S X L L T",
    "requests": "R R R R R R R S X R L R",
}
# Parts of a command with a gate of their own (bot/handlers/gates.py, STAFF_SUBCOMMANDS): any
# staff member reads the policy, only the coordinator publishes it or reads the signatures;
# Security gets its one line.
SUBCOMMANDS: dict[str, str] = {
    "policy publish": "R R R R R R R S X R S R",
    "policy signatures": "R R R R R R R S X R S R",
}
# The argument each command is sent with in the sweep ({case}: the subject's case reference);
# the others are sent bare, which shows their usage and changes nothing.
ARGUMENTS: dict[str, str] = {
    "case": "{case}",
    "find": "210012345",
    "note": "{case}",
    "correct": "{case} 1",
    "attach": "{case}",
    "consentfor": "{case}",
    "disclose": "{case}",
}

# Buttons: the same columns. A student's own sheet, consent and booking buttons answer anyone
# who writes to the bot as a student about their own sheet (a stranger is a student to be);
# staff have no sheet, so to them such a button has expired.
BUTTONS: dict[Action, str] = {
    Action.PRIVACY_CONTINUE: "S S S E E E S E X E E E",
    Action.PRIVACY_NOT_NOW: "S S S E E E S E X E E E",
    Action.RESUME: "E S E E E E E E X E E E",
    Action.START_OVER: "S S S E E E S E X E E E",
    Action.START_OVER_CONFIRMED: "S S S E E E S E X E E E",
    Action.CHOOSE: "E E E E E E E E X E E E",
    Action.SKIP: "E E E E E E E E X E E E",
    Action.EDIT: "E E E E E E E E X E E E",
    Action.REVIEW_OK: "E E E E E E E E X E E E",
    Action.SHEET_CONSENT: "E E E E E E E E X E E E",
    Action.CONSENT_OPEN: "E E S E E E E E X E E E",
    Action.CONSENT_SET: "E E S E E E E E X E E E",
    Action.CONSENT_CLOSE: "S S S E E E S E X E E E",
    Action.DISCARD_CONFIRMED: "E S E E E E E E X E E E",
    Action.DISCARD_KEEP: "E S E E E E E E X E E E",
    Action.POLICY_ACK: "R R R S S T R S S S S T",
    Action.DEACTIVATE_ASK: "R R R R R R R S X R L R",
    Action.DEACTIVATE_CONFIRMED: "R R R R R R R S X R L R",
    Action.CLOSE: "Q Q Q Q Q Q Q Q X Q Q Q",
    Action.BOOK_START: "S S S E E E S E X E E E",
    Action.BOOK_MODE: "E E S E E E E E X E E E",
    Action.BOOK_DAY: "E E S E E E E E X E E E",
    Action.BOOK_TIME: "E E S E E E E E X E E E",
    Action.BOOK_CONFIRM: "E E S E E E E E X E E E",
    Action.APPOINTMENT_CANCEL_ASK: "E E E E E E E E X E E E",
    Action.APPOINTMENT_CANCEL_CONFIRMED: "E E E E E E E E X E E E",
    Action.MOVE_START: "E E E E E E E E X E E E",
    Action.CALENDAR: "E E E E E E E E X E E E",
    Action.WINDOW_REMOVE: "R R R E E P R E X E E T",
    Action.CANCEL_TIME_OFF_BOOKINGS: "R R R E E P R E X L L T",
    Action.MARK_ATTENDED: "R R R E E P R E X L L T",
    Action.MARK_NO_SHOW: "R R R E E P R E X L L T",
    Action.SERVICE_CANCEL_ASK: "R R R E E P R E X L L T",
    Action.SERVICE_CANCEL: "R R R E E P R E X L L T",
    Action.MANAGE_PICK: "R R R R R R R S X R S R",
    Action.MANAGE_SET: "R R R R R R R E X R E R",
    Action.REASSIGN_PICK: "R R R R R R R E X R L R",
    Action.REASSIGN_TO: "R R R R R R R E X R L R",
    Action.REASSIGN_CONFIRMED: "R R R R R R R E X R L R",
    Action.CASE_PART: "R R R S S P R S X L L T",
    Action.CASE_CLEAR: "R R R Q Q P R Q X Q Q T",
    Action.CASE_DOCUMENT: "R R R S S P R S X L L T",
    Action.CASE_GLASS: "R R R S S P R S X L L T",
    Action.CASE_CLOSE_ASK: "R R R S S P R S X L L T",
    Action.CASE_CLOSE: "R R R S S P R S X L L T",
    Action.CASE_REOPEN: "R R R S S P R S X L L T",
    Action.CASE_ASSIGN_ASK: "R R R R R R R S X R L R",
    Action.CASE_ASSIGN: "R R R R R R R S X R L R",
    Action.NOTE_DONE: "R R R E E P R E X L L T",
    Action.NOTE_KIND: "R R R E E P R E X L L T",
    Action.NOTE_SAVE: "R R R E E P R E X L L T",
    Action.NOTE_DISCARD: "R R R E E P R E X L L T",
    Action.CONSENT_FOR_RECORD: "R R R E E P R E X L L T",
    Action.CONSENT_FOR_ASK: "R R R E E P R E X L L T",
    Action.CONSENT_FOR_SCOPE: "R R R E E P R E X L L T",
    Action.CONSENT_FOR_DECISION: "R R R E E P R E X L L T",
    Action.CONSENT_FOR_EMAIL: "R R R E E P R E X L L T",
    Action.CONSENT_FOR_VERBAL: "R R R E E P R E X L L T",
    Action.CONSENT_FOR_NO_LIMIT: "R R R E E P R E X L L T",
    Action.CONSENT_FOR_SAVE: "R R R E E P R E X L L T",
    Action.DISCLOSE_RECIPIENT: "R R R E E P R E X L L T",
    Action.DISCLOSE_BASIS: "R R R E E P R E X L L T",
    Action.DISCLOSE_DUTY: "R R R E E P R E X L L T",
    Action.DISCLOSE_WITHIN_LIMIT: "R R R E E P R E X L L T",
    Action.DISCLOSE_SAVE: "R R R E E P R E X L L T",
    Action.DISCLOSE_ASK: "R R R S S P R S X L L T",
    # From the case summary: the forged case does not exist, so staff who may act are told so.
    Action.CASE_NOTE: "R R R S S P R S X L L T",
    Action.CASE_ATTACH: "R R R S S P R S X L L T",
    Action.CASE_CONSENT: "R R R S S P R S X L L T",
    Action.CASE_DISCLOSE: "R R R S S P R S X L L T",
    # The student's answer to an adviser's request: only the student it was sent to.
    Action.CONSENT_REQUEST_ANSWER: "E E E E E E E E X E E E",
    # The coordinator resets someone's second factor (the forged id is nobody's: "I can't
    # find that staff member").
    Action.SECOND_FACTOR_RESET_ASK: "R R R R R R R S X R L R",
    Action.SECOND_FACTOR_RESET: "R R R R R R R S X R L R",
    # A student's own requests from /mydata: anyone writing as a student (a stranger is told
    # nothing is held); staff have no data of their own here, so the button has expired.
    Action.MY_DATA_COPY: "S S S E E E S E X E E E",
    Action.MY_DATA_DELETE_ASK: "S S S E E E S E X E E E",
    Action.MY_DATA_DELETE_CONFIRMED: "S S S E E E S E X E E E",
    # Publishing a version: the coordinator's, and only while their draft is at that step.
    Action.POLICY_USE_VERSION: "R R R R R R R E X R E R",
    Action.POLICY_PUBLISH_CONFIRMED: "R R R R R R R E X R E R",
    Action.POLICY_PUBLISH_DISCARD: "R R R R R R R E X R E R",
    # A page of the signature register replaces the message pressed (no new message).
    Action.POLICY_SIGNATURES_PAGE: "R R R R R R R Q X R Q R",
}


def expected(row: str) -> dict[str, Outcome]:
    letters = row.split()
    assert len(letters) == len(PEOPLE), row
    return {who: Outcome(letter) for who, letter in zip(PEOPLE, letters, strict=True)}


def outcome_of(replies: list[SentMessage], reason_asked: Callable[[str], bool]) -> Outcome | str:
    """What a person got back, or the first words of anything unexpected (an error)."""
    shown = [m.plain_text for m in replies]
    if shown == [texts.NOT_AUTHORISED]:
        return Outcome.REFUSED
    if shown == [texts.SESSION_LOCKED]:
        return Outcome.LOCKED
    if any(m.photo is not None for m in replies) and texts.SECOND_FACTOR_FIRST_CODE in shown:
        return Outcome.SET_UP
    if shown == [texts.SECURITY_ONLY]:
        return Outcome.SECURITY_ONLY
    policy = bundled_policy().filename
    if len(replies) == 1 and replies[0].document is not None and replies[0].document[0] == policy:
        return Outcome.POLICY
    if not replies:
        return Outcome.QUIET
    first = shown[0]
    if "Something went wrong" in " ".join(shown):
        return f"an error: {first[:60]!r}"
    if first.startswith(texts.EXPIRED_PLAIN):
        return Outcome.EXPIRED
    if reason_asked(first):
        return Outcome.REASON
    return Outcome.SERVED


async def cast_of_people(bot: Bot) -> tuple[dict[str, LocalChat], str]:
    """Everyone in the matrix, and the subject's case reference."""
    await adviser_with_tuesdays(bot)
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    await add_staff(bot, OTHER_ADVISER, Role.ADVISER)
    await add_staff(bot, UNACKNOWLEDGED, Role.ADVISER, acknowledged=False)
    await add_staff(bot, DEACTIVATED, Role.ADVISER)
    await add_staff(bot, SECURITY, Role.SECURITY)
    await add_staff(bot, LOCKED_ADVISER, Role.ADVISER, unlocked=False)
    await add_staff(bot, LOCKED_COORDINATOR, Role.COORDINATOR, unlocked=False)
    await add_staff(bot, NOT_SET_UP, Role.ADVISER, second_factor=False)
    async with bot.deps.uow() as uow:
        member = await staff.find_staff(uow, bot.deps, DEACTIVATED.id)
        assert member is not None
        member.active = False
        await uow.commit()
    subject = bot.chat(STUDENT)
    await submit_sheet(subject)
    await book_first_in_person(subject)
    other_student = bot.chat(OTHER_STUDENT)
    await other_student.send("/start")
    await other_student.press("Continue")  # mid-sheet
    async with bot.deps.uow() as uow:
        student_id = await uow.session.scalar(
            select(Student.id).where(Student.telegram_index == bot.deps.telegram_key(STUDENT.id))
        )
    assert student_id is not None
    chats = {
        "stranger": bot.chat(STRANGER),
        "student": other_student,
        "subject": subject,
        "adviser": bot.chat(ADVISER),
        "other adviser": bot.chat(OTHER_ADVISER),
        "unacknowledged": bot.chat(UNACKNOWLEDGED),
        "deactivated": bot.chat(DEACTIVATED),
        "coordinator": bot.chat(COORDINATOR),
        "security": bot.chat(SECURITY),
        "locked adviser": bot.chat(LOCKED_ADVISER),
        "locked coordinator": bot.chat(LOCKED_COORDINATOR),
        "not set up": bot.chat(NOT_SET_UP),
    }
    return chats, await case_reference(bot, student_id)


def registered_commands(bot: Bot) -> set[str]:
    return {
        command
        for group in bot.app.handlers.values()
        for handler in group
        if isinstance(handler, CommandHandler)
        for command in handler.commands
    }


def asks_a_reason(text: str) -> bool:
    return "is not assigned to you. Why do you need to open it?" in text


async def test_every_command_and_button_has_a_row(bot: Bot) -> None:
    assert registered_commands(bot) == set(COMMANDS)
    assert set(BUTTONS) == set(Action)
    assert set(COMMANDS) >= set(ARGUMENTS)
    assert set(SUBCOMMANDS) == {f"{c} {w}" for c, w in STAFF_SUBCOMMANDS}


@pytest.mark.parametrize("command", list(COMMANDS))
async def test_each_person_gets_what_the_matrix_says_for_the_command(
    bot: Bot, command: str
) -> None:
    chats, case = await cast_of_people(bot)
    sent = f"/{command} {ARGUMENTS.get(command, '').format(case=case)}".strip()
    wrong: list[str] = []
    for who, want in expected(COMMANDS[command]).items():
        replies = await chats[who].send(sent)
        got = outcome_of(replies, asks_a_reason)
        if got != want:
            wrong.append(f"{who}: expected {want.name}, got {got} {shown(replies)}")
    assert wrong == [], "\n".join(wrong)


@pytest.mark.parametrize("command", list(SUBCOMMANDS))
async def test_each_person_gets_what_the_matrix_says_for_the_part_of_a_command(
    bot: Bot, command: str
) -> None:
    chats, _ = await cast_of_people(bot)
    wrong: list[str] = []
    for who, want in expected(SUBCOMMANDS[command]).items():
        replies = await chats[who].send(f"/{command}")
        got = outcome_of(replies, asks_a_reason)
        if got != want:
            wrong.append(f"{who}: expected {want.name}, got {got} {shown(replies)}")
    assert wrong == [], "\n".join(wrong)


@pytest.mark.parametrize("action", list(BUTTONS), ids=lambda a: a.name)
async def test_each_person_gets_what_the_matrix_says_for_the_button(
    bot: Bot, action: Action
) -> None:
    chats, _ = await cast_of_people(bot)
    wrong: list[str] = []
    for who, want in expected(BUTTONS[action]).items():
        chat = chats[who]
        await chat.send("/help")
        replies = await chat.deliver(bot.factory.callback(chat.user, chat.last, forged(action)))
        got = outcome_of(replies, asks_a_reason)
        if got != want:
            wrong.append(f"{who}: expected {want.name}, got {got} {shown(replies)}")
    assert wrong == [], "\n".join(wrong)


def shown(replies: list[SentMessage]) -> list[str]:
    return [m.plain_text[:70] for m in replies]
