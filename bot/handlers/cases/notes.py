"""/note and /correct: an adviser writes a case note, or corrects one, in the chat.

The note is typed in one message or several (each kept in the sealed draft as it arrives),
then Done, its kind, a preview, and Save. A correction is a new note naming the one it
corrects: its text, then why, then the preview.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot import case_texts, note_keyboards
from bot.callbacks import Action
from bot.handlers import staff_input
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
from bot.services.cases import notes
from bot.services.cases.notes import NoteDraft, NoteStep, NoteTooLong, NothingTyped, UnknownNote
from bot.services.errors import BreakGlassNeeded
from bot.services.staff.staff_drafts import Draft
from bot.vocabulary import DraftPurpose


def _command_rest(update: Update) -> tuple[str | None, str]:
    """The reference after the command, and everything after it as typed (line breaks kept)."""
    message = update.effective_message
    words = (message.text or "").split(None, 2) if message is not None else []
    reference = words[1] if len(words) > 1 else None
    return reference, words[2] if len(words) > 2 else ""


async def _show(update: Update, context: Context, draft: NoteDraft) -> None:
    """The next step of a note or correction, from where its draft is."""
    ref = draft.reference
    if draft.step is NoteStep.TYPING:
        await say(update, context, case_texts.note_added(len(draft.text)), note_keyboards.done(ref))
    elif draft.step is NoteStep.KIND:
        await say(update, context, case_texts.NOTE_CHOOSE_KIND, note_keyboards.kinds(ref))
    elif draft.step is NoteStep.REASON:
        await say(update, context, case_texts.CORRECTION_ASK_REASON)
    elif draft.step is NoteStep.CORRECTED_TEXT:
        await say(update, context, case_texts.correction_started(ref, draft.corrects or 0))
    else:
        preview = case_texts.note_preview(ref, draft.text, draft.kind, draft.corrects, draft.reason)
        await say(update, context, preview, note_keyboards.save_or_discard(ref))


@boundary
async def note(update: Update, context: Context) -> None:
    """/note REF: start a note; /note REF text: the whole note in one go."""
    reference, text = _command_rest(update)
    if reference is None:
        await say(update, context, case_texts.NOTE_USAGE)
        return
    await start_note(update, context, reference, text)


async def start_note(update: Update, context: Context, reference: str, text: str = "") -> None:
    """Begin a note for the case (/note, or Add a note on the case's summary); the caller's
    boundary turns a case not theirs into the break-glass question."""
    try:
        async with uow_for(update, context) as uow:
            draft = await notes.start(uow, deps_of(context), user_id(update), reference, text)
            await uow.commit()
    except NoteTooLong as too_long:
        await say(update, context, case_texts.note_too_long(too_long.limit, too_long.length))
        return
    if draft.step is NoteStep.TYPING:
        await say(update, context, case_texts.note_started(draft.reference))
    else:
        await _show(update, context, draft)


@boundary
async def correct(update: Update, context: Context) -> None:
    """/correct REF N: correct note N of a case with a new note."""
    args = context.args or []
    if len(args) != 2 or not args[1].isdigit() or len(args[1]) > 6:
        await say(update, context, case_texts.CORRECT_USAGE)
        return
    try:
        async with uow_for(update, context) as uow:
            draft = await notes.start_correction(
                uow, deps_of(context), user_id(update), args[0], int(args[1])
            )
            await uow.commit()
    except UnknownNote as unknown:
        await say(update, context, case_texts.unknown_note(unknown.reference, unknown.number))
        return
    await _show(update, context, draft)


async def on_typed(update: Update, context: Context, _draft: Draft) -> None:
    """A message typed while a note or correction is open: it is added to the draft."""
    message = update.effective_message
    text = message.text if message is not None and message.text else ""
    try:
        async with uow_for(update, context) as uow:
            draft = await notes.add_text(uow, deps_of(context), user_id(update), text)
            await uow.commit()
    except BreakGlassNeeded as needed:
        await say(update, context, case_texts.needs_break_glass(needed.reference))
        return
    except NoteTooLong as too_long:
        await say(update, context, case_texts.note_too_long(too_long.limit, too_long.length))
        return
    await _show(update, context, draft)


@boundary
async def on_done(update: Update, context: Context) -> None:
    press = press_of(update)
    assert press.case is not None
    try:
        async with uow_for(update, context) as uow:
            draft = await notes.done_typing(uow, deps_of(context), user_id(update), press.case)
            await uow.commit()
    except NothingTyped:
        await settle_press(update, context)
        await say(update, context, case_texts.NOTHING_TYPED)
        return
    except BreakGlassNeeded as needed:
        await settle_press(update, context)
        await say(update, context, case_texts.needs_break_glass(needed.reference))
        return
    await settle_press(update, context)
    await _show(update, context, draft)


@boundary
async def on_kind(update: Update, context: Context) -> None:
    press = press_of(update)
    assert press.case is not None and press.note_kind is not None
    try:
        async with uow_for(update, context) as uow:
            draft = await notes.choose_kind(
                uow, deps_of(context), user_id(update), press.case, press.note_kind
            )
            await uow.commit()
    except BreakGlassNeeded as needed:
        await settle_press(update, context)
        await say(update, context, case_texts.needs_break_glass(needed.reference))
        return
    await settle_press(update, context, case_texts.NOTE_KIND_LABELS[press.note_kind])
    await _show(update, context, draft)


@boundary
async def on_save(update: Update, context: Context) -> None:
    press = press_of(update)
    assert press.case is not None
    try:
        async with uow_for(update, context) as uow:
            saved = await notes.save(uow, deps_of(context), user_id(update), press.case)
            await uow.commit()
    except BreakGlassNeeded as needed:
        await settle_press(update, context)
        await say(update, context, case_texts.needs_break_glass(needed.reference))
        return
    await settle_press(update, context)
    await say(update, context, case_texts.note_saved(saved.reference, saved.number, saved.corrects))


@boundary
async def on_discard(update: Update, context: Context) -> None:
    press = press_of(update)
    assert press.case is not None
    async with uow_for(update, context) as uow:
        await notes.discard(uow, deps_of(context), user_id(update), press.case)
        await uow.commit()
    await settle_press(update, context)
    await say(update, context, case_texts.NOTE_DISCARDED)


def register(app: App) -> None:
    app.add_handler(CommandHandler("note", note))
    app.add_handler(CommandHandler("correct", correct))
    staff_input.on_text(DraftPurpose.NOTE, on_typed)
    staff_input.on_text(DraftPurpose.CORRECTION, on_typed)
    presses = {
        Action.NOTE_DONE: on_done,
        Action.NOTE_KIND: on_kind,
        Action.NOTE_SAVE: on_save,
        Action.NOTE_DISCARD: on_discard,
    }
    for action, callback in presses.items():
        app.add_handler(CallbackQueryHandler(callback, pattern=rf"^{action.value}:"))
