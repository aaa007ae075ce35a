"""Entry points shared by every role: /start, /help, free text, other content, the gates."""

from __future__ import annotations

from telegram import Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import texts
from bot.callbacks import InvalidCallback
from bot.handlers import gates, staff_input
from bot.handlers.booking import adviser_day, availability, booking, reassign
from bot.handlers.cases import case_screen, cases, disclosures, documents, notes, staff_consent
from bot.handlers.common import (
    App,
    Context,
    boundary,
    on_error,
    private_chats_only,
    role_for,
    say,
)
from bot.handlers.intake import consent, intake
from bot.handlers.lifecycle import requests as lifecycle_requests
from bot.handlers.notices import security
from bot.handlers.staff import policy, staff
from bot.services.staff.staff import INVITE_PREFIX
from bot.vocabulary import Role


@boundary
async def start(update: Update, context: Context) -> None:
    """/start, /start inv_TOKEN (staff invites): route to the journey for this person."""
    args = context.args or []
    if args and args[0].startswith(INVITE_PREFIX):
        await staff.redeem(update, context, args[0].removeprefix(INVITE_PREFIX))
        return
    role = await role_for(update, context)
    if role is Role.STUDENT:
        await intake.student_start(update, context)
    else:
        await staff.staff_start(update, context, role)


@boundary
async def help_command(update: Update, context: Context) -> None:
    await say(update, context, staff.help_for(await role_for(update, context)))


@boundary
async def text(update: Update, context: Context) -> None:
    role = await role_for(update, context)
    if role is Role.STUDENT:
        await intake.student_text(update, context)
    elif role is Role.SECURITY:
        await say(update, context, texts.STAFF_TEXT)
    else:
        await staff_input.staff_text(update, context)


@boundary
async def other(update: Update, context: Context) -> None:
    role = await role_for(update, context)
    if role is Role.STUDENT and documents.carries_a_file(update):
        await documents.from_student(update, context)
    elif role is Role.STUDENT:
        await intake.student_other(update, context)
    elif role is Role.SECURITY:
        await say(update, context, texts.STAFF_TEXT)
    else:
        await staff_input.staff_other(update, context)


@boundary
async def unknown_command(update: Update, context: Context) -> None:
    await say(update, context, texts.UNKNOWN_COMMAND)


@boundary
async def stale_press(update: Update, context: Context) -> None:
    """Button data no handler claims: forged, or from an older version of the bot."""
    raise InvalidCallback("unclaimed")


def register(app: App) -> None:
    # Guards run first, each in its own group (a group runs at most one handler).
    app.add_handler(TypeHandler(Update, private_chats_only), group=-4)
    app.add_handler(TypeHandler(Update, gates.security_gate), group=-3)
    app.add_handler(TypeHandler(Update, gates.malformed_presses), group=-2)
    app.add_handler(TypeHandler(Update, gates.staff_gate), group=-1)
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("help", help_command))
    intake.register(app)
    consent.register(app)
    booking.register(app)
    availability.register(app)
    adviser_day.register(app)
    security.register(app)
    reassign.register(app)
    # -- case records: reading a case, break-glass, close, reopen, assign
    cases.register(app)
    # -- case records: notes and documents
    notes.register(app)
    documents.register(app)
    # -- case records: consent recorded by staff, consent requests, disclosures
    staff_consent.register(app)
    disclosures.register(app)
    # -- case records: acting from the case summary
    case_screen.register(app)
    staff.register(app)
    lifecycle_requests.register(app)
    policy.register(app)
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
