"""/case and /find for advisers and the coordinator: reading a case part by part, the
break-glass, and closing, reopening and assigning from its summary."""

from __future__ import annotations

from telegram import Message, Update
from telegram.error import BadRequest
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot import case_keyboards, case_texts, texts
from bot.callbacks import Action
from bot.handlers import staff_input
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
from bot.services.cases import case_actions, case_search, case_view
from bot.services.errors import CaseStateWrong, UnknownStaff
from bot.services.staff.staff_drafts import Draft
from bot.vocabulary import CasePart, DraftPurpose

NOT_MODIFIED = "not modified"


async def _show(
    update: Update, context: Context, reference: str, part: CasePart, page: int, *, edit: bool
) -> None:
    """One page of one part of a case: a new message, or the pressed one edited in place."""
    deps = deps_of(context)
    async with uow_for(update, context) as uow:
        shown = await case_view.show(uow, deps, user_id(update), reference, part)
    pages = case_texts.case_pages(shown, deps.settings.zone)
    number = min(page, len(pages) - 1)
    text = pages[number].text
    markup = case_keyboards.case_screen(shown, pages[number], number, len(pages))
    query = update.callback_query
    message = query.message if query is not None else None
    if not edit or not isinstance(message, Message):
        await say(update, context, text, markup)
        return
    await answer_press(update, context)
    try:
        await message.edit_text(text, reply_markup=markup)
    except BadRequest as exc:
        if NOT_MODIFIED not in str(exc).lower():
            await say(update, context, text, markup)  # too old to edit: show it afresh


@boundary
async def case(update: Update, context: Context) -> None:
    """/case REF: the case's summary, with buttons for its other parts."""
    if not context.args:
        await say(update, context, case_texts.CASE_USAGE)
        return
    await _show(update, context, "".join(context.args), CasePart.SUMMARY, 0, edit=False)


@boundary
async def on_part(update: Update, context: Context) -> None:
    """A part or page button: that page, in place of the one pressed."""
    press = press_of(update)
    assert press.case is not None and press.part is not None and press.page is not None
    await _show(update, context, press.case, press.part, press.page, edit=True)


@boundary
async def on_clear(update: Update, context: Context) -> None:
    """Delete the case screen from the chat (Telegram allows it for 48 hours)."""
    query = update.callback_query
    message = query.message if query is not None else None
    if not isinstance(message, Message):
        await answer_press(update, context)
        return
    try:
        await context.bot.delete_message(message.chat_id, message.message_id)
    except BadRequest:
        await answer_press(update, context)
        await say(update, context, case_texts.CLEAR_TOO_OLD)
        return
    await answer_press(update, context, case_texts.CLEARED)


@boundary
async def on_document(update: Update, context: Context) -> None:
    """Send one of the case's documents back to the reader, protected."""
    press = press_of(update)
    assert press.case is not None and press.document_id is not None
    deps = deps_of(context)
    async with uow_for(update, context) as uow:
        copy = await case_view.document(uow, deps, user_id(update), press.case, press.document_id)
    await answer_press(update, context)
    chat = update.effective_chat
    assert chat is not None
    await context.bot.send_document(
        chat.id, document=copy.data, filename=copy.name, protect_content=True
    )


@boundary
async def on_glass(update: Update, context: Context) -> None:
    """A reason for opening another adviser's case: open it, or ask for the typed reason."""
    press = press_of(update)
    assert press.case is not None and press.glass is not None
    deps = deps_of(context)
    async with uow_for(update, context) as uow:
        reference = await case_actions.break_glass(
            uow, deps, user_id(update), press.case, press.glass
        )
    await settle_press(update, context)
    if reference is None:
        await say(update, context, case_texts.BREAK_GLASS_TYPE)
        return
    await _show(update, context, reference, CasePart.SUMMARY, 0, edit=False)


async def glass_reason_typed(update: Update, context: Context, draft: Draft) -> None:
    """The reason for opening another adviser's case, in the reader's own words."""
    deps = deps_of(context)
    typed = update.effective_message.text if update.effective_message else None
    try:
        async with uow_for(update, context) as uow:
            reference = await case_actions.break_glass_typed(
                uow, deps, user_id(update), draft, typed or ""
            )
    except ValueError:
        await say(update, context, case_texts.BREAK_GLASS_BAD)
        return
    await _show(update, context, reference, CasePart.SUMMARY, 0, edit=False)


@boundary
async def on_close_ask(update: Update, context: Context) -> None:
    press = press_of(update)
    assert press.case is not None
    deps = deps_of(context)
    try:
        async with uow_for(update, context) as uow:
            reference, outcomes = await case_actions.outcomes(
                uow, deps, user_id(update), press.case
            )
    except CaseStateWrong as exc:
        await answer_press(update, context)
        await say(update, context, case_texts.CASE_ALREADY[exc.status])
        return
    await answer_press(update, context)
    await say(
        update,
        context,
        case_texts.close_ask(reference),
        case_keyboards.outcomes(reference, outcomes),
    )


@boundary
async def on_close(update: Update, context: Context) -> None:
    press = press_of(update)
    assert press.case is not None and press.index is not None
    deps = deps_of(context)
    try:
        async with uow_for(update, context) as uow:
            outcome = await case_actions.close(uow, deps, user_id(update), press.case, press.index)
    except CaseStateWrong as exc:
        await settle_press(update, context)
        await say(update, context, case_texts.CASE_ALREADY[exc.status])
        return
    await settle_press(update, context)
    await say(update, context, case_texts.closed(press.case, outcome))


@boundary
async def on_reopen(update: Update, context: Context) -> None:
    press = press_of(update)
    assert press.case is not None
    deps = deps_of(context)
    try:
        async with uow_for(update, context) as uow:
            reference = await case_actions.begin_reopen(uow, deps, user_id(update), press.case)
    except CaseStateWrong as exc:
        await answer_press(update, context)
        await say(update, context, case_texts.CASE_ALREADY[exc.status])
        return
    await answer_press(update, context)
    await say(update, context, case_texts.reopen_ask(reference))


async def reopen_reason_typed(update: Update, context: Context, draft: Draft) -> None:
    """Why a closed case is reopened: reopen it."""
    deps = deps_of(context)
    typed = update.effective_message.text if update.effective_message else None
    try:
        async with uow_for(update, context) as uow:
            reference = await case_actions.reopen(uow, deps, user_id(update), draft, typed or "")
    except ValueError:
        await say(update, context, case_texts.REOPEN_BAD)
        return
    except CaseStateWrong as exc:
        await say(update, context, case_texts.CASE_ALREADY[exc.status])
        return
    await say(update, context, case_texts.reopened(reference))


@boundary
async def on_assign_ask(update: Update, context: Context) -> None:
    press = press_of(update)
    assert press.case is not None
    deps = deps_of(context)
    async with uow_for(update, context) as uow:
        reference, choices = await case_actions.advisers(uow, deps, user_id(update), press.case)
    await answer_press(update, context)
    if not choices:
        await say(update, context, case_texts.ASSIGN_NOBODY)
        return
    await say(
        update,
        context,
        case_texts.assign_ask(reference),
        case_keyboards.advisers(reference, choices),
    )


@boundary
async def on_assign(update: Update, context: Context) -> None:
    press = press_of(update)
    assert press.case is not None and press.staff_id is not None
    deps = deps_of(context)
    try:
        async with uow_for(update, context) as uow:
            name = await case_actions.assign(uow, deps, user_id(update), press.case, press.staff_id)
    except UnknownStaff:
        await settle_press(update, context)
        await say(update, context, texts.UNKNOWN_STAFF)
        return
    await settle_press(update, context)
    await say(update, context, case_texts.assigned(press.case, name))


@boundary
async def find(update: Update, context: Context) -> None:
    """/find NUMBER or /find FULL NAME: the current cases of students who match exactly."""
    typed = " ".join(context.args or [])
    if not typed:
        await say(update, context, case_texts.FIND_USAGE)
        return
    async with uow_for(update, context) as uow:
        references = await case_search.find(uow, deps_of(context), user_id(update), typed)
    await say(
        update,
        context,
        case_texts.find_results(references) if references else case_texts.FIND_NONE,
    )


def register(app: App) -> None:
    app.add_handler(CommandHandler("case", case))
    app.add_handler(CommandHandler("find", find))
    presses = {
        Action.CASE_PART: on_part,
        Action.CASE_CLEAR: on_clear,
        Action.CASE_DOCUMENT: on_document,
        Action.CASE_GLASS: on_glass,
        Action.CASE_CLOSE_ASK: on_close_ask,
        Action.CASE_CLOSE: on_close,
        Action.CASE_REOPEN: on_reopen,
        Action.CASE_ASSIGN_ASK: on_assign_ask,
        Action.CASE_ASSIGN: on_assign,
    }
    for action, callback in presses.items():
        pattern = rf"^{action.value}(:|$)"
        app.add_handler(CallbackQueryHandler(callback, pattern=pattern))
    staff_input.on_text(DraftPurpose.BREAK_GLASS, glass_reason_typed)
    staff_input.on_text(DraftPurpose.REOPEN, reopen_reason_typed)
