"""/stats for the coordinator: the series, a series' report as text, the chart as an image.

Every figure comes from a published report (`bot/services/statistics/reports.py`): the
handler only renders what the disclosure-control rule released.
"""

from __future__ import annotations

import asyncio

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot import statistics_files as files
from bot import statistics_texts as words
from bot.callbacks import Action, Press, encode
from bot.handlers.common import App, Context, answer_press, boundary, deps_of, say, uow_for, user_id
from bot.services.errors import StatisticsRequestRefused
from bot.services.statistics import reports

# The most periods one report shows in the chat (a year of months); longer reports are for
# the command line, whose files have no length limit.
MOST_PERIODS_IN_CHAT = 12
CHART = "chart"


def _chart_button() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(words.BTN_CHART, callback_data=encode(Press(Action.STATS_CHART)))]]
    )


@boundary
async def stats(update: Update, context: Context) -> None:
    """/stats, /stats SERIES [FROM [TO]] or /stats chart [FROM [TO]]."""
    args = list(context.args or [])
    if len(args) > 3:
        await say(update, context, words.USAGE)
        return
    try:
        if not args:
            await _overview(update, context)
        elif args[0].lower() == CHART:
            await _chart(update, context, args[1:])
        else:
            await _report(update, context, args[0], args[1:])
    except StatisticsRequestRefused as refusal:
        await say(update, context, words.refused(refusal.explanation))


async def _overview(update: Update, context: Context) -> None:
    async with uow_for(update, context) as uow:
        summaries = await reports.overview(uow, deps_of(context), user_id(update))
    await say(update, context, words.overview(summaries), _chart_button())


async def _report(update: Update, context: Context, name: str, periods: list[str]) -> None:
    async with uow_for(update, context) as uow:
        series, report = await reports.for_coordinator(
            uow,
            deps_of(context),
            user_id(update),
            name,
            periods,
            most_periods=MOST_PERIODS_IN_CHAT,
        )
    await say(update, context, words.report(series, report))


async def _chart(update: Update, context: Context, periods: list[str]) -> None:
    async with uow_for(update, context) as uow:
        series, report = await reports.chart_for_coordinator(
            uow, deps_of(context), user_id(update), periods, most_periods=MOST_PERIODS_IN_CHAT
        )
    # Drawing takes a moment of CPU: off the event loop, so other chats are not kept waiting.
    image = await asyncio.to_thread(files.png_bytes, series, report)
    chat = update.effective_chat
    assert chat is not None
    first, last = report.tables[0][0], report.tables[-1][0]
    await context.bot.send_photo(
        chat.id, photo=image, caption=words.chart_caption(series, report.by, first, last)
    )


@boundary
async def chart_pressed(update: Update, context: Context) -> None:
    """The overview's chart button: the chart of the year just ended."""
    await answer_press(update, context)
    try:
        await _chart(update, context, [])
    except StatisticsRequestRefused as refusal:
        await say(update, context, words.refused(refusal.explanation))


def register(app: App) -> None:
    app.add_handler(CommandHandler("stats", stats))
    app.add_handler(CallbackQueryHandler(chart_pressed, pattern=rf"^{Action.STATS_CHART.value}$"))
