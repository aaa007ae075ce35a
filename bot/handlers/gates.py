"""The guards every update passes, in order, before any journey sees it.

Security may only read notices; button data this bot could not have made is refused; a staff
command or a staff button is refused to anyone without the role (or who has not acknowledged
the policy, set up their second factor or, for anything about a student, unlocked their
session) before its handler reads a single argument. Services check the role again, and
those that read students' information the session too.
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import MessageEntity, Update
from telegram.ext import ApplicationHandlerStop

from bot import texts
from bot.callbacks import Action, InvalidCallback, decode
from bot.handlers.common import (
    Context,
    answer_press,
    deps_of,
    expired,
    refuse,
    role_for,
    say,
    send_policy,
    uow_for,
    user_id,
)
from bot.handlers.staff import second_factor
from bot.services.errors import (
    NotAuthorised,
    PolicyNotAcknowledged,
    SecondFactorLockedOut,
    SecondFactorNeeded,
    SessionLocked,
)
from bot.services.staff import second_factor as second_factors
from bot.services.staff import staff
from bot.vocabulary import ADVISING_ROLES, STAFF_ROLES, Role
from storage.uow import DuplicateUpdate


@dataclass(frozen=True)
class Gate:
    """Who may use a command or press a button: active staff in `roles`."""

    roles: tuple[Role, ...]
    policy: bool = True  # and only once they have acknowledged the current policy
    # Advisers and the coordinator: and only once their second factor is set up (the set-up
    # is sent instead)...
    factor: bool = True
    # ...and in a session unlocked with it: whatever reads or acts on a student, or changes
    # who may (Security has no second factor: it can read nothing).
    unlocked: bool = False


_ANY_STAFF = Gate(STAFF_ROLES, policy=False, factor=False)
_SESSION = Gate(ADVISING_ROLES, factor=False)  # /unlock, /lock: they set the factor up
_COORDINATOR = Gate((Role.COORDINATOR,))
_ADVISING = Gate(ADVISING_ROLES)
# Reading or acting on a student's information, or deciding who may: an unlocked session.
_COORDINATOR_UNLOCKED = Gate((Role.COORDINATOR,), unlocked=True)
_STUDENTS = Gate(ADVISING_ROLES, unlocked=True)

# Every command for staff, with who may use it.
STAFF_COMMANDS: dict[str, Gate] = {
    "policy": _ANY_STAFF,
    "unlock": _SESSION,
    "lock": _SESSION,
    "invite": _COORDINATOR_UNLOCKED,
    "staff": _COORDINATOR_UNLOCKED,
    "reassign": _COORDINATOR_UNLOCKED,
    # Weekly times and days off show no student: open once the factor is set up.
    "availability": _ADVISING,
    "today": _STUDENTS,
    "week": _STUDENTS,
    "removed": _STUDENTS,
    # -- case records: reading a case, break-glass, close, reopen, assign
    "case": _STUDENTS,
    "find": _STUDENTS,
    # -- case records: notes and documents
    "note": _STUDENTS,
    "correct": _STUDENTS,
    "attach": _STUDENTS,
    # -- case records: consent recorded by staff, consent requests, disclosures
    "consentfor": _STUDENTS,
    "disclose": _STUDENTS,
    "disclosures": _COORDINATOR_UNLOCKED,
    # -- the data lifecycle: subject requests (they name a case, and the register lists them)
    "request": _STUDENTS,
    "requests": _COORDINATOR_UNLOCKED,
}
# Parts of a command with a gate of their own, by the command and its first word: anyone on
# the staff may read the policy, only the coordinator publishes it or reads the signatures.
STAFF_SUBCOMMANDS: dict[tuple[str, str], Gate] = {
    ("policy", "publish"): _COORDINATOR,
    ("policy", "signatures"): _COORDINATOR,
}

# Every kind of button, with who may press it. None: anyone in a private chat (the student's
# own journey, or a plain "Done"), whose services check the person's own state on each press.
PRESS_GATES: dict[Action, Gate | None] = {
    Action.PRIVACY_CONTINUE: None,
    Action.PRIVACY_NOT_NOW: None,
    Action.RESUME: None,
    Action.START_OVER: None,
    Action.START_OVER_CONFIRMED: None,
    Action.CHOOSE: None,
    Action.SKIP: None,
    Action.EDIT: None,
    Action.REVIEW_OK: None,
    Action.SHEET_CONSENT: None,
    Action.CONSENT_OPEN: None,
    Action.CONSENT_SET: None,
    Action.CONSENT_CLOSE: None,
    Action.DISCARD_CONFIRMED: None,
    Action.DISCARD_KEEP: None,
    Action.CLOSE: None,
    Action.BOOK_START: None,
    Action.BOOK_MODE: None,
    Action.BOOK_DAY: None,
    Action.BOOK_TIME: None,
    Action.BOOK_CONFIRM: None,
    Action.APPOINTMENT_CANCEL_ASK: None,
    Action.APPOINTMENT_CANCEL_CONFIRMED: None,
    Action.MOVE_START: None,
    Action.CALENDAR: None,
    Action.POLICY_ACK: _ANY_STAFF,
    Action.DEACTIVATE_ASK: _COORDINATOR_UNLOCKED,
    Action.DEACTIVATE_CONFIRMED: _COORDINATOR_UNLOCKED,
    Action.WINDOW_REMOVE: _ADVISING,  # a weekly time: no student in it
    Action.CANCEL_TIME_OFF_BOOKINGS: _STUDENTS,
    Action.MARK_ATTENDED: _STUDENTS,
    Action.MARK_NO_SHOW: _STUDENTS,
    Action.SERVICE_CANCEL_ASK: _STUDENTS,
    Action.SERVICE_CANCEL: _STUDENTS,
    Action.MANAGE_PICK: _COORDINATOR,  # whose weekly times: no student in them
    Action.MANAGE_SET: _COORDINATOR,
    Action.REASSIGN_PICK: _COORDINATOR_UNLOCKED,
    Action.REASSIGN_TO: _COORDINATOR_UNLOCKED,
    Action.REASSIGN_CONFIRMED: _COORDINATOR_UNLOCKED,
    # -- case records: reading a case, break-glass, close, reopen, assign
    Action.CASE_PART: _STUDENTS,
    Action.CASE_CLEAR: _ADVISING,  # deleting a case screen from the chat: always allowed
    Action.CASE_DOCUMENT: _STUDENTS,
    Action.CASE_GLASS: _STUDENTS,
    Action.CASE_CLOSE_ASK: _STUDENTS,
    Action.CASE_CLOSE: _STUDENTS,
    Action.CASE_REOPEN: _STUDENTS,
    Action.CASE_ASSIGN_ASK: _COORDINATOR_UNLOCKED,
    Action.CASE_ASSIGN: _COORDINATOR_UNLOCKED,
    # -- case records: notes and documents
    Action.NOTE_DONE: _STUDENTS,
    Action.NOTE_KIND: _STUDENTS,
    Action.NOTE_SAVE: _STUDENTS,
    Action.NOTE_DISCARD: _STUDENTS,
    # -- case records: consent recorded by staff, consent requests, disclosures
    Action.CONSENT_FOR_RECORD: _STUDENTS,
    Action.CONSENT_FOR_ASK: _STUDENTS,
    Action.CONSENT_FOR_SCOPE: _STUDENTS,
    Action.CONSENT_FOR_DECISION: _STUDENTS,
    Action.CONSENT_FOR_EMAIL: _STUDENTS,
    Action.CONSENT_FOR_VERBAL: _STUDENTS,
    Action.CONSENT_FOR_NO_LIMIT: _STUDENTS,
    Action.CONSENT_FOR_SAVE: _STUDENTS,
    # The student answers an adviser's request; the service checks it is theirs, unanswered.
    Action.CONSENT_REQUEST_ANSWER: None,
    Action.DISCLOSE_RECIPIENT: _STUDENTS,
    Action.DISCLOSE_BASIS: _STUDENTS,
    Action.DISCLOSE_DUTY: _STUDENTS,
    Action.DISCLOSE_WITHIN_LIMIT: _STUDENTS,
    Action.DISCLOSE_SAVE: _STUDENTS,
    Action.DISCLOSE_ASK: _STUDENTS,
    # -- case records: acting from the case summary (the same journeys as the commands)
    Action.CASE_NOTE: _STUDENTS,
    Action.CASE_ATTACH: _STUDENTS,
    Action.CASE_CONSENT: _STUDENTS,
    Action.CASE_DISCLOSE: _STUDENTS,
    # -- staff protection: the coordinator resets someone's second factor
    Action.SECOND_FACTOR_RESET_ASK: _COORDINATOR_UNLOCKED,
    Action.SECOND_FACTOR_RESET: _COORDINATOR_UNLOCKED,
    # -- the data lifecycle: a student's own requests (the service finds the student)
    Action.MY_DATA_COPY: None,
    Action.MY_DATA_DELETE_ASK: None,
    Action.MY_DATA_DELETE_CONFIRMED: None,
    # -- the policy: publishing a version, the signature register
    Action.POLICY_USE_VERSION: _COORDINATOR,
    Action.POLICY_PUBLISH_CONFIRMED: _COORDINATOR,
    Action.POLICY_PUBLISH_DISCARD: _COORDINATOR,
    Action.POLICY_SIGNATURES_PAGE: _COORDINATOR,
}

# Buttons anyone may press that belong to no journey (a plain "Done").
_ANYONE_MAY_PRESS = frozenset({Action.CLOSE})


def _students_own(update: Update) -> bool:
    """A press of a button from a student's own journey (ungated, not for anyone)."""
    query = update.callback_query
    if query is None:
        return False
    action = decode(query.data).action
    return PRESS_GATES[action] is None and action not in _ANYONE_MAY_PRESS


# What a Security member may still do: onboarding and the policy, nothing else.
_SECURITY_COMMANDS = frozenset({"start", "help", "policy"})


def command_of(update: Update, bot_username: str | None) -> str | None:
    """The command a new message gives this bot (`/cmd` or `/cmd@thisbot`), lower-cased."""
    message = update.message
    if message is None or not message.text:
        return None
    entity = next(iter(message.entities), None)
    if entity is None or entity.type != MessageEntity.BOT_COMMAND or entity.offset != 0:
        return None
    name, _, addressee = message.text[1 : entity.length].partition("@")
    if addressee and addressee.lower() != (bot_username or "").lower():
        return None
    return name.lower()


def first_word(update: Update) -> str:
    """The first word after a command, lower-cased ("" if none)."""
    message = update.message
    words = (message.text or "").split(None, 2) if message is not None else []
    return words[1].lower() if len(words) > 1 else ""


def _part_gate(command: str, update: Update) -> tuple[Gate, str] | None:
    """The gate of the command's part the update names (`/policy publish`), if it has one."""
    word = first_word(update)
    gate = STAFF_SUBCOMMANDS.get((command, word))
    return (gate, f"{command} {word}") if gate is not None else None


async def security_gate(update: Update, context: Context) -> None:
    """Security receives notices and can use nothing else: any other update gets one line."""
    if update.effective_user is None or update.effective_chat is None:
        return
    if await role_for(update, context) is not Role.SECURITY:
        return
    query = update.callback_query
    if query is not None:
        try:
            if decode(query.data).action is Action.POLICY_ACK:
                return
        except InvalidCallback:
            pass
    else:
        command = command_of(update, context.bot.username)
        if command in _SECURITY_COMMANDS and _part_gate(command or "", update) is None:
            return
    await answer_press(update, context)
    await say(update, context, texts.SECURITY_ONLY)
    raise ApplicationHandlerStop


async def malformed_presses(update: Update, context: Context) -> None:
    """Refuse button data this bot could not have made, before any handler sees it.

    python-telegram-bot lets a press with empty data match every patterned handler, so the
    data is decoded here, once, for all of them.
    """
    query = update.callback_query
    if query is None:
        return
    try:
        decode(query.data)
    except InvalidCallback:
        await expired(update, context)
        raise ApplicationHandlerStop from None


def gate_for(update: Update, bot_username: str | None) -> tuple[Gate, str] | None:
    """The gate this update must pass, and the name its refusal is audited under."""
    query = update.callback_query
    if query is not None:
        action = decode(query.data).action  # malformed data never gets this far
        gate = PRESS_GATES[action]
        return (gate, f"press:{action.value}") if gate is not None else None
    command = command_of(update, bot_username)
    if command is not None and command in STAFF_COMMANDS:
        return _part_gate(command, update) or (STAFF_COMMANDS[command], command)
    return None


async def staff_gate(update: Update, context: Context) -> None:
    """Staff commands and buttons: refuse anyone without the role before anything is shown."""
    if update.effective_user is None or update.effective_chat is None:
        return
    found = gate_for(update, context.bot.username)
    if found is None:
        if _students_own(update) and await role_for(update, context) in STAFF_ROLES:
            # A student's own sheet, consent or booking button, pressed by staff (it can only
            # be forged or very old): staff have no sheet to answer, so it has expired.
            await expired(update, context)
            raise ApplicationHandlerStop
        return
    gate, name = found
    deps = deps_of(context)
    try:
        async with uow_for(update, context) as uow:
            member = await staff.authorise(
                uow, deps, user_id(update), gate.roles, command=name, policy=gate.policy
            )
            if gate.factor and Role(member.role) in ADVISING_ROLES:
                await second_factors.require(uow, deps, member, unlocked=gate.unlocked)
    except NotAuthorised:
        await refuse(update, context)
        raise ApplicationHandlerStop from None
    except PolicyNotAcknowledged as needed:
        await answer_press(update, context)
        await send_policy(update, context, needed.policy)
        raise ApplicationHandlerStop from None
    except SecondFactorNeeded:
        await second_factor.offer_setup(update, context)
        raise ApplicationHandlerStop from None
    except SessionLocked:
        await answer_press(update, context)
        await say(update, context, texts.SESSION_LOCKED)
        raise ApplicationHandlerStop from None
    except SecondFactorLockedOut:
        await answer_press(update, context)
        await say(update, context, texts.SECOND_FACTOR_LOCKED_OUT)
        raise ApplicationHandlerStop from None
    except DuplicateUpdate:
        raise ApplicationHandlerStop from None
