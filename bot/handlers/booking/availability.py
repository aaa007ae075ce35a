"""/availability: an adviser's weekly times, days off and extra times."""

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
from bot.services.booking import adviser_day, schedule
from bot.services.booking.availability import ChangeKind, InvalidRange, WeeklyWindow


def _window_line(window: WeeklyWindow) -> str:
    return texts.window_line(window.weekday, window.start, window.end, window.mode.value)


async def _show(update: Update, context: Context, mine: schedule.Schedule) -> None:
    """The schedule screen: weekly times (each with Remove) and coming changes."""
    windows = [_window_line(w.window) for w in mine.windows]
    changes = [
        texts.change_line(c.day, c.kind.value, c.start, c.end, c.mode.value if c.mode else None)
        for c in mine.changes
    ]
    buttons = [
        (texts.btn_remove_window(w.window.weekday, w.window.start), w.window_id)
        for w in mine.windows
    ]
    await say(
        update,
        context,
        texts.schedule(windows, changes, mine.owner_name),
        keyboards.schedule(buttons, can_manage_others=mine.can_manage_others),
    )


@boundary
async def availability(update: Update, context: Context) -> None:
    """/availability [add … | off … | extra …]."""
    args = context.args or []
    verb, rest = (args[0].lower(), " ".join(args[1:])) if args else ("", "")
    deps, who = deps_of(context), user_id(update)
    # Replies go out after the unit of work: no transaction stays open while Telegram is called.
    notes: list[str] = []
    booked_inside: tuple[str, int] | None = None
    try:
        async with uow_for(update, context) as uow:
            if verb == "add":
                window = await schedule.add_weekly(uow, deps, who, rest)
                notes.append(texts.availability_added(_window_line(window)))
            elif verb in ("off", "extra"):
                kind = ChangeKind.REMOVE if verb == "off" else ChangeKind.ADD
                recorded = await schedule.add_change(uow, deps, who, kind, rest)
                change = recorded.change
                line = texts.change_line(
                    change.day,
                    change.kind.value,
                    change.start,
                    change.end,
                    change.mode.value if change.mode else None,
                )
                notes.append(texts.availability_added(line))
                if recorded.booked_inside:
                    booked_inside = (recorded.change_id, recorded.booked_inside)
            mine = await schedule.my_schedule(uow, deps, who)
    except InvalidRange as problem:
        await say(update, context, texts.RANGE_PROBLEMS[problem.problem.value])
        return
    for note in notes:
        await say(update, context, note)
    if booked_inside is not None:
        change_id, count = booked_inside
        await say(
            update,
            context,
            texts.time_off_has_bookings(count),
            keyboards.cancel_time_off_bookings(change_id, count),
        )
    await _show(update, context, mine)


@boundary
async def on_remove(update: Update, context: Context) -> None:
    press = press_of(update)
    assert press.window_id is not None
    deps, who = deps_of(context), user_id(update)
    async with uow_for(update, context) as uow:
        await schedule.remove_weekly(uow, deps, who, press.window_id)
        mine = await schedule.my_schedule(uow, deps, who)
    await settle_press(update, context)
    await say(update, context, texts.AVAILABILITY_REMOVED)
    await _show(update, context, mine)


@boundary
async def on_cancel_time_off_bookings(update: Update, context: Context) -> None:
    """Cancel the bookings inside a time off; each student is told and asked to rebook."""
    press = press_of(update)
    assert press.window_id is not None
    async with uow_for(update, context) as uow:
        count = await adviser_day.cancel_within_time_off(
            uow, deps_of(context), user_id(update), press.window_id
        )
    await settle_press(update, context)
    await say(update, context, texts.bookings_cancelled(count))


@boundary
async def on_manage_pick(update: Update, context: Context) -> None:
    """A coordinator asks to work on another adviser's times: one button per adviser."""
    async with uow_for(update, context) as uow:
        found = await schedule.advisers(uow, deps_of(context), user_id(update))
    await settle_press(update, context)
    choices = [
        (texts.btn_adviser(a.name, is_me=a.is_me, current=a.current), a.staff_id) for a in found
    ]
    await say(update, context, texts.CHOOSE_ADVISER, keyboards.advisers(choices))


@boundary
async def on_manage_set(update: Update, context: Context) -> None:
    press = press_of(update)
    assert press.staff_id is not None
    deps, who = deps_of(context), user_id(update)
    async with uow_for(update, context) as uow:
        await schedule.manage(uow, deps, who, press.staff_id)
        mine = await schedule.my_schedule(uow, deps, who)
    await settle_press(update, context)
    await _show(update, context, mine)


def register(app: App) -> None:
    app.add_handler(CommandHandler("availability", availability))
    app.add_handler(CallbackQueryHandler(on_remove, pattern=rf"^{Action.WINDOW_REMOVE.value}:"))
    app.add_handler(
        CallbackQueryHandler(
            on_cancel_time_off_bookings,
            pattern=rf"^{Action.CANCEL_TIME_OFF_BOOKINGS.value}:",
        )
    )
    app.add_handler(CallbackQueryHandler(on_manage_pick, pattern=rf"^{Action.MANAGE_PICK.value}$"))
    app.add_handler(CallbackQueryHandler(on_manage_set, pattern=rf"^{Action.MANAGE_SET.value}:"))
