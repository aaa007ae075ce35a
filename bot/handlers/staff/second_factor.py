"""The second factor at the edge: the set-up (QR code, key, first code), /unlock, /lock, a code
typed on its own, and the coordinator's reset from /staff."""

from __future__ import annotations

import io
import logging

import segno
from telegram import Update
from telegram.error import BadRequest
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot import keyboards, texts
from bot.callbacks import Action
from bot.handlers.common import (
    App,
    Context,
    answer_press,
    boundary,
    deps_of,
    press_of,
    say,
    settle_press,
    uow_for,
    user_id,
)
from bot.services.errors import (
    SecondFactorLockedOut,
    SecondFactorNeeded,
    StaleAction,
    UnknownStaff,
    WrongCode,
)
from bot.services.staff import second_factor, staff
from bot.vocabulary import ADVISING_ROLES, FactorState

log = logging.getLogger("bot.handlers")

QR_SCALE = 8  # pixels a module: about 450 px square for a key URI, sharp on any phone


def qr_png(uri: str) -> bytes:
    """The provisioning URI as a QR code image (PNG)."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="png", scale=QR_SCALE, border=4)
    return out.getvalue()


async def delete_quietly(context: Context, chat_id: int, message_id: int) -> None:
    """Delete a message; one already gone (or over 48 hours old) stays as it is."""
    try:
        await context.bot.delete_message(chat_id, message_id)
    except BadRequest as exc:
        log.debug("message not deleted: %s", type(exc).__name__)


async def send_setup(update: Update, context: Context) -> None:
    """Set up (or set up again) the second factor: a QR code and the key, both protected,
    then ask for the first code."""
    deps = deps_of(context)
    try:
        async with uow_for(update, context) as uow:
            setup = await second_factor.begin_setup(uow, deps, user_id(update))
    except SecondFactorLockedOut:
        await answer_press(update, context)
        await say(update, context, texts.SECOND_FACTOR_LOCKED_OUT)
        return
    chat = update.effective_chat
    assert chat is not None
    await answer_press(update, context)
    for message_id in setup.earlier_messages:
        await delete_quietly(context, chat.id, message_id)
    await say(update, context, texts.SECOND_FACTOR_INTRO)
    image = await context.bot.send_photo(
        chat.id,
        photo=qr_png(setup.uri),
        caption=texts.second_factor_qr_caption(deps.settings.service_name),
        protect_content=True,
    )
    key = await context.bot.send_message(
        chat.id, texts.second_factor_secret(setup.secret), protect_content=True
    )
    # Remembered after they are sent: the one update that writes after speaking to Telegram
    # (a second, short transaction), so the set-up can be deleted once it is confirmed.
    async with uow_for(update, context) as uow:
        await second_factor.keep_setup_messages(
            uow, deps, user_id(update), (image.message_id, key.message_id)
        )
    await say(update, context, texts.SECOND_FACTOR_FIRST_CODE)


async def offer_setup(update: Update, context: Context) -> None:
    """The set-up; or, while one waits in the chat for its first code, a reminder of it."""
    async with uow_for(update, context) as uow:
        shown = await second_factor.setup_shown(uow, deps_of(context), user_id(update))
    if shown:
        await answer_press(update, context)
        await say(update, context, texts.SECOND_FACTOR_WAITING)
        return
    await send_setup(update, context)


async def setup_needed(update: Update, context: Context) -> bool:
    """Whether this staff member (adviser or coordinator) still has a second factor to set up."""
    async with uow_for(update, context) as uow:
        state = await second_factor.state_of(uow, deps_of(context), user_id(update))
    return state in (FactorState.NOT_SET_UP, FactorState.AWAITING_CODE)


async def awaiting_code(update: Update, context: Context) -> bool:
    """Whether a set-up waits for its first code from this staff member."""
    async with uow_for(update, context) as uow:
        state = await second_factor.state_of(uow, deps_of(context), user_id(update))
    return state is FactorState.AWAITING_CODE


async def take_code(update: Update, context: Context, code: str) -> None:
    """A code from the app: confirm the set-up or unlock. The message carrying it is deleted
    whatever the outcome."""
    deps = deps_of(context)
    try:
        try:
            async with uow_for(update, context) as uow:
                accepted = await second_factor.present_code(uow, deps, user_id(update), code)
        finally:
            await _delete_the_code(update, context)
    except WrongCode as wrong:
        await say(update, context, texts.wrong_code(wrong.used_before, wrong.attempts_left))
        return
    except SecondFactorLockedOut:
        await say(update, context, texts.SECOND_FACTOR_LOCKED_OUT)
        return
    except SecondFactorNeeded:
        await send_setup(update, context)
        return
    chat = update.effective_chat
    assert chat is not None
    for message_id in accepted.setup_messages:
        await delete_quietly(context, chat.id, message_id)
    zone = deps.settings.zone
    if accepted.confirmed:
        await say(update, context, texts.second_factor_confirmed(accepted.until, zone))
    else:
        await say(update, context, texts.session_unlocked(accepted.until, zone))


async def _delete_the_code(update: Update, context: Context) -> None:
    message = update.effective_message
    if message is not None:
        await delete_quietly(context, message.chat_id, message.message_id)


@boundary
async def unlock(update: Update, context: Context) -> None:
    """/unlock 123456: open the session (or, while setting up, confirm the factor)."""
    typed = " ".join(context.args or [])
    code = second_factor.code_typed(typed)
    if code is not None:
        await take_code(update, context, code)
        return
    if typed:
        await _delete_the_code(update, context)  # a mistyped code is still half a secret
    if await setup_needed(update, context):
        await send_setup(update, context)
        return
    await say(update, context, texts.UNLOCK_USAGE)


@boundary
async def lock(update: Update, context: Context) -> None:
    """/lock: end the session now."""
    async with uow_for(update, context) as uow:
        was_open = await second_factor.lock(uow, deps_of(context), user_id(update))
    await say(update, context, texts.SESSION_ENDED if was_open else texts.SESSION_ALREADY_LOCKED)


@boundary
async def on_reset_ask(update: Update, context: Context) -> None:
    """The coordinator chose someone's *Reset second factor*: ask first."""
    press = press_of(update)
    assert press.staff_id is not None
    deps = deps_of(context)
    async with uow_for(update, context) as uow:
        members = await staff.list_staff(uow, deps, user_id(update))
    target = next(
        (
            m
            for m in members
            if m.staff_id == press.staff_id and m.active and m.role in ADVISING_ROLES
        ),
        None,
    )
    await settle_press(update, context)
    if target is None:
        await say(update, context, texts.UNKNOWN_STAFF)
        return
    await say(
        update,
        context,
        texts.reset_second_factor_confirm(target.name),
        keyboards.reset_second_factor_confirm(target.staff_id),
    )


@boundary
async def on_reset(update: Update, context: Context) -> None:
    """The coordinator confirmed: the second factor, its lock and session are gone."""
    press = press_of(update)
    assert press.staff_id is not None
    try:
        async with uow_for(update, context) as uow:
            name = await second_factor.reset(uow, deps_of(context), user_id(update), press.staff_id)
    except (UnknownStaff, StaleAction):
        await settle_press(update, context)
        await say(update, context, texts.UNKNOWN_STAFF)
        return
    await settle_press(update, context)
    await say(update, context, texts.second_factor_reset(name))


def register(app: App) -> None:
    app.add_handler(CommandHandler("unlock", unlock))
    app.add_handler(CommandHandler("lock", lock))
    app.add_handler(
        CallbackQueryHandler(on_reset_ask, pattern=rf"^{Action.SECOND_FACTOR_RESET_ASK.value}:")
    )
    app.add_handler(
        CallbackQueryHandler(on_reset, pattern=rf"^{Action.SECOND_FACTOR_RESET.value}:")
    )
