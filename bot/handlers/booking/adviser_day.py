"""/today and /week: an adviser's appointments, and marking or cancelling them."""

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
from bot.services.booking import adviser_day
from bot.vocabulary import AppointmentStatus, ServiceCancelReason


async def _show(update: Update, context: Context, days: int, title: str) -> None:
    deps = deps_of(context)
    async with uow_for(update, context) as uow:
        items = await adviser_day.agenda(uow, deps, user_id(update), days)
    zone = deps.settings.zone
    lines = [
        texts.agenda_line(
            i.starts_at,
            i.ends_at,
            zone,
            i.student_name,
            i.mode.value,
            i.category,
            i.status.value,
            i.case,
        )
        for i in items
    ]
    await say(update, context, texts.agenda(title, lines), keyboards.agenda(items, zone))


@boundary
async def today(update: Update, context: Context) -> None:
    await _show(update, context, 1, texts.AGENDA_TODAY)


@boundary
async def week(update: Update, context: Context) -> None:
    await _show(update, context, 7, texts.AGENDA_WEEK)


async def _mark(update: Update, context: Context, outcome: AppointmentStatus) -> None:
    press = press_of(update)
    assert press.appointment_id is not None
    async with uow_for(update, context) as uow:
        await adviser_day.mark(
            uow, deps_of(context), user_id(update), press.appointment_id, outcome
        )
    await settle_press(update, context, texts.MARKED)


@boundary
async def on_attended(update: Update, context: Context) -> None:
    await _mark(update, context, AppointmentStatus.ATTENDED)


@boundary
async def on_no_show(update: Update, context: Context) -> None:
    await _mark(update, context, AppointmentStatus.NO_SHOW)


@boundary
async def on_cancel_ask(update: Update, context: Context) -> None:
    press = press_of(update)
    assert press.appointment_id is not None
    async with uow_for(update, context) as uow:
        await adviser_day.cancellable(uow, deps_of(context), user_id(update), press.appointment_id)
    await settle_press(update, context)
    await say(
        update,
        context,
        texts.SERVICE_CANCEL_ASK,
        keyboards.service_cancel_reasons(press.appointment_id),
    )


@boundary
async def on_cancel(update: Update, context: Context) -> None:
    press = press_of(update)
    assert press.appointment_id is not None
    assert press.reason is not None
    async with uow_for(update, context) as uow:
        await adviser_day.cancel_by_service(
            uow,
            deps_of(context),
            user_id(update),
            press.appointment_id,
            ServiceCancelReason(press.reason),
        )
    await settle_press(update, context)
    await say(update, context, texts.SERVICE_CANCELLED)


def register(app: App) -> None:
    app.add_handler(CommandHandler("today", today))
    app.add_handler(CommandHandler("week", week))
    presses = {
        Action.MARK_ATTENDED: on_attended,
        Action.MARK_NO_SHOW: on_no_show,
        Action.SERVICE_CANCEL_ASK: on_cancel_ask,
        Action.SERVICE_CANCEL: on_cancel,
    }
    for action, callback in presses.items():
        app.add_handler(CallbackQueryHandler(callback, pattern=rf"^{action.value}:"))
