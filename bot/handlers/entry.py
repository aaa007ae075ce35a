"""Entry points shared by every role: /start, /help, free text, other content, the gates."""

from __future__ import annotations

from telegram import Update
from telegram.ext import (
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import texts
from bot.callbacks import Action, InvalidCallback, decode
from bot.handlers import (
    adviser_day,
    availability,
    booking,
    consent,
    intake,
    reassign,
    security,
    staff,
)
from bot.handlers.common import (
    App,
    Context,
    boundary,
    deps_of,
    on_error,
    private_chats_only,
    say,
    user_id,
)
from bot.services import staff as staff_service
from bot.services.staff import INVITE_PREFIX
from bot.vocabulary import Role

# What a Security member may still do: onboarding and the policy, nothing else.
_SECURITY_COMMANDS = frozenset({"start", "help", "policy"})


async def _role(update: Update, context: Context) -> Role:
    async with deps_of(context).uow() as uow:
        return await staff_service.role_of(uow, deps_of(context), user_id(update))


async def security_gate(update: Update, context: Context) -> None:
    """Security receives notices and can use nothing else: any other update gets one reply."""
    if update.effective_user is None or update.effective_chat is None:
        return
    if await _role(update, context) is not Role.SECURITY:
        return
    message = update.effective_message
    if update.callback_query is not None:
        try:
            if decode(update.callback_query.data).action is Action.POLICY_ACK:
                return
        except InvalidCallback:
            pass
    elif message is not None and message.text and message.text.startswith("/"):
        command = message.text[1:].split(maxsplit=1)[0].split("@")[0].lower()
        if command in _SECURITY_COMMANDS:
            return
    if update.callback_query is not None:
        await update.callback_query.answer()
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
        await query.answer(texts.EXPIRED_PLAIN)
        await say(update, context, texts.EXPIRED_PLAIN + " " + texts.NOT_STARTED)
        raise ApplicationHandlerStop from None


@boundary
async def start(update: Update, context: Context) -> None:
    """/start, /start inv_TOKEN (staff invites): route to the journey for this person."""
    args = context.args or []
    if args and args[0].startswith(INVITE_PREFIX):
        await staff.redeem(update, context, args[0].removeprefix(INVITE_PREFIX))
        return
    role = await _role(update, context)
    if role is Role.STUDENT:
        await intake.student_start(update, context)
    else:
        await staff.staff_start(update, context, role)


@boundary
async def help_command(update: Update, context: Context) -> None:
    await say(update, context, staff.help_for(await _role(update, context)))


@boundary
async def text(update: Update, context: Context) -> None:
    if await _role(update, context) is Role.STUDENT:
        await intake.student_text(update, context)
    else:
        await say(update, context, texts.STAFF_TEXT)


@boundary
async def other(update: Update, context: Context) -> None:
    if await _role(update, context) is Role.STUDENT:
        await intake.student_other(update, context)
    else:
        await say(update, context, texts.STAFF_TEXT)


@boundary
async def unknown_command(update: Update, context: Context) -> None:
    await say(update, context, texts.UNKNOWN_COMMAND)


@boundary
async def stale_press(update: Update, context: Context) -> None:
    """Button data no handler claims: forged, or from an older version of the bot."""
    raise InvalidCallback("unclaimed")


def register(app: App) -> None:
    # Guards run first, each in its own group (a group runs at most one handler).
    app.add_handler(TypeHandler(Update, private_chats_only), group=-3)
    app.add_handler(TypeHandler(Update, malformed_presses), group=-2)
    app.add_handler(TypeHandler(Update, security_gate), group=-1)
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("help", help_command))
    intake.register(app)
    consent.register(app)
    booking.register(app)
    availability.register(app)
    adviser_day.register(app)
    security.register(app)
    reassign.register(app)
    staff.register(app)
    app.add_handler(CallbackQueryHandler(stale_press))
    app.add_handler(MessageHandler(filters.COMMAND & filters.UpdateType.MESSAGE, unknown_command))
    app.add_handler(
        MessageHandler(
            filters.TEXT & ~filters.COMMAND & ~filters.FORWARDED & filters.UpdateType.MESSAGE,
            text,
        )
    )
    app.add_handler(MessageHandler(filters.UpdateType.MESSAGE & ~filters.StatusUpdate.ALL, other))
    app.add_error_handler(on_error)
