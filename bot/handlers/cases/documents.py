"""Documents for a case, sent in the chat: by a student for their own case, or by an adviser
after /attach REF. The file's size is checked before it is fetched, its type from its bytes."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Message, Update
from telegram.error import BadRequest
from telegram.ext import CommandHandler

from bot import case_texts
from bot.handlers import staff_input
from bot.handlers.common import App, Context, boundary, deps_of, say, uow_for, user_id
from bot.handlers.intake import intake
from bot.services.cases import documents
from bot.services.cases.documents import DocumentRefused, NoCaseYet, Refusal
from bot.services.errors import BreakGlassNeeded
from bot.services.staff.staff_drafts import Draft
from bot.vocabulary import DraftPurpose

REFUSALS = {
    Refusal.TOO_LARGE: case_texts.DOCUMENT_TOO_LARGE,
    Refusal.EMPTY: case_texts.DOCUMENT_EMPTY,
    Refusal.NOT_ACCEPTED: case_texts.DOCUMENT_NOT_ACCEPTED,
    Refusal.PROGRAM: case_texts.DOCUMENT_PROGRAM,
}


@dataclass(frozen=True)
class Upload:
    file_id: str
    name: str | None
    size: int | None  # as Telegram reports it


def upload_of(message: Message | None) -> Upload | None:
    """The file a message carries, as a document or a photo (its largest size), if any."""
    if message is None:
        return None
    if message.document is not None:
        doc = message.document
        return Upload(doc.file_id, doc.file_name, doc.file_size)
    if message.photo:
        largest = message.photo[-1]
        return Upload(largest.file_id, None, largest.file_size)
    return None


def carries_a_file(update: Update) -> bool:
    return upload_of(update.effective_message) is not None


async def _fetch(context: Context, upload: Upload) -> bytes:
    """The file's bytes, refusing a file over the limit before downloading it."""
    documents.check_size(upload.size)
    try:
        found = await context.bot.get_file(upload.file_id)
    except BadRequest as exc:
        if "too big" in exc.message.lower():
            raise DocumentRefused(Refusal.TOO_LARGE) from None
        raise
    documents.check_size(found.file_size)
    return bytes(await found.download_as_bytearray())


async def from_student(update: Update, context: Context) -> None:
    """A student sent a file: it goes into their case; before they have one (no sheet sent
    yet), they get the usual answer to anything but text (bot/handlers/intake/intake.py)."""
    upload = upload_of(update.effective_message)
    assert upload is not None
    deps = deps_of(context)
    try:
        async with uow_for(update, context) as uow:
            await documents.student_case(uow, deps, user_id(update))
    except NoCaseYet:
        await intake.student_other(update, context)
        return
    try:
        data = await _fetch(context, upload)
        async with uow_for(update, context) as uow:
            stored = await documents.add_from_student(uow, deps, user_id(update), data, upload.name)
            await uow.commit()
    except DocumentRefused as refused:
        await say(update, context, REFUSALS[refused.reason])
        return
    await say(
        update, context, case_texts.document_received(stored.name, stored.media_type, stored.size)
    )


async def on_attachment(update: Update, context: Context, draft: Draft) -> None:
    """What an adviser sends after /attach REF: the document for that case."""
    upload = upload_of(update.effective_message)
    if upload is None:
        await say(update, context, case_texts.ATTACH_SEND_FILE)
        return
    try:
        data = await _fetch(context, upload)
        async with uow_for(update, context) as uow:
            stored = await documents.add_from_staff(
                uow, deps_of(context), user_id(update), draft.case_id, data, upload.name
            )
            await uow.commit()
    except DocumentRefused as refused:
        await say(update, context, REFUSALS[refused.reason])
        return
    except BreakGlassNeeded as needed:
        await say(update, context, case_texts.needs_break_glass(needed.reference))
        return
    await say(
        update,
        context,
        case_texts.document_attached(stored.reference, stored.name, stored.media_type, stored.size),
    )


async def attach_typed(update: Update, context: Context, _draft: Draft) -> None:
    """Text typed while a document is awaited."""
    await say(update, context, case_texts.ATTACH_SEND_FILE)


@boundary
async def attach(update: Update, context: Context) -> None:
    """/attach REF: the next document the adviser sends goes to that case."""
    args = context.args or []
    if len(args) != 1:
        await say(update, context, case_texts.ATTACH_USAGE)
        return
    await start_attach(update, context, args[0])


async def start_attach(update: Update, context: Context, typed: str) -> None:
    """Wait for a document for the case (/attach, or Attach a document on its summary)."""
    async with uow_for(update, context) as uow:  # not theirs: the caller's boundary asks why
        reference = await documents.begin_attach(uow, deps_of(context), user_id(update), typed)
        await uow.commit()
    await say(update, context, case_texts.attach_started(reference))


def register(app: App) -> None:
    app.add_handler(CommandHandler("attach", attach))
    staff_input.on_other(DraftPurpose.ATTACH, on_attachment)
    staff_input.on_text(DraftPurpose.ATTACH, attach_typed)
