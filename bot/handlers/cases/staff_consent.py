"""/consentfor REF: an adviser records consent given by email or verbally, or asks the student
in the chat; the student's Yes or No to such a request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot import case_texts
from bot import consent_keyboards as keyboards
from bot.callbacks import Action
from bot.handlers import staff_input
from bot.handlers.common import (
    App,
    Callback,
    Context,
    boundary,
    deps_of,
    press_of,
    say,
    settle_press,
    uow_for,
    user_id,
)
from bot.services.cases import staff_consent as service
from bot.services.cases.staff_consent import ConsentDraft, ConsentStep, DetailRejected
from bot.services.errors import BreakGlassNeeded
from bot.services.staff.staff_drafts import Draft
from bot.vocabulary import ConsentChannel, DraftPurpose


def prompt(draft: ConsentDraft) -> tuple[str, InlineKeyboardMarkup | None]:
    """What the adviser is asked next, with its buttons."""
    ref = draft.reference
    if draft.step is ConsentStep.CHOOSE:
        return case_texts.consent_for_start(ref), keyboards.record_or_ask(ref)
    if draft.step is ConsentStep.SCOPE:
        return case_texts.CHOOSE_SCOPE, keyboards.scopes(ref)
    if draft.step is ConsentStep.DECISION and draft.scope is not None:
        return case_texts.choose_decision(draft.scope), keyboards.decision(ref)
    if draft.step is ConsentStep.CHANNEL:
        return case_texts.CHOOSE_CHANNEL, keyboards.channel(ref)
    if draft.step is ConsentStep.EMAIL_DATE:
        return case_texts.ASK_EMAIL_DATE, None
    if draft.step is ConsentStep.EMAIL_REFERENCE:
        return case_texts.ASK_EMAIL_REFERENCE, None
    if draft.step is ConsentStep.NATURE:
        return case_texts.ASK_VERBAL_NATURE, None
    if draft.step is ConsentStep.LIMITATION:
        return case_texts.ASK_LIMITATION, keyboards.no_limitation(ref)
    if draft.step is ConsentStep.PURPOSE and draft.scope is not None:
        return case_texts.ask_purpose(draft.scope), None
    assert draft.scope is not None and draft.granted is not None and draft.channel is not None
    text = case_texts.consent_confirm(
        ref,
        draft.scope,
        draft.granted,
        draft.channel,
        email_date=draft.email_date,
        email_reference=draft.email_reference,
        nature=draft.nature,
        limitation=draft.limitation,
    )
    return text, keyboards.save_consent(ref)


async def show(update: Update, context: Context, draft: ConsentDraft) -> None:
    text, markup = prompt(draft)
    await say(update, context, text, markup)


@boundary
async def consent_for(update: Update, context: Context) -> None:
    """/consentfor REF: record a consent for the case, or ask the student for one."""
    if not context.args:
        await say(update, context, case_texts.CONSENT_FOR_USAGE)
        return
    await start(update, context, context.args[0])


async def start(update: Update, context: Context, reference: str) -> None:
    """The first question of recording a consent (/consentfor, or Record consent on the
    case's summary)."""
    async with uow_for(update, context) as uow:  # not theirs: the caller's boundary asks why
        draft = await service.start(uow, deps_of(context), user_id(update), reference)
    await show(update, context, draft)


Step = Callable[[Update, Context], Awaitable[ConsentDraft]]


def _pressed(step: Step) -> Callback:
    """A press that moves the draft on: the service takes it, the next question follows."""

    @boundary
    async def handler(update: Update, context: Context) -> None:
        try:
            draft = await step(update, context)
        except BreakGlassNeeded as needed:
            await settle_press(update, context)
            await say(update, context, case_texts.open_case_first(needed.reference))
            return
        await settle_press(update, context)
        await show(update, context, draft)

    return handler


async def _record(update: Update, context: Context) -> ConsentDraft:
    press = press_of(update)
    assert press.case is not None
    async with uow_for(update, context) as uow:
        return await service.choose_record(uow, deps_of(context), user_id(update), press.case)


async def _ask(update: Update, context: Context) -> ConsentDraft:
    press = press_of(update)
    assert press.case is not None
    async with uow_for(update, context) as uow:
        return await service.choose_ask(
            uow, deps_of(context), user_id(update), press.case, press.scope
        )


async def _scope(update: Update, context: Context) -> ConsentDraft:
    press = press_of(update)
    assert press.case is not None and press.scope is not None
    async with uow_for(update, context) as uow:
        return await service.choose_scope(
            uow, deps_of(context), user_id(update), press.case, press.scope
        )


async def _decision(update: Update, context: Context) -> ConsentDraft:
    press = press_of(update)
    assert press.case is not None and press.granted is not None
    async with uow_for(update, context) as uow:
        return await service.choose_decision(
            uow, deps_of(context), user_id(update), press.case, press.granted
        )


def _channel(channel: ConsentChannel) -> Step:
    async def step(update: Update, context: Context) -> ConsentDraft:
        press = press_of(update)
        assert press.case is not None
        async with uow_for(update, context) as uow:
            return await service.choose_channel(
                uow, deps_of(context), user_id(update), press.case, channel
            )

    return step


async def _no_limitation(update: Update, context: Context) -> ConsentDraft:
    press = press_of(update)
    assert press.case is not None
    async with uow_for(update, context) as uow:
        return await service.skip_limitation(uow, deps_of(context), user_id(update), press.case)


@boundary
async def on_save(update: Update, context: Context) -> None:
    """Record it: a ledger entry, and the student told in the chat."""
    press = press_of(update)
    assert press.case is not None
    try:
        async with uow_for(update, context) as uow:
            done = await service.save(uow, deps_of(context), user_id(update), press.case)
    except BreakGlassNeeded as needed:
        await settle_press(update, context)
        await say(update, context, case_texts.open_case_first(needed.reference))
        return
    await settle_press(update, context)
    await say(
        update, context, case_texts.consent_recorded(done.reference, done.scope, done.granted)
    )


async def typed_detail(update: Update, context: Context, draft: Draft) -> None:
    """A typed email date, email reference, nature or limitation."""
    message = update.effective_message
    assert message is not None and message.text is not None
    try:
        async with uow_for(update, context) as uow:
            moved = await service.typed(uow, deps_of(context), user_id(update), message.text)
    except DetailRejected as rejected:
        await say(update, context, case_texts.detail_problem(rejected.problem, rejected.limit))
        return
    await show(update, context, moved)


async def typed_purpose(update: Update, context: Context, draft: Draft) -> None:
    """The purpose of a request: it goes to the student with Yes and No."""
    message = update.effective_message
    assert message is not None and message.text is not None
    try:
        async with uow_for(update, context) as uow:
            sent = await service.send_request(uow, deps_of(context), user_id(update), message.text)
    except DetailRejected as rejected:
        await say(update, context, case_texts.detail_problem(rejected.problem, rejected.limit))
        return
    assert sent.scope is not None
    await say(update, context, case_texts.request_sent(sent.reference, sent.scope))


@boundary
async def on_answer(update: Update, context: Context) -> None:
    """The student answers an adviser's request with Yes or No."""
    press = press_of(update)
    assert press.request_id is not None and press.granted is not None
    async with uow_for(update, context) as uow:
        answer = await service.answer_request(
            uow, deps_of(context), user_id(update), press.request_id, press.granted
        )
    await settle_press(update, context)
    await say(update, context, case_texts.request_answered(answer.scope, answer.granted))


def register(app: App) -> None:
    app.add_handler(CommandHandler("consentfor", consent_for))
    presses = {
        Action.CONSENT_FOR_RECORD: _pressed(_record),
        Action.CONSENT_FOR_ASK: _pressed(_ask),
        Action.CONSENT_FOR_SCOPE: _pressed(_scope),
        Action.CONSENT_FOR_DECISION: _pressed(_decision),
        Action.CONSENT_FOR_EMAIL: _pressed(_channel(ConsentChannel.EMAIL)),
        Action.CONSENT_FOR_VERBAL: _pressed(_channel(ConsentChannel.VERBAL)),
        Action.CONSENT_FOR_NO_LIMIT: _pressed(_no_limitation),
        Action.CONSENT_FOR_SAVE: on_save,
        Action.CONSENT_REQUEST_ANSWER: on_answer,
        # From a refused disclosure: ask the student for the consent that was missing.
        Action.DISCLOSE_ASK: _pressed(_ask),
    }
    for action, callback in presses.items():
        app.add_handler(CallbackQueryHandler(callback, pattern=rf"^{action.value}:"))
    staff_input.on_text(DraftPurpose.CONSENT, typed_detail)
    staff_input.on_text(DraftPurpose.CONSENT_REQUEST, typed_purpose)
