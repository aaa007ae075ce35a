"""Plumbing every handler shares: typed bot data, replies, the error boundary, the chat guard."""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeAlias

from telegram import Chat, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import Application, ApplicationHandlerStop, CallbackContext, ContextTypes, ExtBot

from bot import case_keyboards, case_texts, keyboards, texts
from bot.callbacks import InvalidCallback, Press, decode
from bot.handlers.scope import current_scope
from bot.message_parts import TEXT_LIMIT, utf16_length
from bot.screens import Screen, sheet_screen
from bot.services import groups
from bot.services.deps import Deps
from bot.services.errors import (
    BreakGlassNeeded,
    NoSheet,
    NotAuthorised,
    PolicyNotAcknowledged,
    SecondFactorLockedOut,
    SecondFactorNeeded,
    SessionLocked,
    StaleAction,
    UnknownCase,
)
from bot.services.intake import intake
from bot.services.intake.sheet_store import SheetView
from bot.services.staff import staff
from bot.services.staff.policy import PolicyDocument
from bot.vocabulary import Role
from storage.uow import DuplicateUpdate, UnitOfWork

log = logging.getLogger("bot.handlers")

MARKED_MEMORY = 10_000
ANSWER_LIMIT = 200  # characters Telegram allows in the little notice a press is answered with


class PressLedger:
    """What this process already did to presses and keyboards, so it never does it twice.

    Telegram refuses a second answer to one press ("query is too old") and an edit that
    changes nothing ("message is not modified"); both would otherwise happen when a handler
    settles a press and the error boundary then refuses it, or a keyboard is cleared twice.
    """

    def __init__(self) -> None:
        self._answered: set[str] = set()
        self._cleared: set[tuple[int, int]] = set()
        # The newest sheet question with live buttons, per chat: cleared when it is answered
        # or asked again. Memory is enough: after a restart an older keyboard stays, and a
        # press on it is answered as expired, with the student's current question.
        self.sheet_keyboard: dict[int, int] = {}

    def first_answer(self, query_id: str) -> bool:
        if query_id in self._answered:
            return False
        if len(self._answered) > MARKED_MEMORY:
            self._answered.clear()
        self._answered.add(query_id)
        return True

    def first_clear(self, chat_id: int, message_id: int) -> bool:
        key = (chat_id, message_id)
        if key in self._cleared:
            return False
        if len(self._cleared) > MARKED_MEMORY:
            self._cleared.clear()
        self._cleared.add(key)
        if self.sheet_keyboard.get(chat_id) == message_id:
            del self.sheet_keyboard[chat_id]
        return True


class BotData:
    """The application's shared, typed state: the wired services."""

    def __init__(self) -> None:
        self._deps: Deps | None = None
        self.presses = PressLedger()

    @property
    def deps(self) -> Deps:
        if self._deps is None:
            raise RuntimeError("services are not wired; build the app with build_application")
        return self._deps

    @deps.setter
    def deps(self, value: Deps) -> None:
        self._deps = value


Context: TypeAlias = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]
CONTEXT_TYPES = ContextTypes(bot_data=BotData)
App: TypeAlias = Application[Any, Context, dict[Any, Any], dict[Any, Any], BotData, Any]
Callback = Callable[[Update, Context], Coroutine[Any, Any, None]]


def deps_of(context: Context) -> Deps:
    return context.bot_data.deps


def uow_for(update: Update, context: Context) -> AbstractAsyncContextManager[UnitOfWork]:
    """The update's unit of work, for one block of a handler (see bot/handlers/scope.py).

    Outside an update's scope (a handler called on its own), a unit of work of its own, whose
    first commit marks the update processed.
    """
    scope = current_scope()
    if scope is not None:
        return scope.lend()
    return context.bot_data.deps.uow(update.update_id)


async def role_for(update: Update, context: Context) -> Role:
    """The sender's role, read once per update."""
    scope = current_scope()
    if scope is not None:
        return await scope.role()
    deps = deps_of(context)
    async with deps.uow() as uow:
        return await staff.role_of(uow, deps, user_id(update))


def user_id(update: Update) -> int:
    assert update.effective_user is not None
    return update.effective_user.id


async def say(
    update: Update,
    context: Context,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
) -> Message | None:
    """Send text to the chat the update came from, split cleanly if it is too long."""
    chat = update.effective_chat
    if chat is None:
        return None
    return await say_in(context.bot, chat.id, text, markup)


async def say_in(
    bot: ExtBot[None], chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None
) -> Message:
    """Send text to a chat in as many parts as Telegram needs; the keyboard goes on the last."""
    parts = texts.split_message(text)
    for part in parts[:-1]:
        await bot.send_message(chat_id, part)
    return await bot.send_message(chat_id, parts[-1], reply_markup=markup)


async def show(update: Update, context: Context, screen: Screen) -> Message | None:
    return await say(update, context, screen.text, screen.markup)


async def answer_press(update: Update, context: Context, text: str | None = None) -> None:
    """Answer the button press, once: Telegram refuses a second answer."""
    query = update.callback_query
    if query is None or not context.bot_data.presses.first_answer(query.id):
        return
    await _quietly(query.answer(text[:ANSWER_LIMIT] if text else None))


async def settle_press(update: Update, context: Context, note: str | None = None) -> None:
    """Answer the button press and take the keyboard off its message, leaving a short note."""
    query = update.callback_query
    if query is None:
        return
    await answer_press(update, context)
    message = query.message
    if not isinstance(message, Message) or message.reply_markup is None:
        return  # no keyboard left to take off: Telegram would refuse the edit
    if not context.bot_data.presses.first_clear(message.chat_id, message.message_id):
        return
    noted = f"{message.text}\n\n{note}" if message.text is not None else ""
    if note is not None and message.text_html is not None and fits(noted):
        await _quietly(message.edit_text(f"{message.text_html}\n\n<i>{note}</i>"))
    else:
        await _quietly(message.edit_reply_markup(None))


async def clear_keyboard(context: Context, chat_id: int, message_id: int) -> None:
    """Take the buttons off an earlier message, unless this process already did."""
    if context.bot_data.presses.first_clear(chat_id, message_id):
        await _quietly(
            context.bot.edit_message_reply_markup(chat_id, message_id, reply_markup=None)
        )


def fits(text: str) -> bool:
    return utf16_length(text) <= TEXT_LIMIT


async def _quietly(call: Awaitable[Any]) -> None:
    """Edits of old messages may fail (too old, already edited): that loses nothing."""
    try:
        await call
    except BadRequest as exc:
        log.debug("edit not applied: %s", type(exc).__name__)


async def send_policy(
    update: Update, context: Context, policy: PolicyDocument, role: Role | None = None
) -> None:
    """Send the policy as a document with the button that acknowledges it (that version)."""
    chat = update.effective_chat
    if chat is None:
        return
    await context.bot.send_document(
        chat.id,
        document=policy.text.encode("utf-8"),
        filename=policy.filename,
        caption=texts.policy_required(policy.version, role, policy.approved_on),
        reply_markup=keyboards.policy_ack(policy.short_digest),
    )


def press_of(update: Update) -> Press:
    query = update.callback_query
    return decode(query.data if query else None)


def boundary(handler: Callback) -> Callback:
    """Turn domain errors into kind replies; anything else reaches the error handler."""

    @functools.wraps(handler)
    async def wrapped(update: Update, context: Context) -> None:
        try:
            await handler(update, context)
        except DuplicateUpdate:
            log.info("update %s was already handled; skipped", update.update_id)
        except (StaleAction, InvalidCallback):
            await expired(update, context)
        except NotAuthorised:
            await refuse(update, context)
        except PolicyNotAcknowledged as needed:
            await answer_press(update, context)
            await send_policy(update, context, needed.policy)
        except NoSheet:
            if update.callback_query is not None:
                await expired(update, context)  # a press from a sheet that is no longer open
            else:
                await say(update, context, texts.NOT_STARTED)
        except UnknownCase:
            await answer_press(update, context)
            await say(update, context, texts.UNKNOWN_CASE)
        except BreakGlassNeeded as exc:
            await ask_break_glass(update, context, exc.reference)
        # The gate stops these first; a service refusing later (a session that ended while
        # a draft was open) is told the same way.
        except SessionLocked:
            await answer_press(update, context)
            await say(update, context, texts.SESSION_LOCKED)
        except SecondFactorNeeded:
            await answer_press(update, context)
            await say(update, context, texts.SECOND_FACTOR_NEEDED)
        except SecondFactorLockedOut:
            await answer_press(update, context)
            await say(update, context, texts.SECOND_FACTOR_LOCKED_OUT)

    return wrapped


async def ask_break_glass(update: Update, context: Context, reference: str) -> None:
    """The case is another adviser's: ask why, with a button for each kind of reason."""
    await answer_press(update, context)
    await say(
        update,
        context,
        case_texts.break_glass_question(reference),
        case_keyboards.break_glass(reference),
    )


async def refuse(update: Update, context: Context) -> None:
    """The kind refusal for someone without the role: nothing of what they asked for is shown."""
    await answer_press(update, context)
    await say(update, context, texts.NOT_AUTHORISED)


async def expired(update: Update, context: Context) -> None:
    """A stale, replayed or unknown button: say so, and show where this person is now."""
    deps = deps_of(context)
    standing = None
    if await role_for(update, context) is Role.STUDENT:
        async with uow_for(update, context) as uow:
            standing = await intake.welcome(uow, deps, user_id(update))
    await answer_press(update, context, texts.EXPIRED_PLAIN)
    if standing is None or standing.standing is intake.Standing.SUBMITTED:
        await say(update, context, texts.EXPIRED_HELP)
    elif standing.standing is intake.Standing.IN_PROGRESS and standing.view is not None:
        await say(update, context, texts.EXPIRED)
        await show_sheet(update, context, standing.view)
    else:
        await say(update, context, texts.EXPIRED_PLAIN + " " + texts.NOT_STARTED)


async def show_sheet(update: Update, context: Context, view: SheetView) -> None:
    """Show the student's current step; the buttons of the step shown before go."""
    chat = update.effective_chat
    if chat is None:
        return
    ledger = context.bot_data.presses
    earlier = ledger.sheet_keyboard.pop(chat.id, None)
    if earlier is not None:
        await clear_keyboard(context, chat.id, earlier)
    deps = deps_of(context)
    screen = sheet_screen(view, deps.rules, deps.settings.service_name)
    sent = await show(update, context, screen)
    if sent is not None and screen.markup is not None:
        ledger.sheet_keyboard[chat.id] = sent.message_id


async def private_chats_only(update: Update, context: Context) -> None:
    """Work only in private chats; in a group, say so at most once a day and stay silent."""
    chat = update.effective_chat
    if chat is None or chat.type == Chat.PRIVATE:
        return
    message = update.effective_message
    added = update.my_chat_member is not None and update.my_chat_member.new_chat_member.status in (
        "member",
        "administrator",
    )
    is_command = bool(message and message.text and message.text.startswith("/"))
    if update.callback_query is not None:
        await answer_press(update, context, texts.PRIVATE_ONLY)
    elif added or is_command:
        deps = deps_of(context)
        async with uow_for(update, context) as uow:
            due = await groups.first_notice_today(uow, deps, chat.id)
        if due:
            try:
                await context.bot.send_message(chat.id, texts.PRIVATE_ONLY)
            except TelegramError as exc:
                log.info("could not reply in a group: %s", type(exc).__name__)
    raise ApplicationHandlerStop


async def on_error(update: object, context: Context) -> None:
    """Log an opaque reference and the exception type only, reply kindly, and stop there.

    No later handler sees an update whose handling failed: a guard that failed must not let
    the handler behind it run.
    """
    reference = "E-" + secrets.token_hex(4)
    error = context.error
    update_id = update.update_id if isinstance(update, Update) else None
    log.error(
        "unhandled error %s (%s) in update %s",
        reference,
        type(error).__name__ if error else "unknown",
        update_id,
    )
    if not isinstance(update, Update):
        return  # a job's error: nobody to reply to, no handlers to stop
    try:
        scope = current_scope()
        if scope is not None:
            await scope.fail()
        chat = update.effective_chat
        if chat is not None and chat.type == Chat.PRIVATE and not isinstance(error, Forbidden):
            await answer_press(update, context)
            await context.bot.send_message(chat.id, texts.something_went_wrong(reference))
    except Exception as exc:  # the reply failed too: say so by type only, and stop anyway
        log.warning("could not send the error reply %s: %s", reference, type(exc).__name__)
    raise ApplicationHandlerStop
