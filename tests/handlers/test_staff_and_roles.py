"""Staff: policy first, invites, the staff list, deactivation, refusals, Security's single use."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot import texts
from bot.clock import FixedClock
from bot.services.staff.policy import bundled_policy
from bot.transport import LocalUser
from bot.vocabulary import AuditAction, Role
from storage import audit as audit_log
from storage.models import PolicyAcknowledgement
from tests.handlers.conftest import (
    ADVISER,
    COORDINATOR,
    SECURITY,
    STUDENT,
    Bot,
    add_staff,
    code_now,
    key_shown,
)

NEWCOMER = LocalUser(5005, "Nia", "Newcomer")


async def actions(bot: Bot) -> list[str]:
    async with bot.deps.uow() as uow:
        return [e.action async for e in audit_log.entries(uow.session, bot.deps.cipher)]


async def test_staff_must_acknowledge_the_policy_before_any_staff_command(bot: Bot) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR, acknowledged=False)
    coordinator = bot.chat(COORDINATOR)
    await coordinator.send("/invite adviser")
    document = coordinator.last
    assert document.document is not None
    assert document.document[0] == bundled_policy().filename
    assert document.document[1].decode() == bundled_policy().text
    assert coordinator.buttons() == [texts.BTN_ACK_POLICY]
    await coordinator.press(texts.BTN_ACK_POLICY)
    assert f"version {bundled_policy().version} is recorded" in coordinator.replies[0].plain_text
    async with bot.deps.uow() as uow:
        ack = (await uow.session.execute(select(PolicyAcknowledgement))).scalar_one()
        assert (ack.policy_version, ack.policy_sha256) == (
            bundled_policy().version,
            bundled_policy().sha256,
        )
    # Then the second factor is set up (tests/handlers/test_second_factor.py), and staff
    # commands work.
    await coordinator.send(code_now(bot, key_shown(coordinator)))
    await coordinator.send("/invite adviser")
    assert "Invite for a new adviser" in coordinator.last_text


async def test_an_invite_link_registers_the_person_once_then_is_used_up(bot: Bot) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    coordinator = bot.chat(COORDINATOR)
    await coordinator.send("/invite adviser")
    link = coordinator.last_text.split("\n")[-1]
    assert link.startswith("https://t.me/uss_intake_bot?start=inv_")
    payload = link.split("start=", 1)[1]

    newcomer = bot.chat(NEWCOMER)
    await newcomer.send(f"/start {payload}")
    assert "registered as adviser" in newcomer.replies[0].plain_text
    assert newcomer.last.document is not None  # the policy, to acknowledge

    someone_else = bot.chat(LocalUser(6006, "Eve"))
    await someone_else.send(f"/start {payload}")
    assert someone_else.last_text == texts.INVITE_PROBLEMS["used"]
    assert AuditAction.INVITE_REDEEMED.value in await actions(bot)


async def test_an_expired_or_unknown_invite_is_refused_with_the_reason(
    bot: Bot, clock: FixedClock
) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    coordinator = bot.chat(COORDINATOR)
    await coordinator.send("/invite security")
    payload = coordinator.last_text.split("start=", 1)[1]
    clock.advance(timedelta(hours=bot.deps.settings.invite_ttl_hours, seconds=1))
    newcomer = bot.chat(NEWCOMER)
    await newcomer.send(f"/start {payload}")
    assert newcomer.last_text == texts.INVITE_PROBLEMS["expired"]
    await newcomer.send("/start inv_made-up-token")
    assert newcomer.last_text == texts.INVITE_PROBLEMS["unknown"]


async def test_invite_without_a_valid_role_shows_usage(bot: Bot) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    coordinator = bot.chat(COORDINATOR)
    for wrong in ("/invite", "/invite student", "/invite wizard"):
        await coordinator.send(wrong)
        assert coordinator.last_text == texts.INVITE_USAGE


async def test_students_and_strangers_are_refused_staff_commands_and_it_is_audited(
    bot: Bot,
) -> None:
    student = bot.chat(STUDENT)
    for command in ("/invite adviser", "/staff", "/policy"):
        await student.send(command)
        assert student.last_text == texts.NOT_AUTHORISED
    refused = [a for a in await actions(bot) if a == AuditAction.ACCESS_REFUSED.value]
    assert len(refused) == 3


async def test_an_adviser_cannot_use_coordinator_commands(bot: Bot) -> None:
    await add_staff(bot, ADVISER, Role.ADVISER)
    adviser = bot.chat(ADVISER)
    await adviser.send("/invite adviser")
    assert adviser.last_text == texts.NOT_AUTHORISED
    await adviser.send("/help")
    assert "/policy" in adviser.last_text
    assert "/invite" not in adviser.last_text


async def test_the_coordinator_lists_and_deactivates_staff(bot: Bot) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    await add_staff(bot, ADVISER, Role.ADVISER)
    coordinator = bot.chat(COORDINATOR)
    await coordinator.send("/staff")
    assert "Alex Adviser: adviser" in coordinator.last_text
    assert coordinator.buttons() == [
        "Deactivate Alex Adviser",
        "Reset second factor: Alex Adviser",
        "Done",
    ]
    await coordinator.press("Deactivate Alex Adviser")
    assert "lose access" in coordinator.last_text
    await coordinator.press("Yes, deactivate")
    assert coordinator.last_text == "Alex Adviser has been deactivated."
    adviser = bot.chat(ADVISER)
    await adviser.send("/policy")
    assert adviser.last_text == texts.NOT_AUTHORISED
    assert AuditAction.STAFF_DEACTIVATED.value in await actions(bot)


async def test_the_last_active_coordinator_cannot_be_deactivated(bot: Bot) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    await add_staff(bot, ADVISER, Role.COORDINATOR)
    first = bot.chat(COORDINATOR)
    await first.send("/staff")
    await first.press("Deactivate Alex Adviser")
    await first.press("Yes, deactivate")
    # Now only one coordinator is active; forge a press to deactivate them.
    async with bot.deps.uow() as uow:
        from bot.services.staff import staff

        me = await staff.find_staff(uow, bot.deps, COORDINATOR.id)
        assert me is not None
        my_id = me.id
    message = bot.api.last_message(COORDINATOR.id)
    assert message is not None
    await first.deliver(bot.factory.callback(COORDINATOR, message, f"dc:{my_id}"))
    assert first.last_text == texts.LAST_COORDINATOR


async def test_security_can_do_nothing_but_receive_notices(bot: Bot) -> None:
    await add_staff(bot, SECURITY, Role.SECURITY)
    security = bot.chat(SECURITY)
    for attempt in ("hello", "/consent", "/staff", "/mysheet"):
        await security.send(attempt)
        assert security.last_text == texts.SECURITY_ONLY
    await security.deliver(bot.factory.sticker(SECURITY))
    assert security.last_text == texts.SECURITY_ONLY
    await security.send("/start")
    assert "registered as Security" in security.replies[0].plain_text


async def test_a_staff_member_who_has_not_acknowledged_gets_the_policy_at_start(bot: Bot) -> None:
    await add_staff(bot, ADVISER, Role.ADVISER, acknowledged=False)
    adviser = bot.chat(ADVISER)
    await adviser.send("/start")
    assert adviser.last.document is not None
    await adviser.press(texts.BTN_ACK_POLICY)
    assert any(m.photo is not None for m in adviser.replies)  # the second factor's set-up
    await adviser.send(code_now(bot, key_shown(adviser)))
    await adviser.send("/start")
    assert adviser.last.document is None
    assert "/policy" in adviser.last_text
