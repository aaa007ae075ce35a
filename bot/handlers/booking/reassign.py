"""/reassign for the coordinator: hand a booking to another adviser, same time."""

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
from bot.services.booking import reassign as service
from bot.services.errors import SlotTaken


@boundary
async def reassign(update: Update, context: Context) -> None:
    """/reassign: bookings that need a new adviser; /reassign CASE: that student's bookings."""
    deps = deps_of(context)
    case = context.args[0] if context.args else None
    async with uow_for(update, context) as uow:
        if case is None:
            items = await service.needing_adviser(uow, deps, user_id(update))
        else:
            items = await service.of_case(uow, deps, user_id(update), case)
    if not items:
        await say(update, context, texts.REASSIGN_CASE_NONE if case else texts.REASSIGN_NONE)
        return
    zone = deps.settings.zone
    lines = [
        texts.handover_line(
            h.starts_at, h.ends_at, h.mode.value, zone, h.case, h.adviser, h.needs_adviser
        )
        for h in items
    ]
    shown_case = items[0].case if case else None
    await say(
        update, context, texts.reassign_list(lines, shown_case), keyboards.handovers(items, zone)
    )


@boundary
async def on_pick(update: Update, context: Context) -> None:
    press = press_of(update)
    assert press.ref is not None
    deps = deps_of(context)
    async with uow_for(update, context) as uow:
        handover, candidates = await service.candidates(uow, deps, user_id(update), press.ref)
    await settle_press(update, context)
    if not candidates:
        await say(update, context, texts.REASSIGN_NOBODY)
        return
    line = texts.appointment_line(
        handover.starts_at, handover.ends_at, handover.mode.value, deps.settings.zone
    )
    await say(
        update,
        context,
        texts.reassign_choose(line),
        keyboards.reassign_candidates(press.ref, candidates),
    )


@boundary
async def on_choose(update: Update, context: Context) -> None:
    press = press_of(update)
    assert press.ref is not None and press.staff_id is not None
    deps = deps_of(context)
    async with uow_for(update, context) as uow:
        handover, candidates = await service.candidates(uow, deps, user_id(update), press.ref)
    chosen = next((c for c in candidates if c.staff_id == press.staff_id), None)
    await settle_press(update, context)
    if chosen is None:
        await say(update, context, texts.REASSIGN_CLASH)
        return
    await say(
        update,
        context,
        texts.reassign_confirm(handover.starts_at, deps.settings.zone, chosen.name),
        keyboards.reassign_confirm(press.ref, chosen.staff_id),
    )


@boundary
async def on_confirm(update: Update, context: Context) -> None:
    press = press_of(update)
    assert press.ref is not None and press.staff_id is not None
    deps = deps_of(context)
    try:
        async with uow_for(update, context) as uow:
            done = await service.reassign(uow, deps, user_id(update), press.ref, press.staff_id)
    except SlotTaken:
        await settle_press(update, context)
        await say(update, context, texts.REASSIGN_CLASH)
        return
    await settle_press(update, context)
    await say(update, context, texts.reassigned(done.starts_at, deps.settings.zone, done.adviser))


def register(app: App) -> None:
    app.add_handler(CommandHandler("reassign", reassign))
    presses = {
        Action.REASSIGN_PICK: on_pick,
        Action.REASSIGN_TO: on_choose,
        Action.REASSIGN_CONFIRMED: on_confirm,
    }
    for action, callback in presses.items():
        app.add_handler(CallbackQueryHandler(callback, pattern=rf"^{action.value}:"))
