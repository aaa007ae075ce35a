"""/policy: the confidentiality statement for any staff member; for the coordinator, publishing
a new version (/policy publish) and the signature register (/policy signatures)."""

from __future__ import annotations

from telegram import Message, Update
from telegram.error import BadRequest
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot import policy_keyboards, policy_texts
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
    send_policy,
    settle_press,
    uow_for,
    user_id,
)
from bot.services.staff import policy_publishing, policy_register, staff
from bot.services.staff.policy import current_policy
from bot.services.staff.policy_publishing import PublishDraft, PublishStep
from bot.services.staff.policy_versions import (
    ApprovalDateRefused,
    PolicyTextRefused,
    TextProblem,
    VersionRefused,
    check_file,
)
from bot.services.staff.staff_drafts import Draft
from bot.vocabulary import STAFF_ROLES, DraftPurpose, Role

PUBLISH = "publish"
SIGNATURES = "signatures"


@boundary
async def policy(update: Update, context: Context) -> None:
    """/policy [publish | signatures]."""
    word = context.args[0].lower() if context.args else None
    if word == PUBLISH:
        await _begin_publishing(update, context)
    elif word == SIGNATURES:
        await _show_register(update, context, 0, edit=False)
    else:
        await _statement(update, context, usage=word is not None)


async def _statement(update: Update, context: Context, *, usage: bool) -> None:
    """The current statement, for any staff member (an unknown word: the coordinator's usage)."""
    async with uow_for(update, context) as uow:
        member = await staff.authorise(
            uow, deps_of(context), user_id(update), STAFF_ROLES, command="policy", policy=False
        )
        document = await current_policy(uow)
    role = Role(member.role)
    if usage and role is Role.COORDINATOR:
        await say(update, context, policy_texts.POLICY_USAGE)
    await send_policy(update, context, document, role)


# ---------------------------------------------------------------- publishing
async def _begin_publishing(update: Update, context: Context) -> None:
    async with uow_for(update, context) as uow:
        await policy_publishing.begin(uow, deps_of(context), user_id(update))
    await say(update, context, policy_texts.PUBLISH_STARTED)


async def _ask(update: Update, context: Context, draft: PublishDraft) -> None:
    """The question of the step the coordinator is at."""
    if draft.step is PublishStep.DOCUMENT:
        await say(update, context, policy_texts.SEND_A_DOCUMENT)
    elif draft.step is PublishStep.APPROVED:
        await say(update, context, policy_texts.ask_approval(draft))
    elif draft.step is PublishStep.VERSION:
        markup = policy_keyboards.use_version(draft.suggested) if draft.suggested else None
        await say(update, context, policy_texts.ask_version(draft), markup)
    else:
        await say(
            update,
            context,
            policy_texts.confirm_publish(draft),
            policy_keyboards.publish_or_discard(),
        )


async def _fetch(context: Context, message: Message) -> bytes:
    """The document's bytes, once its name and reported size look like a statement."""
    document = message.document
    assert document is not None
    check_file(document.file_name, document.file_size)
    try:
        found = await context.bot.get_file(document.file_id)
    except BadRequest as exc:
        if "too big" in exc.message.lower():
            raise PolicyTextRefused(TextProblem.TOO_LARGE) from None
        raise
    check_file(document.file_name, found.file_size)
    return bytes(await found.download_as_bytearray())


async def on_document(update: Update, context: Context, _draft: Draft) -> None:
    """What the coordinator sends while publishing: the statement, as a .txt document."""
    message = update.effective_message
    if message is None or message.document is None:
        await say(update, context, policy_texts.SEND_A_DOCUMENT)
        return
    deps = deps_of(context)
    try:
        data = await _fetch(context, message)
        async with uow_for(update, context) as uow:
            draft = await policy_publishing.take_document(uow, deps, user_id(update), data)
    except PolicyTextRefused as refused:
        await say(update, context, policy_texts.TEXT_REFUSALS[refused.problem.value])
        return
    await _ask(update, context, draft)


async def on_typed(update: Update, context: Context, _draft: Draft) -> None:
    """What the coordinator types while publishing: the approval date, then the name."""
    message = update.effective_message
    typed = (message.text or "") if message is not None else ""
    deps = deps_of(context)
    try:
        async with uow_for(update, context) as uow:
            draft = await policy_publishing.take_typed(uow, deps, user_id(update), typed)
    except ApprovalDateRefused as refused:
        await say(update, context, policy_texts.DATE_REFUSALS[refused.problem.value])
        return
    except VersionRefused as refused:
        await say(update, context, policy_texts.VERSION_REFUSALS[refused.problem.value])
        return
    await _ask(update, context, draft)


@boundary
async def on_use_version(update: Update, context: Context) -> None:
    """The suggested version name, pressed."""
    try:
        async with uow_for(update, context) as uow:
            draft = await policy_publishing.use_suggested(uow, deps_of(context), user_id(update))
    except VersionRefused as refused:
        await settle_press(update, context)
        await say(update, context, policy_texts.VERSION_REFUSALS[refused.problem.value])
        return
    await settle_press(update, context)
    await _ask(update, context, draft)


@boundary
async def on_publish(update: Update, context: Context) -> None:
    """Publish it: the new version is current; the coordinator acknowledges it here."""
    deps = deps_of(context)
    try:
        async with uow_for(update, context) as uow:
            published = await policy_publishing.confirm(uow, deps, user_id(update))
    except PolicyTextRefused as refused:
        await settle_press(update, context)
        await say(update, context, policy_texts.TEXT_REFUSALS[refused.problem.value])
        return
    except (VersionRefused, ApprovalDateRefused) as refused:
        await settle_press(update, context)
        refusals = (
            policy_texts.VERSION_REFUSALS
            if isinstance(refused, VersionRefused)
            else policy_texts.DATE_REFUSALS
        )
        await say(update, context, refusals[refused.problem.value])
        return
    await settle_press(update, context)
    await say(update, context, policy_texts.published(published))
    await send_policy(update, context, published, Role.COORDINATOR)


@boundary
async def on_discard(update: Update, context: Context) -> None:
    async with uow_for(update, context) as uow:
        await policy_publishing.discard(uow, deps_of(context), user_id(update))
    await settle_press(update, context)
    await say(update, context, policy_texts.PUBLISH_DISCARDED)


# ---------------------------------------------------------------- the signature register
NOT_MODIFIED = "not modified"


async def _show_register(update: Update, context: Context, page: int, *, edit: bool) -> None:
    """One page of the register: a new message, or the pressed one edited in place."""
    deps = deps_of(context)
    async with uow_for(update, context) as uow:
        register = await policy_register.for_coordinator(uow, deps, user_id(update), page=page)
    pages = policy_texts.register_pages(register, deps.settings.zone)
    page = min(max(page, 0), len(pages) - 1)
    text, markup = pages[page], policy_keyboards.register_pages(page, len(pages))
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
async def on_register_page(update: Update, context: Context) -> None:
    """Previous or Next under a page of the register: that page, in place."""
    await _show_register(update, context, press_of(update).page or 0, edit=True)


def register(app: App) -> None:
    app.add_handler(CommandHandler("policy", policy))
    presses = {
        Action.POLICY_USE_VERSION: on_use_version,
        Action.POLICY_PUBLISH_CONFIRMED: on_publish,
        Action.POLICY_PUBLISH_DISCARD: on_discard,
    }
    for action, callback in presses.items():
        app.add_handler(CallbackQueryHandler(callback, pattern=rf"^{action.value}$"))
    app.add_handler(
        CallbackQueryHandler(on_register_page, pattern=rf"^{Action.POLICY_SIGNATURES_PAGE.value}:")
    )
    staff_input.on_other(DraftPurpose.POLICY_PUBLISH, on_document)
    staff_input.on_text(DraftPurpose.POLICY_PUBLISH, on_typed)
