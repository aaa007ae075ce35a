"""/mydata for students (what is held, why, who sees it, when it goes; asking for a copy or
for deletion), /request for staff (a request made another way) and /requests for the
coordinator (the register: due dates, extensions, pauses, answers)."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot import lifecycle_texts as words
from bot.callbacks import Action, Press, encode
from bot.handlers.common import (
    App,
    Context,
    boundary,
    deps_of,
    say,
    settle_press,
    uow_for,
    user_id,
)
from bot.services.deps import Deps
from bot.services.errors import RequestRefused
from bot.services.lifecycle import my_data, requests
from bot.services.lifecycle.requests import RequestView
from bot.services.staff import second_factor
from bot.vocabulary import ADVISING_ROLES, PauseReason, RequestChannel, RequestKind, Role
from storage.models import StaffMember
from storage.uow import UnitOfWork

_KINDS = {"copy": RequestKind.ACCESS, "access": RequestKind.ACCESS, "delete": RequestKind.ERASURE}
_CHANNELS = {
    "email": RequestChannel.EMAIL,
    "in-person": RequestChannel.IN_PERSON,
    "inperson": RequestChannel.IN_PERSON,
    "letter": RequestChannel.LETTER,
    "phone": RequestChannel.PHONE,
    "chat": RequestChannel.CHAT,
}


def _buttons(*pairs: tuple[str, Action]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(label, callback_data=encode(Press(action)))]
            for label, action in pairs
        ]
    )


@boundary
async def show_my_data(update: Update, context: Context) -> None:
    """/mydata: what we hold about the student, and the two requests they can make."""
    deps = deps_of(context)
    async with uow_for(update, context) as uow:
        held = await my_data.my_data(uow, deps, user_id(update))
    if not held.anything:
        await say(update, context, words.NOTHING_HELD)
        return
    text = words.my_data(
        sheets=held.sheets,
        consent_choices=held.consent_choices,
        appointments=held.appointments,
        cases=held.cases,
        notes=held.notes,
        documents=held.documents,
        disclosures=held.disclosures,
        deleted_on=held.deleted_on,
        requests=[
            (v.kind, v.status.value, v.received_on, v.due_on, v.closed_on) for v in held.requests
        ],
    )
    markup = _buttons(
        (words.BTN_ASK_COPY, Action.MY_DATA_COPY), (words.BTN_ASK_DELETE, Action.MY_DATA_DELETE_ASK)
    )
    await say(update, context, text, markup)


async def _ask(update: Update, context: Context, kind: RequestKind) -> None:
    try:
        async with uow_for(update, context) as uow:
            view = await requests.ask(uow, deps_of(context), user_id(update), kind)
    except RequestRefused as refused:
        await settle_press(update, context)
        await say(update, context, words.REQUEST_PROBLEMS[refused.problem.value])
        return
    await settle_press(update, context)
    await say(update, context, words.request_taken(kind, view.due_on))


@boundary
async def on_ask_copy(update: Update, context: Context) -> None:
    """A student asks for a copy of everything held about them."""
    await _ask(update, context, RequestKind.ACCESS)


@boundary
async def on_ask_delete(update: Update, context: Context) -> None:
    """Deletion is asked for only after the student confirms it."""
    await settle_press(update, context)
    await say(
        update,
        context,
        words.DELETE_CONFIRM,
        _buttons(
            (words.BTN_DELETE_YES, Action.MY_DATA_DELETE_CONFIRMED),
            (words.BTN_DELETE_NO, Action.CLOSE),
        ),
    )


@boundary
async def on_delete_confirmed(update: Update, context: Context) -> None:
    await _ask(update, context, RequestKind.ERASURE)


@boundary
async def record_request(update: Update, context: Context) -> None:
    """/request CASE copy|delete DATE HOW: a request a student made another way."""
    args = list(context.args or [])
    if len(args) != 4 or args[1].lower() not in _KINDS or args[3].lower() not in _CHANNELS:
        await say(update, context, words.REQUEST_USAGE)
        return
    deps = deps_of(context)
    try:
        async with uow_for(update, context) as uow:
            me = await second_factor.authorise(
                uow, deps, user_id(update), ADVISING_ROLES, command="request"
            )
            received = requests.parse_received(args[2], requests.today(deps))
            view = await requests.record_for(
                uow,
                deps,
                me,
                args[0],
                _KINDS[args[1].lower()],
                _CHANNELS[args[3].lower()],
                received,
            )
    except RequestRefused as refused:
        await say(update, context, words.REQUEST_PROBLEMS[refused.problem.value])
        return
    await say(update, context, words.request_recorded(view.reference, view.kind, view.due_on))


@boundary
async def register_of_requests(update: Update, context: Context) -> None:
    """/requests [ACTION REF …]: the coordinator's register of open requests."""
    args = list(context.args or [])
    deps = deps_of(context)
    if args and args[0].lower() == "help":
        await say(update, context, words.REQUESTS_USAGE)
        return
    views: list[RequestView] = []
    changed: RequestView | None = None
    try:
        async with uow_for(update, context) as uow:
            me = await second_factor.authorise(
                uow, deps, user_id(update), (Role.COORDINATOR,), command="requests"
            )
            if args:
                changed = await _change(uow, deps, me, args)
            else:
                views = await requests.open_requests(uow, deps, me)
    except RequestRefused as refused:
        await say(update, context, words.REQUEST_PROBLEMS[refused.problem.value])
        return
    if changed is not None:
        text = words.request_changed(changed.reference, changed.due_on, changed.status.value)
    elif args:
        text = words.REQUESTS_USAGE
    elif not views:
        text = words.NO_OPEN_REQUESTS
    else:
        rows = [
            (
                v.reference,
                v.kind,
                v.case_reference,
                v.status.value,
                v.received_on,
                v.due_on,
                v.extended_months,
            )
            for v in views
        ]
        text = words.open_requests(rows, requests.today(deps))
    await say(update, context, text)


async def _change(
    uow: UnitOfWork, deps: Deps, me: StaffMember, args: list[str]
) -> RequestView | None:
    """One of the register's actions, or None when the words do not make one."""
    action, rest = args[0].lower(), args[1:]
    if not rest:
        return None
    ref, more = rest[0], rest[1:]
    if action == "extend" and len(more) >= 2 and more[0] in ("1", "2"):
        return await requests.extend(uow, deps, me, ref, int(more[0]), " ".join(more[1:]))
    if action == "unextend" and not more:
        return await requests.withdraw_extension(uow, deps, me, ref)
    if action == "pause" and len(more) == 1 and more[0].lower() in set(PauseReason):
        return await requests.pause(uow, deps, me, ref, PauseReason(more[0].lower()))
    if action == "resume" and not more:
        return await requests.resume(uow, deps, me, ref)
    if action == "sent" and not more:
        return await requests.mark_sent(uow, deps, me, ref)
    if action == "accept" and not more:
        return await requests.accept_deletion(uow, deps, me, ref)
    if action == "decline" and more:
        return await requests.decline_deletion(uow, deps, me, ref, " ".join(more))
    return None


def register(app: App) -> None:
    app.add_handler(CommandHandler("mydata", show_my_data))
    app.add_handler(CommandHandler("request", record_request))
    app.add_handler(CommandHandler("requests", register_of_requests))
    presses = {
        Action.MY_DATA_COPY: on_ask_copy,
        Action.MY_DATA_DELETE_ASK: on_ask_delete,
        Action.MY_DATA_DELETE_CONFIRMED: on_delete_confirmed,
    }
    for action, callback in presses.items():
        app.add_handler(CallbackQueryHandler(callback, pattern=rf"^{action.value}(:|$)"))
