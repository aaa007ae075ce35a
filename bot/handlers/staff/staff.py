"""Staff journeys: invites, the policy acknowledgement, the staff list and deactivation
(/policy itself: bot/handlers/staff/policy.py)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot import keyboards, policy_texts, texts
from bot.callbacks import Action
from bot.handlers.common import (
    App,
    Context,
    boundary,
    deps_of,
    press_of,
    say,
    send_policy,
    settle_press,
    uow_for,
    user_id,
)
from bot.handlers.staff import second_factor
from bot.services.errors import (
    AlreadyStaff,
    InviteInvalid,
    LastCoordinator,
    PolicyReplaced,
    UnknownStaff,
)
from bot.services.staff import second_factor as second_factors
from bot.services.staff import staff
from bot.services.staff.policy import current_policy
from bot.services.staff.staff import StaffSummary
from bot.vocabulary import STAFF_ROLES, FactorState, Role


async def staff_start(update: Update, context: Context, role: Role) -> None:
    """/start from staff: who they are, and the policy if they still need to acknowledge it."""
    async with uow_for(update, context) as uow:
        me = await staff.whoami(uow, deps_of(context), user_id(update))
        document = await current_policy(uow)
    assert me is not None
    await say(update, context, texts.staff_welcome(me.name, role))
    if not me.acknowledged_current_policy:
        await send_policy(update, context, document, role)
    elif await second_factor.setup_needed(update, context):
        await second_factor.offer_setup(update, context)
    else:
        await say(update, context, help_for(role))


async def redeem(update: Update, context: Context, token: str) -> None:
    """/start inv_…: an invited person becomes staff, then reads the policy."""
    user = update.effective_user
    assert user is not None
    deps = deps_of(context)
    try:
        async with uow_for(update, context) as uow:
            member = await staff.redeem_invite(uow, deps, user.id, token, user.full_name)
            document = await current_policy(uow)
    except InviteInvalid as invalid:
        await say(update, context, texts.INVITE_PROBLEMS[invalid.problem.value])
        return
    except AlreadyStaff:
        await say(update, context, texts.ALREADY_STAFF)
        return
    await say(update, context, texts.staff_welcome(user.full_name, Role(member.role)))
    await send_policy(update, context, document, Role(member.role))


def help_for(role: Role) -> str:
    if role is Role.COORDINATOR:
        return texts.HELP_COORDINATOR
    if role is Role.ADVISER:
        return texts.HELP_ADVISER
    if role is Role.SECURITY:
        return texts.SECURITY_ONLY
    return texts.HELP_STUDENT


@boundary
async def on_policy_ack(update: Update, context: Context) -> None:
    """I have read it: the acknowledgement of the version this button came with."""
    shown = press_of(update).ref
    try:
        async with uow_for(update, context) as uow:
            deps = deps_of(context)
            document = await staff.acknowledge_policy(uow, deps, user_id(update), shown)
            role = await staff.role_of(uow, deps, user_id(update))
            factor = await second_factors.state_of(uow, deps, user_id(update))
    except PolicyReplaced as replaced:
        # A newer version was published after this one was sent: that one is to be read.
        await settle_press(update, context)
        await say(update, context, policy_texts.POLICY_REPLACED)
        await send_policy(update, context, replaced.policy)
        return
    await settle_press(update, context)
    await say(update, context, texts.policy_acknowledged(document.version))
    if factor in (FactorState.NOT_SET_UP, FactorState.AWAITING_CODE):
        await second_factor.send_setup(update, context)  # advisers and coordinators, once
        return
    await say(update, context, help_for(role))


@boundary
async def invite(update: Update, context: Context) -> None:
    """/invite ROLE: a coordinator makes a single-use invite link."""
    args = context.args or []
    role = _role_named(args[0]) if len(args) == 1 else None
    if role is None:
        async with uow_for(update, context) as uow:
            await staff.authorise(
                uow, deps_of(context), user_id(update), (Role.COORDINATOR,), command="invite"
            )
        await say(update, context, texts.INVITE_USAGE)
        return
    async with uow_for(update, context) as uow:
        made = await staff.create_invite(uow, deps_of(context), user_id(update), role)
    link = f"https://t.me/{context.bot.username}?start={made.start_payload}"
    zone = deps_of(context).settings.zone
    await say(update, context, texts.invite_created(link, role, made.expires_at, zone))


def _role_named(word: str) -> Role | None:
    try:
        role = Role(word.strip().lower())
    except ValueError:
        return None
    return role if role in STAFF_ROLES else None


@boundary
async def staff_list(update: Update, context: Context) -> None:
    """/staff: everyone registered, with buttons to deactivate."""
    deps = deps_of(context)
    async with uow_for(update, context) as uow:
        members = await staff.list_staff(uow, deps, user_id(update))
        me = await staff.whoami(uow, deps, user_id(update))
        factors = await second_factors.states(uow, deps, user_id(update))
    assert me is not None
    lines = [_staff_line(m, factors.get(m.staff_id)) for m in members]
    # A reset is offered wherever there is something to clear: a factor, or one half set up.
    resettable = {i for i, state in factors.items() if state is not FactorState.NOT_SET_UP}
    markup = keyboards.staff_list(members, me.staff_id, resettable)
    await say(update, context, texts.staff_list(lines), markup)


def _staff_line(member: StaffSummary, factor: FactorState | None) -> str:
    line = texts.staff_line(
        member.name, member.role, member.active, member.acknowledged_current_policy
    )
    if member.active and factor is not None:
        line += texts.FACTOR_NOTES.get(factor, "")
    return line


@boundary
async def on_deactivate_ask(update: Update, context: Context) -> None:
    press = press_of(update)
    assert press.staff_id is not None
    deps = deps_of(context)
    async with uow_for(update, context) as uow:
        members = await staff.list_staff(uow, deps, user_id(update))
    target = next((m for m in members if m.staff_id == press.staff_id and m.active), None)
    await settle_press(update, context)
    if target is None:
        await say(update, context, texts.UNKNOWN_STAFF)
        return
    await say(
        update,
        context,
        texts.deactivate_confirm(target.name),
        keyboards.deactivate_confirm(target.staff_id),
    )


@boundary
async def on_deactivate(update: Update, context: Context) -> None:
    press = press_of(update)
    assert press.staff_id is not None
    try:
        async with uow_for(update, context) as uow:
            done = await staff.deactivate(uow, deps_of(context), user_id(update), press.staff_id)
    except LastCoordinator:
        await settle_press(update, context)
        await say(update, context, texts.LAST_COORDINATOR)
        return
    except UnknownStaff:
        await settle_press(update, context)
        await say(update, context, texts.UNKNOWN_STAFF)
        return
    await settle_press(update, context)
    await say(update, context, texts.deactivated(done.name))


@boundary
async def on_close(update: Update, context: Context) -> None:
    await settle_press(update, context, texts.CLOSED)


def register(app: App) -> None:
    app.add_handler(CommandHandler("invite", invite))
    app.add_handler(CommandHandler("staff", staff_list))
    app.add_handler(
        CallbackQueryHandler(on_policy_ack, pattern=rf"^{Action.POLICY_ACK.value}(:|$)")
    )
    app.add_handler(
        CallbackQueryHandler(on_deactivate_ask, pattern=rf"^{Action.DEACTIVATE_ASK.value}:")
    )
    app.add_handler(
        CallbackQueryHandler(on_deactivate, pattern=rf"^{Action.DEACTIVATE_CONFIRMED.value}:")
    )
    app.add_handler(CallbackQueryHandler(on_close, pattern=rf"^{Action.CLOSE.value}$"))
    second_factor.register(app)
