"""Booking an appointment: mode, then a day with free times, then a time, then confirm."""

from __future__ import annotations

from datetime import date, datetime

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot import keyboards, texts
from bot.callbacks import ANY_MODE, Action
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
from bot.services.booking import booking, calendar
from bot.services.errors import NoSheet, SlotTaken, TooManyAppointments
from bot.vocabulary import AppointmentMode


def _mode(value: str | None) -> AppointmentMode | None:
    return None if value in (None, ANY_MODE) else AppointmentMode(value)


@boundary
async def start_booking(update: Update, context: Context) -> None:
    """/book, or the button after the sheet: ask how they would like to meet."""
    try:
        async with uow_for(update, context) as uow:
            await booking.require_sheet(uow, deps_of(context), user_id(update))
    except NoSheet:
        await settle_press(update, context)
        await say(update, context, texts.BOOK_NEEDS_SHEET)
        return
    await settle_press(update, context)
    await say(update, context, texts.BOOK_CHOOSE_MODE, keyboards.book_modes())


async def _offer_days(
    update: Update, context: Context, mode: str, lead: str, ref: str | None = None
) -> None:
    async with uow_for(update, context) as uow:
        days = await booking.open_days(uow, deps_of(context), _mode(mode))
    await _show_days(update, context, mode, days, lead, ref)


async def _show_days(
    update: Update, context: Context, mode: str, days: list[date], lead: str, ref: str | None
) -> None:
    if not days:
        await say(update, context, texts.BOOK_NO_SLOTS, keyboards.book_modes(ref))
        return
    await say(update, context, lead, keyboards.book_days(mode, days, ref))


@boundary
async def start_move(update: Update, context: Context) -> None:
    """Move from /appointments: check it is theirs and still ahead, then ask the mode."""
    press = press_of(update)
    assert press.ref is not None
    async with uow_for(update, context) as uow:
        await booking.movable(uow, deps_of(context), user_id(update), press.ref)
    await settle_press(update, context)
    await say(update, context, texts.MOVE_CHOOSE_MODE, keyboards.book_modes(press.ref))


async def _still_moving(update: Update, context: Context, ref: str | None) -> None:
    """A step of a move keeps the appointment's reminders held (and checks it is theirs); a
    step of a new booking checks the sheet is in (NoSheet: the press has expired)."""
    async with uow_for(update, context) as uow:
        if ref is None:
            await booking.require_sheet(uow, deps_of(context), user_id(update))
        else:
            await booking.still_moving(uow, deps_of(context), user_id(update), ref)


@boundary
async def on_mode(update: Update, context: Context) -> None:
    press = press_of(update)
    assert press.mode is not None
    await _still_moving(update, context, press.ref)
    async with uow_for(update, context) as uow:
        days = await booking.open_days(uow, deps_of(context), _mode(press.mode))
    await settle_press(update, context)
    await _show_days(update, context, press.mode, days, texts.BOOK_CHOOSE_DAY, press.ref)


@boundary
async def on_day(update: Update, context: Context) -> None:
    press = press_of(update)
    assert press.mode is not None
    assert press.day is not None
    await _still_moving(update, context, press.ref)
    deps = deps_of(context)
    async with uow_for(update, context) as uow:
        slots = await booking.slots_on(uow, deps, _mode(press.mode), press.day)
    await settle_press(update, context)
    if not slots:
        await _offer_days(update, context, press.mode, texts.BOOK_SLOT_TAKEN, press.ref)
        return
    markup = keyboards.book_times(press.mode, slots, deps.settings.zone, press.ref)
    await say(update, context, texts.book_choose_time(press.day), markup)


@boundary
async def on_time(update: Update, context: Context) -> None:
    press = press_of(update)
    assert press.mode is not None
    assert press.staff_id is not None
    assert press.minute is not None
    await _still_moving(update, context, press.ref)
    deps = deps_of(context)
    when = booking.from_epoch_minute(press.minute)
    async with uow_for(update, context) as uow:
        offered = await booking.open_slots(uow, deps, staff_id=press.staff_id)
    await settle_press(update, context)
    slot = next((s for s in offered if s.starts_at == when), None)
    if slot is None:
        await _offer_days(update, context, press.mode, texts.BOOK_SLOT_TAKEN, press.ref)
        return
    await say(
        update,
        context,
        texts.book_confirm(slot.starts_at, slot.mode.value, deps.settings.zone),
        keyboards.book_confirm(slot.staff_id, press.minute, press.mode, press.ref),
    )


@boundary
async def on_confirm(update: Update, context: Context) -> None:
    """Book it; if someone was quicker, say so kindly and offer fresh choices."""
    press = press_of(update)
    assert press.staff_id is not None
    assert press.minute is not None
    deps = deps_of(context)
    when = booking.from_epoch_minute(press.minute)
    if press.ref is not None:
        await _confirm_move(update, context, press.ref, press.staff_id, when)
        return
    try:
        async with uow_for(update, context) as uow:
            made = await booking.book(uow, deps, user_id(update), press.staff_id, when)
    except SlotTaken:
        await _offer_days(update, context, ANY_MODE, texts.BOOK_SLOT_TAKEN)
        await settle_press(update, context)
        return
    except TooManyAppointments as full:
        await settle_press(update, context)
        await say(update, context, texts.too_many_appointments(full.limit))
        return
    await settle_press(update, context)
    settings = deps.settings
    message = texts.booked(
        made.starts_at, made.ends_at, made.mode.value, settings.zone, settings.office_details
    )
    if made.security_told:
        message += "\n\n" + texts.SECURITY_TOLD_AT_BOOKING
    await say(update, context, message, keyboards.calendar(made.appointment_id))


async def _confirm_move(
    update: Update, context: Context, ref: str, staff_id: str, when: datetime
) -> None:
    try:
        async with uow_for(update, context) as uow:
            old, view = await booking.reschedule(
                uow, deps_of(context), user_id(update), ref, staff_id, when
            )
    except SlotTaken:
        await _offer_days(update, context, ANY_MODE, texts.BOOK_SLOT_TAKEN, ref)
        await settle_press(update, context)
        return
    await settle_press(update, context)
    await say(
        update, context, texts.moved(old, _line(view, context), deps_of(context).settings.zone)
    )


def _line(view: booking.AppointmentView, context: Context) -> str:
    zone = deps_of(context).settings.zone
    return texts.appointment_line(view.starts_at, view.ends_at, view.mode.value, zone)


@boundary
async def my_appointments(update: Update, context: Context) -> None:
    """/appointments: what is booked, each with a cancel button."""
    deps = deps_of(context)
    async with uow_for(update, context) as uow:
        views = await booking.my_appointments(uow, deps, user_id(update))
    if not views:
        await say(update, context, texts.NO_APPOINTMENTS)
        return
    zone = deps.settings.zone
    buttons = [
        (
            texts.btn_move_appointment(v.starts_at, zone),
            texts.btn_cancel_appointment(v.starts_at, zone),
            v.appointment_id,
        )
        for v in views
    ]
    await say(
        update,
        context,
        texts.appointments_list([_line(v, context) for v in views]),
        keyboards.my_appointments(buttons),
    )


@boundary
async def on_cancel_ask(update: Update, context: Context) -> None:
    press = press_of(update)
    assert press.appointment_id is not None
    async with uow_for(update, context) as uow:
        view = await booking.my_appointment(
            uow, deps_of(context), user_id(update), press.appointment_id
        )
    await settle_press(update, context)
    await say(
        update,
        context,
        texts.cancel_appointment_confirm(_line(view, context)),
        keyboards.cancel_appointment_confirm(view.appointment_id),
    )


@boundary
async def on_cancel_confirmed(update: Update, context: Context) -> None:
    press = press_of(update)
    assert press.appointment_id is not None
    async with uow_for(update, context) as uow:
        view = await booking.cancel_mine(
            uow, deps_of(context), user_id(update), press.appointment_id
        )
    await settle_press(update, context)
    await say(
        update,
        context,
        texts.appointment_cancelled(_line(view, context)),
        keyboards.calendar(view.appointment_id, cancelled=True),
    )


@boundary
async def on_calendar(update: Update, context: Context) -> None:
    """Send the appointment's .ics file (a cancelled one removes it from the calendar)."""
    press = press_of(update)
    assert press.appointment_id is not None
    async with uow_for(update, context) as uow:
        made = await calendar.calendar_file(
            uow, deps_of(context), user_id(update), press.appointment_id
        )
    await answer_press(update, context)
    chat = update.effective_chat
    assert chat is not None
    await context.bot.send_document(
        chat.id, document=made.content, filename=made.filename, caption=texts.CALENDAR_CAPTION
    )


def register(app: App) -> None:
    app.add_handler(CommandHandler("appointments", my_appointments))
    app.add_handler(CallbackQueryHandler(start_move, pattern=rf"^{Action.MOVE_START.value}:"))
    app.add_handler(CallbackQueryHandler(on_calendar, pattern=rf"^{Action.CALENDAR.value}:"))
    app.add_handler(
        CallbackQueryHandler(on_cancel_ask, pattern=rf"^{Action.APPOINTMENT_CANCEL_ASK.value}:")
    )
    app.add_handler(
        CallbackQueryHandler(
            on_cancel_confirmed, pattern=rf"^{Action.APPOINTMENT_CANCEL_CONFIRMED.value}:"
        )
    )
    app.add_handler(CommandHandler("book", start_booking))
    app.add_handler(CallbackQueryHandler(start_booking, pattern=rf"^{Action.BOOK_START.value}$"))
    app.add_handler(CallbackQueryHandler(on_mode, pattern=rf"^{Action.BOOK_MODE.value}:"))
    app.add_handler(CallbackQueryHandler(on_day, pattern=rf"^{Action.BOOK_DAY.value}:"))
    app.add_handler(CallbackQueryHandler(on_time, pattern=rf"^{Action.BOOK_TIME.value}:"))
    app.add_handler(CallbackQueryHandler(on_confirm, pattern=rf"^{Action.BOOK_CONFIRM.value}:"))
