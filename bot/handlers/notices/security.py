"""Students removed from their course: /removed for advisers and the coordinator.

What Security itself may do (nothing but read notices) is enforced by the gate in `entry`.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from bot import texts
from bot.handlers.common import App, Context, boundary, deps_of, say, uow_for, user_id
from bot.services.notices import security

_ON_OFF = {"on": True, "yes": True, "off": False, "no": False}


@boundary
async def removed(update: Update, context: Context) -> None:
    """/removed CASE on|off: record removal from the course; Security and the student are told."""
    args = context.args or []
    if len(args) != 2 or args[1].lower() not in _ON_OFF:
        await say(update, context, texts.REMOVED_USAGE)
        return
    async with uow_for(update, context) as uow:
        change = await security.set_removed_by_staff(
            uow, deps_of(context), user_id(update), args[0], _ON_OFF[args[1].lower()]
        )
    await say(
        update,
        context,
        texts.removed_recorded(change.case, change.removed, change.changed, change.notices),
    )


def register(app: App) -> None:
    app.add_handler(CommandHandler("removed", removed))
