"""The guards every update passes, in order, before any journey sees it.

Security may only read notices; button data this bot could not have made is refused; a staff
command or a staff button is refused to anyone without the role (or who has not acknowledged
the policy) before its handler reads a single argument. Services check the role again.
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
from bot.services.errors import NotAuthorised, PolicyNotAcknowledged
from bot.services.staff import staff
from bot.vocabulary import ADVISING_ROLES, STAFF_ROLES, Role
from storage.uow import DuplicateUpdate


@dataclass(frozen=True)
class Gate:
    """Who may use a command or press a button: active staff in `roles`."""

    roles: tuple[Role, ...]
    policy: bool = True  # and only once they have acknowledged the current policy


_COORDINATOR = Gate((Role.COORDINATOR,))
_ADVISING = Gate(ADVISING_ROLES)
_ANY_STAFF = Gate(STAFF_ROLES, policy=False)

# Every command for staff, with who may use it.
STAFF_COMMANDS: dict[str, Gate] = {
    "policy": _ANY_STAFF,
    "invite": _COORDINATOR,
    "staff": _COORDINATOR,
    "reassign": _COORDINATOR,
    "availability": _ADVISING,
    "today": _ADVISING,
    "week": _ADVISING,
    "removed": _ADVISING,
    # -- case records: reading a case, break-glass, close, reopen, assign
    "case": _ADVISING,
    "find": _ADVISING,
    # -- case records: notes and documents
    "note": _ADVISING,
    "correct": _ADVISING,
    "attach": _ADVISING,
    # -- case records: consent recorded by staff, consent requests, disclosures
    "consentfor": _ADVISING,
    "disclose": _ADVISING,
    "disclosures": _COORDINATOR,
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
    Action.DEACTIVATE_ASK: _COORDINATOR,
    Action.DEACTIVATE_CONFIRMED: _COORDINATOR,
    Action.WINDOW_REMOVE: _ADVISING,
    Action.CANCEL_TIME_OFF_BOOKINGS: _ADVISING,
    Action.MARK_ATTENDED: _ADVISING,
    Action.MARK_NO_SHOW: _ADVISING,
    Action.SERVICE_CANCEL_ASK: _ADVISING,
    Action.SERVICE_CANCEL: _ADVISING,
    Action.MANAGE_PICK: _COORDINATOR,
    Action.MANAGE_SET: _COORDINATOR,
    Action.REASSIGN_PICK: _COORDINATOR,
    Action.REASSIGN_TO: _COORDINATOR,
    Action.REASSIGN_CONFIRMED: _COORDINATOR,
    # -- case records: reading a case, break-glass, close, reopen, assign
    Action.CASE_PART: _ADVISING,
    Action.CASE_CLEAR: _ADVISING,
    Action.CASE_DOCUMENT: _ADVISING,
    Action.CASE_GLASS: _ADVISING,
    Action.CASE_CLOSE_ASK: _ADVISING,
    Action.CASE_CLOSE: _ADVISING,
    Action.CASE_REOPEN: _ADVISING,
    Action.CASE_ASSIGN_ASK: _COORDINATOR,
    Action.CASE_ASSIGN: _COORDINATOR,
    # -- case records: notes and documents
    Action.NOTE_DONE: _ADVISING,
    Action.NOTE_KIND: _ADVISING,
    Action.NOTE_SAVE: _ADVISING,
    Action.NOTE_DISCARD: _ADVISING,
    # -- case records: consent recorded by staff, consent requests, disclosures
    Action.CONSENT_FOR_RECORD: _ADVISING,
    Action.CONSENT_FOR_ASK: _ADVISING,
    Action.CONSENT_FOR_SCOPE: _ADVISING,
    Action.CONSENT_FOR_DECISION: _ADVISING,
    Action.CONSENT_FOR_EMAIL: _ADVISING,
    Action.CONSENT_FOR_VERBAL: _ADVISING,
    Action.CONSENT_FOR_NO_LIMIT: _ADVISING,
    Action.CONSENT_FOR_SAVE: _ADVISING,
    # The student answers an adviser's request; the service checks it is theirs, unanswered.
    Action.CONSENT_REQUEST_ANSWER: None,
    Action.DISCLOSE_RECIPIENT: _ADVISING,
    Action.DISCLOSE_BASIS: _ADVISING,
    Action.DISCLOSE_DUTY: _ADVISING,
    Action.DISCLOSE_WITHIN_LIMIT: _ADVISING,
    Action.DISCLOSE_SAVE: _ADVISING,
    Action.DISCLOSE_ASK: _ADVISING,
    # -- case records: acting from the case summary (the same journeys as the commands)
    Action.CASE_NOTE: _ADVISING,
    Action.CASE_ATTACH: _ADVISING,
    Action.CASE_CONSENT: _ADVISING,
    Action.CASE_DISCLOSE: _ADVISING,
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
    try:
        async with uow_for(update, context) as uow:
            await staff.authorise(
                uow, deps_of(context), user_id(update), gate.roles, command=name, policy=gate.policy
            )
    except NotAuthorised:
        await refuse(update, context)
        raise ApplicationHandlerStop from None
    except PolicyNotAcknowledged as needed:
        await answer_press(update, context)
        await send_policy(update, context, needed.policy)
        raise ApplicationHandlerStop from None
    except DuplicateUpdate:
        raise ApplicationHandlerStop from None
