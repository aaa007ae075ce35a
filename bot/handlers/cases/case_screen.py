"""Acting from a case's summary: Add a note, Attach a document, Record consent and Record an
action start the same journeys as /note, /attach, /consentfor and /disclose.

The reference in the button is not trusted: each press goes through the command's own service
entry, which opens the case again (a case not the presser's gets the break-glass question),
and the reply is the command's. The summary keeps its buttons.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Update
from telegram.ext import CallbackQueryHandler

from bot.callbacks import Action
from bot.handlers.cases import disclosures, documents, notes, staff_consent
from bot.handlers.common import App, Callback, Context, answer_press, boundary, press_of

Start = Callable[[Update, Context, str], Awaitable[None]]


def _from_summary(start: Start) -> Callback:
    """A summary button: the command's start, for the case the button names."""

    @boundary
    async def handler(update: Update, context: Context) -> None:
        press = press_of(update)
        assert press.case is not None
        await start(update, context, press.case)
        await answer_press(update, context)

    return handler


async def _note(update: Update, context: Context, reference: str) -> None:
    await notes.start_note(update, context, reference)


def register(app: App) -> None:
    presses: dict[Action, Start] = {
        Action.CASE_NOTE: _note,
        Action.CASE_ATTACH: documents.start_attach,
        Action.CASE_CONSENT: staff_consent.start,
        Action.CASE_DISCLOSE: disclosures.start,
    }
    for action, start in presses.items():
        app.add_handler(CallbackQueryHandler(_from_summary(start), pattern=rf"^{action.value}:"))
