"""The student's information sheet: /start, the privacy notice, questions, review, consent."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot import case_texts, keyboards, texts
from bot.callbacks import Action
from bot.handlers import staff_input
from bot.handlers.common import (
    App,
    Context,
    boundary,
    deps_of,
    press_of,
    role_for,
    say,
    settle_press,
    show_sheet,
    uow_for,
    user_id,
)
from bot.screens import consents_html, resume_text
from bot.services.cases import disclosure_register
from bot.services.errors import NoSheet
from bot.services.intake import consent, intake
from bot.services.intake.sheet import FIELD_ORDER, AnswerRejected, QuestionKind, question
from bot.services.intake.sheet_store import SheetView
from bot.vocabulary import Role, SheetStep


async def _show_sheet(update: Update, context: Context, view: SheetView) -> None:
    await show_sheet(update, context, view)


async def student_start(update: Update, context: Context) -> None:
    """Welcome a student: the privacy notice, or an offer to carry on, or what they can do."""
    deps = deps_of(context)
    async with uow_for(update, context) as uow:
        standing = await intake.welcome(uow, deps, user_id(update))
    if standing.standing is intake.Standing.IN_PROGRESS and standing.view is not None:
        await say(update, context, resume_text(standing.view), keyboards.resume())
    elif standing.standing is intake.Standing.SUBMITTED and standing.view is not None:
        assert standing.view.submitted_at is not None
        await say(
            update,
            context,
            texts.already_submitted(standing.view.submitted_at, deps.settings.zone),
        )
    else:
        name = deps.settings.service_name
        await say(update, context, texts.welcome(name))
        await say(
            update,
            context,
            texts.privacy_notice(name, deps.settings.retention_years),
            keyboards.privacy(),
        )


@boundary
async def privacy(update: Update, context: Context) -> None:
    """/privacy: the privacy notice again, at any time."""
    settings = deps_of(context).settings
    await say(
        update, context, texts.privacy_notice(settings.service_name, settings.retention_years)
    )


@boundary
async def on_privacy_continue(update: Update, context: Context) -> None:
    """The student read the notice and wants to begin: open the draft, ask question 1."""
    async with uow_for(update, context) as uow:
        view = await intake.begin(uow, deps_of(context), user_id(update))
    await settle_press(update, context)
    await _show_sheet(update, context, view)


@boundary
async def on_privacy_not_now(update: Update, context: Context) -> None:
    await settle_press(update, context)
    await say(update, context, texts.NOT_NOW)


@boundary
async def on_resume(update: Update, context: Context) -> None:
    async with uow_for(update, context) as uow:
        view = await intake.current(uow, deps_of(context), user_id(update))
    await settle_press(update, context)
    await _show_sheet(update, context, view)


@boundary
async def on_start_over(update: Update, context: Context) -> None:
    await settle_press(update, context)
    await say(update, context, texts.START_OVER_CONFIRM, keyboards.start_over_confirm())


@boundary
async def on_start_over_confirmed(update: Update, context: Context) -> None:
    async with uow_for(update, context) as uow:
        view = await intake.start_over(uow, deps_of(context), user_id(update))
    await settle_press(update, context)
    await _show_sheet(update, context, view)


async def student_text(update: Update, context: Context) -> None:
    """A typed message from a student: the answer to the current question, if there is one."""
    message = update.effective_message
    assert message is not None and message.text is not None
    deps = deps_of(context)
    # Replies go out after the unit of work: no transaction stays open while Telegram is called.
    notices: list[str] = []
    async with uow_for(update, context) as uow:
        try:
            typed = await intake.receive_text(
                uow, deps, user_id(update), message.text, texts.choice_label
            )
        except NoSheet:
            typed = None
    if typed is None:
        await say(update, context, texts.NOT_STARTED)
        return
    if typed.asked is None:
        notices.append(texts.USE_BUTTONS)
    notices.extend(texts.rejection(r.reason, r.params) for r in typed.rejected)
    if typed.asked in _CHOICE_FIELDS and not typed.rejected and not typed.waiting:
        # A choice typed instead of pressed: say which one was recorded.
        notices.append(texts.answered(typed.asked, typed.view.answers.get(typed.asked)))
    for notice in notices:
        await say(update, context, notice)
    if not typed.waiting:  # a text that may go on in the next message gets its answer then
        await _show_sheet(update, context, typed.view)


async def student_other(update: Update, context: Context) -> None:
    """Stickers, photos, voice, files, forwards: explain kindly and ask the question again."""
    async with uow_for(update, context) as uow:
        try:
            view: SheetView | None = await intake.current(uow, deps_of(context), user_id(update))
        except NoSheet:
            view = None
    if view is None:
        await say(update, context, texts.NOT_STARTED)
        return
    field = view.step.field
    expects_button = field is None or field in _CHOICE_FIELDS
    await say(update, context, texts.wrong_kind(expects_button))
    await _show_sheet(update, context, view)


_CHOICE_FIELDS = frozenset(f for f in FIELD_ORDER if question(f).kind is QuestionKind.CHOICE)


@boundary
async def on_choose(update: Update, context: Context) -> None:
    press = press_of(update)
    assert press.field is not None and press.index is not None
    async with uow_for(update, context) as uow:
        view = await intake.answer_choice(
            uow, deps_of(context), user_id(update), press.field, press.index
        )
    await settle_press(update, context, texts.answered(press.field, view.answers.get(press.field)))
    await _show_sheet(update, context, view)


@boundary
async def on_skip(update: Update, context: Context) -> None:
    press = press_of(update)
    assert press.field is not None
    try:
        async with uow_for(update, context) as uow:
            view = await intake.skip(uow, deps_of(context), user_id(update), press.field)
    except AnswerRejected as rejected:
        await settle_press(update, context)
        await say(update, context, texts.rejection(rejected.reason, rejected.params))
        return
    await settle_press(update, context, texts.answered(press.field, None))
    await _show_sheet(update, context, view)


@boundary
async def on_edit(update: Update, context: Context) -> None:
    press = press_of(update)
    assert press.field is not None
    async with uow_for(update, context) as uow:
        view = await intake.edit(uow, deps_of(context), user_id(update), press.field)
    await settle_press(update, context)
    await _show_sheet(update, context, view)


@boundary
async def on_review_ok(update: Update, context: Context) -> None:
    async with uow_for(update, context) as uow:
        view = await intake.confirm_review(uow, deps_of(context), user_id(update))
    await settle_press(update, context)
    await _show_sheet(update, context, view)


@boundary
async def on_sheet_consent(update: Update, context: Context) -> None:
    press = press_of(update)
    assert press.scope is not None and press.granted is not None
    async with uow_for(update, context) as uow:
        view = await intake.choose_consent(
            uow, deps_of(context), user_id(update), press.scope, press.granted
        )
    await settle_press(update, context, texts.consent_answered(press.scope, press.granted))
    await _show_sheet(update, context, view)


@boundary
async def cancel(update: Update, context: Context) -> None:
    """/cancel: offer to discard an unfinished sheet (confirmed first)."""
    if await role_for(update, context) is not Role.STUDENT:
        await staff_input.staff_cancel(update, context)
        return
    async with uow_for(update, context) as uow:
        drafting = await intake.has_draft(uow, deps_of(context), user_id(update))
    if drafting:
        await say(update, context, texts.CANCEL_CONFIRM, keyboards.discard_confirm())
    else:
        await say(update, context, texts.NOTHING_TO_CANCEL)


@boundary
async def on_discard(update: Update, context: Context) -> None:
    async with uow_for(update, context) as uow:
        await intake.discard(uow, deps_of(context), user_id(update))
    await settle_press(update, context)
    await say(update, context, texts.DISCARDED)


@boundary
async def on_keep(update: Update, context: Context) -> None:
    async with uow_for(update, context) as uow:
        view = await intake.current(uow, deps_of(context), user_id(update))
    await settle_press(update, context)
    await say(update, context, texts.KEPT)
    await _show_sheet(update, context, view)


@boundary
async def my_sheet(update: Update, context: Context) -> None:
    """/mysheet: the submitted answers and current consent choices."""
    deps = deps_of(context)
    async with uow_for(update, context) as uow:
        view = await intake.my_sheet(uow, deps, user_id(update))
        states = await consent.my_consents(uow, deps, user_id(update))
        shared = await disclosure_register.about_me(uow, deps, user_id(update))
    assert view.submitted_at is not None
    answers = texts.answers_block(view.answers, FIELD_ORDER)
    choices = consents_html({s: state.granted for s, state in states.items()})
    sheet = texts.my_sheet(answers, choices, view.submitted_at, deps.settings.zone)
    zone = deps.settings.zone
    made = [
        (
            d.made_at.astimezone(zone).date(),
            d.recipient_kind,
            d.recipient or "",
            d.basis,
            d.content or "",
        )
        for d in shared
    ]
    await say(update, context, f"{sheet}\n\n{case_texts.my_disclosures(made)}")


async def edited(update: Update, context: Context) -> None:
    await say(update, context, texts.EDITED_MESSAGE)


def _press(action: Action) -> str:
    return rf"^{action.value}(:|$)"


def register(app: App) -> None:
    app.add_handler(CommandHandler("privacy", privacy))
    app.add_handler(CommandHandler("cancel", cancel))
    app.add_handler(CommandHandler("mysheet", my_sheet))
    presses = {
        Action.PRIVACY_CONTINUE: on_privacy_continue,
        Action.PRIVACY_NOT_NOW: on_privacy_not_now,
        Action.RESUME: on_resume,
        Action.START_OVER: on_start_over,
        Action.START_OVER_CONFIRMED: on_start_over_confirmed,
        Action.CHOOSE: on_choose,
        Action.SKIP: on_skip,
        Action.EDIT: on_edit,
        Action.REVIEW_OK: on_review_ok,
        Action.SHEET_CONSENT: on_sheet_consent,
        Action.DISCARD_CONFIRMED: on_discard,
        Action.DISCARD_KEEP: on_keep,
    }
    for action, callback in presses.items():
        app.add_handler(CallbackQueryHandler(callback, pattern=_press(action)))
    app.add_handler(MessageHandler(filters.UpdateType.EDITED, edited))


__all__ = ["SheetStep", "register", "student_other", "student_start", "student_text"]
