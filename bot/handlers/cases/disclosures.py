"""/disclose REF: record what an adviser shares or asks on a student's behalf, through the
consent gate; /disclosures: the coordinator's register."""

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
from bot.services.cases import disclosure_register
from bot.services.cases import disclosures as service
from bot.services.cases.disclosures import DisclosureDraft, DisclosureRefused, DisclosureStep
from bot.services.cases.staff_consent import DetailRejected
from bot.services.errors import BreakGlassNeeded
from bot.services.staff.staff_drafts import Draft
from bot.vocabulary import DraftPurpose, LegalDuty


def prompt(draft: DisclosureDraft) -> tuple[str, InlineKeyboardMarkup | None]:
    """What the adviser is asked next, with its buttons."""
    ref = draft.reference
    if draft.step is DisclosureStep.RECIPIENT:
        return case_texts.disclose_start(ref), keyboards.recipients(ref)
    if draft.step is DisclosureStep.RECIPIENT_NAME and draft.recipient is not None:
        return case_texts.ask_recipient_name(draft.recipient), None
    if draft.step is DisclosureStep.CONTENT:
        return case_texts.ASK_DISCLOSURE_CONTENT, None
    if draft.step is DisclosureStep.BASIS:
        return case_texts.CHOOSE_BASIS, keyboards.bases(ref)
    if draft.step is DisclosureStep.DUTY:
        return case_texts.CHOOSE_DUTY, keyboards.duties(ref)
    if draft.step is DisclosureStep.DUTY_TEXT:
        return case_texts.ASK_DUTY_TEXT, None
    if draft.step is DisclosureStep.LIMITATION and draft.limitation:
        return case_texts.confirm_limitation(draft.limitation), keyboards.within_limitation(ref)
    assert draft.recipient and draft.name and draft.content and draft.basis
    duty = None
    if draft.duty is not None:
        duty = (
            draft.duty_text if draft.duty is LegalDuty.OTHER else case_texts.DUTY_LABELS[draft.duty]
        )
    text = case_texts.disclosure_confirm(
        ref, draft.recipient, draft.name, draft.content, draft.basis, duty, draft.limitation
    )
    return text, keyboards.save_disclosure(ref)


async def show(update: Update, context: Context, draft: DisclosureDraft) -> None:
    text, markup = prompt(draft)
    await say(update, context, text, markup)


async def refused(update: Update, context: Context, refusal: DisclosureRefused) -> None:
    """Exactly what is missing, with a button to ask the student for it."""
    verdict = refusal.verdict
    assert verdict.refusal is not None
    await say(
        update,
        context,
        case_texts.refusal(verdict.refusal, verdict.scope, refusal.recipient),
        keyboards.refused(refusal.reference, verdict.scope),
    )


@boundary
async def disclose(update: Update, context: Context) -> None:
    """/disclose REF: what was (or will be) shared or asked on the student's behalf."""
    if not context.args:
        await say(update, context, case_texts.DISCLOSE_USAGE)
        return
    await start(update, context, context.args[0])


async def start(update: Update, context: Context, reference: str) -> None:
    """The first question of recording a disclosure (/disclose, or Record an action on the
    case's summary)."""
    async with uow_for(update, context) as uow:  # not theirs: the caller's boundary asks why
        draft = await service.start(uow, deps_of(context), user_id(update), reference)
    await show(update, context, draft)


Step = Callable[[Update, Context], Awaitable[DisclosureDraft | service.Made]]


def _pressed(step: Step) -> Callback:
    """A press: the service moves the draft on (or refuses, or records it)."""

    @boundary
    async def handler(update: Update, context: Context) -> None:
        try:
            outcome = await step(update, context)
        except BreakGlassNeeded as needed:
            await settle_press(update, context)
            await say(update, context, case_texts.open_case_first(needed.reference))
            return
        except DisclosureRefused as refusal:
            await settle_press(update, context)
            await refused(update, context, refusal)
            return
        await settle_press(update, context)
        if isinstance(outcome, service.Made):
            await say(
                update,
                context,
                case_texts.disclosure_recorded(outcome.reference, outcome.exception),
            )
        else:
            await show(update, context, outcome)

    return handler


async def _recipient(update: Update, context: Context) -> DisclosureDraft:
    press = press_of(update)
    assert press.case is not None and press.recipient is not None
    async with uow_for(update, context) as uow:
        return await service.choose_recipient(
            uow, deps_of(context), user_id(update), press.case, press.recipient
        )


async def _basis(update: Update, context: Context) -> DisclosureDraft:
    press = press_of(update)
    assert press.case is not None and press.basis is not None
    async with uow_for(update, context) as uow:
        return await service.choose_basis(
            uow, deps_of(context), user_id(update), press.case, press.basis
        )


async def _duty(update: Update, context: Context) -> DisclosureDraft:
    press = press_of(update)
    assert press.case is not None and press.duty is not None
    async with uow_for(update, context) as uow:
        return await service.choose_duty(
            uow, deps_of(context), user_id(update), press.case, press.duty
        )


async def _within(update: Update, context: Context) -> DisclosureDraft:
    press = press_of(update)
    assert press.case is not None
    async with uow_for(update, context) as uow:
        return await service.within_limitation(uow, deps_of(context), user_id(update), press.case)


async def _save(update: Update, context: Context) -> DisclosureDraft | service.Made:
    press = press_of(update)
    assert press.case is not None
    async with uow_for(update, context) as uow:
        return await service.save(uow, deps_of(context), user_id(update), press.case)


async def typed_detail(update: Update, context: Context, draft: Draft) -> None:
    """A typed recipient's name, what was shared, or the statute."""
    message = update.effective_message
    assert message is not None and message.text is not None
    try:
        async with uow_for(update, context) as uow:
            moved = await service.typed(uow, deps_of(context), user_id(update), message.text)
    except DetailRejected as rejected:
        await say(update, context, case_texts.detail_problem(rejected.problem, rejected.limit))
        return
    except DisclosureRefused as refusal:
        await refused(update, context, refusal)
        return
    await show(update, context, moved)


@boundary
async def register_command(update: Update, context: Context) -> None:
    """/disclosures [FROM TO]: counts by basis and case references with dates, no content."""
    deps = deps_of(context)
    today = deps.clock.now().astimezone(deps.settings.zone).date()
    try:
        start, end = disclosure_register.period(list(context.args or []), today)
    except disclosure_register.PeriodInvalid:
        await say(update, context, case_texts.REGISTER_USAGE)
        return
    async with uow_for(update, context) as uow:
        found = await disclosure_register.register(uow, deps, user_id(update), start, end)
    lines = [(line.day, line.reference, line.basis) for line in found.lines]
    await say(update, context, case_texts.register(found.start, found.end, found.counts, lines))


def register(app: App) -> None:
    app.add_handler(CommandHandler("disclose", disclose))
    app.add_handler(CommandHandler("disclosures", register_command))
    presses = {
        Action.DISCLOSE_RECIPIENT: _pressed(_recipient),
        Action.DISCLOSE_BASIS: _pressed(_basis),
        Action.DISCLOSE_DUTY: _pressed(_duty),
        Action.DISCLOSE_WITHIN_LIMIT: _pressed(_within),
        Action.DISCLOSE_SAVE: _pressed(_save),
    }
    for action, callback in presses.items():
        app.add_handler(CallbackQueryHandler(callback, pattern=rf"^{action.value}:"))
    staff_input.on_text(DraftPurpose.DISCLOSURE, typed_detail)
