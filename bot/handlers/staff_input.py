"""Routing what staff type (or send) to the journey they are in the middle of.

A staff member's typed message means something only within a draft (bot/services/
staff_drafts.py): the text of a note, a reason, the details of a consent. Each journey
registers what to do with a message for its purpose; with no draft, staff are told what they
can do. `/cancel` drops the draft.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Update

from bot import case_texts, texts
from bot.handlers.common import Context, deps_of, say, uow_for, user_id
from bot.handlers.staff import second_factor
from bot.services.staff import second_factor as second_factors
from bot.services.staff import staff, staff_drafts
from bot.services.staff.staff_drafts import Draft
from bot.vocabulary import DraftPurpose

DraftStep = Callable[[Update, Context, Draft], Awaitable[None]]

_ON_TEXT: dict[DraftPurpose, DraftStep] = {}
_ON_OTHER: dict[DraftPurpose, DraftStep] = {}


def on_text(purpose: DraftPurpose, step: DraftStep) -> None:
    """Register what a typed message means while a draft of `purpose` is open."""
    _ON_TEXT[purpose] = step


def on_other(purpose: DraftPurpose, step: DraftStep) -> None:
    """Register what any other message (a document, a photo) means for `purpose`."""
    _ON_OTHER[purpose] = step


async def _draft(update: Update, context: Context) -> Draft | None:
    deps = deps_of(context)
    async with uow_for(update, context) as uow:
        me = await staff.find_staff(uow, deps, user_id(update))
        if me is None:
            return None
        draft = await staff_drafts.current(uow, deps, me.id)
        await uow.commit()  # a lapsed draft is dropped
    return draft


async def staff_text(update: Update, context: Context) -> None:
    """A staff member typed something: the open draft's step takes it, if there is one.

    Six digits on their own are a code from the authenticator app when a set-up waits for
    one, or when no draft does (a draft's detail may be a number: an email's reference).
    """
    typed = update.effective_message.text if update.effective_message else None
    code = second_factors.code_typed(typed or "")
    if code is not None and await second_factor.awaiting_code(update, context):
        await second_factor.take_code(update, context, code)
        return
    draft = await _draft(update, context)
    step = _ON_TEXT.get(draft.purpose) if draft is not None else None
    if draft is None or step is None:
        if code is not None:
            await second_factor.take_code(update, context, code)
            return
        await say(update, context, texts.STAFF_TEXT)
        return
    await step(update, context, draft)


async def staff_other(update: Update, context: Context) -> None:
    """A staff member sent something other than text (a file, a sticker)."""
    draft = await _draft(update, context)
    step = _ON_OTHER.get(draft.purpose) if draft is not None else None
    if draft is None or step is None:
        await say(update, context, texts.STAFF_TEXT)
        return
    await step(update, context, draft)


async def staff_cancel(update: Update, context: Context) -> None:
    """/cancel from staff: drop what they were typing, saying whether there was anything."""
    deps = deps_of(context)
    async with uow_for(update, context) as uow:
        me = await staff.find_staff(uow, deps, user_id(update))
        dropped = me is not None and await staff_drafts.finish(uow, me.id)
        await uow.commit()
    await say(update, context, case_texts.DRAFT_DROPPED if dropped else texts.NOTHING_TO_CANCEL)
