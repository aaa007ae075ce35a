"""/consent: a student sees and changes their consent choices at any time."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot import keyboards, texts
from bot.callbacks import Action
from bot.handlers.common import (
    App,
    Context,
    boundary,
    deps_of,
    press_of,
    say,
    settle_press,
    uow_for,
    user_id,
)
from bot.services.errors import NoSheet
from bot.services.intake import consent


@boundary
async def show_consents(update: Update, context: Context) -> None:
    """/consent: the current choice for every scope, each with a button to change it."""
    try:
        async with uow_for(update, context) as uow:
            states = await consent.my_consents(uow, deps_of(context), user_id(update))
    except NoSheet:
        await say(update, context, texts.NO_SHEET_YET_CONSENT)
        return
    overview = texts.consent_overview({s: st.granted for s, st in states.items()})
    await say(update, context, overview, keyboards.consent_overview(consent.SCOPES))


@boundary
async def on_open(update: Update, context: Context) -> None:
    """Show one scope's full wording with Yes and No."""
    press = press_of(update)
    assert press.scope is not None
    async with uow_for(update, context) as uow:
        await consent.my_consents(uow, deps_of(context), user_id(update))  # NoSheet: expired
    await settle_press(update, context)
    position = consent.SCOPES.index(press.scope) + 1
    await say(
        update,
        context,
        texts.consent_question(press.scope, position, len(consent.SCOPES)),
        keyboards.consent_change(press.scope),
    )


@boundary
async def on_set(update: Update, context: Context) -> None:
    """Record the new choice as a ledger entry and confirm exactly what changed."""
    press = press_of(update)
    assert press.scope is not None and press.granted is not None
    async with uow_for(update, context) as uow:
        change = await consent.change_my_consent(
            uow, deps_of(context), user_id(update), press.scope, press.granted
        )
    await settle_press(update, context, texts.consent_answered(change.scope, change.after))
    await say(update, context, texts.consent_changed(change.scope, change.before, change.after))


@boundary
async def on_close(update: Update, context: Context) -> None:
    await settle_press(update, context)
    await say(update, context, texts.CONSENT_CLOSED)


def register(app: App) -> None:
    app.add_handler(CommandHandler("consent", show_consents))
    app.add_handler(CallbackQueryHandler(on_open, pattern=rf"^{Action.CONSENT_OPEN.value}:"))
    app.add_handler(CallbackQueryHandler(on_set, pattern=rf"^{Action.CONSENT_SET.value}:"))
    app.add_handler(CallbackQueryHandler(on_close, pattern=rf"^{Action.CONSENT_CLOSE.value}$"))
