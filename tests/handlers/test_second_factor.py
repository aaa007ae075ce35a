"""The second factor: set-up after the policy, /unlock, /lock, codes never accepted twice, one
step of drift, the lock-out and the coordinator's reset, session expiry, deactivation, and no
code or key in the logs or the database."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import func, select

from bot import texts
from bot.clock import FixedClock
from bot.handlers.staff.second_factor import qr_png
from bot.services.booking import adviser_day
from bot.services.cases import case_access, case_search, disclosure_register
from bot.services.errors import NotAuthorised, SecondFactorNeeded, SessionLocked
from bot.services.notices import outbox
from bot.services.staff import second_factor, staff
from bot.transport import LocalChat, LocalUser, SentMessage
from bot.vocabulary import AuditAction, FactorState, Role
from storage import audit as audit_log
from storage.models import OutboxMessage, StaffSecondFactor
from storage.uow import UnitOfWork
from tests.conftest import Database
from tests.handlers.conftest import (
    ADVISER,
    COORDINATOR,
    SECURITY,
    STUDENT,
    Bot,
    BotMaker,
    add_staff,
    code_now,
    give_second_factor,
    key_shown,
    submit_sheet,
)
from tests.handlers.test_booking_journey import (
    adviser_with_tuesdays,
    book_first_in_person,
    deliver,
)
from tests.integration.test_storage_protection import _raw_contents

STEP = timedelta(seconds=second_factor.STEP_SECONDS)


def not_a_code(bot: Bot, secret: str) -> str:
    """Six digits, as varied as a real code's, that are no code of the drift window now."""
    valid = {code_now(bot, secret, steps=d) for d in (-1, 0, 1)}
    other = pyotp.random_base32()
    return next(c for d in range(9) if (c := code_now(bot, other, steps=d)) not in valid)


async def audited(bot: Bot, action: AuditAction) -> list[dict[str, object]]:
    async with bot.deps.uow() as uow:
        found = audit_log.entries(uow.session, bot.deps.cipher, action=action.value)
        return [entry.detail async for entry in found]


async def factor_of(bot: Bot, user_id: int) -> StaffSecondFactor | None:
    async with bot.deps.uow() as uow:
        member = await staff.find_staff(uow, bot.deps, user_id)
        assert member is not None
        return await uow.session.scalar(
            select(StaffSecondFactor).where(StaffSecondFactor.staff_id == member.id)
        )


def deleted(chat: LocalChat, message: SentMessage) -> bool:
    return chat.api.find_message(chat.user.id, message.message_id) is None


def code_message_deleted(chat: LocalChat) -> bool:
    """Whether the bot deleted the latest message this person sent."""
    received = chat.api.received(chat.user.id)
    return received[max(received)]


async def locked_adviser(bot: Bot, clock: FixedClock) -> tuple[LocalChat, str]:
    """An adviser with a second factor set up and a locked session, half a minute later
    (the confirming code's step is spent)."""
    await add_staff(bot, ADVISER, Role.ADVISER, second_factor=False)
    secret = await give_second_factor(bot.deps, ADVISER.id, unlocked=False)
    clock.advance(STEP)
    return bot.chat(ADVISER), secret


# --------------------------------------------------------------------- set-up


@pytest.mark.parametrize(
    ("person", "role"),
    [(ADVISER, Role.ADVISER), (COORDINATOR, Role.COORDINATOR)],
    ids=["adviser", "coordinator"],
)
async def test_acknowledging_the_policy_sends_a_protected_qr_code_and_key_and_asks_for_a_code(
    bot: Bot, person: LocalUser, role: Role
) -> None:
    """As for the first coordinator added from the command line: /start, the policy, then
    the second factor."""
    await add_staff(bot, person, role, acknowledged=False)
    chat = bot.chat(person)
    await chat.send("/start")
    await chat.press(texts.BTN_ACK_POLICY)
    replies = chat.replies
    (image,) = [m for m in replies if m.photo is not None]
    key_message = next(m for m in replies if m.text and "<code>" in m.text)
    assert image.protect_content and key_message.protect_content
    secret = key_shown(chat)
    assert len(secret) == 32  # 160 bits in base32
    uri = pyotp.TOTP(secret).provisioning_uri(
        name=f"{person.first_name} {person.last_name}",
        issuer_name=bot.deps.settings.service_name,
    )
    assert uri.startswith("otpauth://totp/")
    assert image.photo == qr_png(uri)  # the QR code carries exactly that URI
    assert image.photo[:8] == b"\x89PNG\r\n\x1a\n"
    assert chat.last_text == texts.SECOND_FACTOR_FIRST_CODE
    assert len(await audited(bot, AuditAction.SECOND_FACTOR_SETUP)) == 1


async def test_a_wrong_first_code_is_refused_kindly_and_the_right_one_confirms_and_clears_up(
    bot: Bot,
) -> None:
    await add_staff(bot, ADVISER, Role.ADVISER, acknowledged=False)
    adviser = bot.chat(ADVISER)
    await adviser.send("/start")
    await adviser.press(texts.BTN_ACK_POLICY)
    setup = [m for m in adviser.replies if m.photo is not None or "<code>" in (m.text or "")]
    assert len(setup) == 2
    secret = key_shown(adviser)

    await adviser.send(not_a_code(bot, secret))
    assert adviser.last_text == texts.wrong_code(used_before=False, attempts_left=None)
    assert code_message_deleted(adviser)
    assert not any(deleted(adviser, m) for m in setup)  # still there to scan
    await adviser.send("/today")
    assert adviser.last_text == texts.SECOND_FACTOR_WAITING  # not confirmed: nothing shown

    await adviser.send(code_now(bot, secret))
    assert code_message_deleted(adviser)
    assert all(deleted(adviser, m) for m in setup)
    assert adviser.last_text.startswith("Your second factor is set up")
    await adviser.send("/today")
    assert adviser.last_text.startswith("CONFIDENTIAL: Today")
    assert len(await audited(bot, AuditAction.SECOND_FACTOR_CONFIRMED)) == 1
    assert await audited(bot, AuditAction.SECOND_FACTOR_FAILED) == [{"setting_up": True}]


async def test_the_first_code_may_come_as_unlock_too(bot: Bot) -> None:
    await add_staff(bot, ADVISER, Role.ADVISER, acknowledged=False)
    adviser = bot.chat(ADVISER)
    await adviser.send("/start")
    await adviser.press(texts.BTN_ACK_POLICY)
    await adviser.send(f"/unlock {code_now(bot, key_shown(adviser))}")
    assert code_message_deleted(adviser)
    assert adviser.last_text.startswith("Your second factor is set up")


async def test_existing_staff_set_it_up_at_their_next_staff_command_with_the_same_key(
    bot: Bot,
) -> None:
    await add_staff(bot, ADVISER, Role.ADVISER, second_factor=False)
    adviser = bot.chat(ADVISER)
    await adviser.send("/availability")  # no student in it, but the factor comes first
    assert any(m.photo is not None for m in adviser.replies)
    assert adviser.last_text == texts.SECOND_FACTOR_FIRST_CODE
    first = [m for m in adviser.replies if m.photo is not None or "<code>" in (m.text or "")]
    secret = key_shown(adviser)
    await adviser.send("/case K7PM3Q")
    assert [m.plain_text for m in adviser.replies] == [texts.SECOND_FACTOR_WAITING]
    # Sent again on request: the same key (an app that scanned it goes on working), and the
    # earlier copy leaves the chat.
    await adviser.send("/unlock")
    assert all(deleted(adviser, m) for m in first)
    assert key_shown(adviser) == secret
    await adviser.send(code_now(bot, secret))
    assert adviser.last_text.startswith("Your second factor is set up")


async def test_security_never_sets_up_a_second_factor(bot: Bot) -> None:
    await add_staff(bot, SECURITY, Role.SECURITY, acknowledged=False)
    security = bot.chat(SECURITY)
    await security.send("/start")
    await security.press(texts.BTN_ACK_POLICY)
    assert not any(m.photo is not None for m in security.replies)
    assert security.last_text == texts.SECURITY_ONLY
    assert await factor_of(bot, SECURITY.id) is None


# --------------------------------------------------------------------- unlocking


async def test_unlock_with_a_good_code_opens_the_session_and_deletes_the_message(
    bot: Bot, clock: FixedClock
) -> None:
    adviser, secret = await locked_adviser(bot, clock)
    await adviser.send("/today")
    assert adviser.last_text == texts.SESSION_LOCKED
    await adviser.send(f"/unlock {code_now(bot, secret)}")
    assert code_message_deleted(adviser)
    until = clock.now() + timedelta(hours=bot.deps.settings.staff_session_hours)
    assert adviser.last_text == texts.session_unlocked(until, bot.deps.settings.zone)
    await adviser.send("/today")
    assert adviser.last_text.startswith("CONFIDENTIAL: Today")
    assert await audited(bot, AuditAction.SESSION_UNLOCKED) == [{"hours": 8}, {"hours": 8}]


async def test_a_code_typed_alone_unlocks_too(bot: Bot, clock: FixedClock) -> None:
    adviser, secret = await locked_adviser(bot, clock)
    code = code_now(bot, secret)
    await adviser.send(f"{code[:3]} {code[3:]}")  # as the app shows it
    assert code_message_deleted(adviser)
    assert adviser.last_text.startswith("Unlocked until")


async def test_the_same_code_is_refused_a_second_time(bot: Bot, clock: FixedClock) -> None:
    adviser, secret = await locked_adviser(bot, clock)
    code = code_now(bot, secret)
    await adviser.send(f"/unlock {code}")
    await adviser.send("/lock")
    await adviser.send(f"/unlock {code}")
    assert code_message_deleted(adviser)
    assert adviser.last_text == texts.wrong_code(used_before=True, attempts_left=4)
    await adviser.send("/today")
    assert adviser.last_text == texts.SESSION_LOCKED


async def test_a_second_instance_refuses_a_code_the_first_accepted(
    bot: Bot, make_bot: BotMaker, clock: FixedClock
) -> None:
    """The last accepted step is in the database, so another instance agrees."""
    adviser, secret = await locked_adviser(bot, clock)
    code = code_now(bot, secret)
    await adviser.send(f"/unlock {code}")
    assert adviser.last_text.startswith("Unlocked until")
    other = await make_bot()
    again = other.chat(ADVISER)
    await again.send("/lock")
    await again.send(f"/unlock {code}")
    assert again.last_text == texts.wrong_code(used_before=True, attempts_left=4)


@pytest.mark.parametrize(("steps", "accepted"), [(-1, True), (1, True), (-2, False), (2, False)])
async def test_one_step_of_drift_either_way_is_accepted_and_two_are_not(
    bot: Bot, clock: FixedClock, steps: int, accepted: bool
) -> None:
    adviser, secret = await locked_adviser(bot, clock)
    clock.advance(timedelta(minutes=10))
    await adviser.send(f"/unlock {code_now(bot, secret, steps=steps)}")
    if accepted:
        assert adviser.last_text.startswith("Unlocked until")
    else:
        assert adviser.last_text == texts.wrong_code(used_before=False, attempts_left=4)


async def test_after_a_code_one_step_ahead_the_current_code_is_spent(
    bot: Bot, clock: FixedClock
) -> None:
    adviser, secret = await locked_adviser(bot, clock)
    await adviser.send(f"/unlock {code_now(bot, secret, steps=1)}")
    await adviser.send("/lock")
    await adviser.send(f"/unlock {code_now(bot, secret)}")
    assert adviser.last_text == texts.wrong_code(used_before=True, attempts_left=4)
    clock.advance(2 * STEP)
    await adviser.send(f"/unlock {code_now(bot, secret)}")
    assert adviser.last_text.startswith("Unlocked until")


async def test_unlock_always_deletes_the_message_even_a_mistyped_code(
    bot: Bot, clock: FixedClock
) -> None:
    adviser, _ = await locked_adviser(bot, clock)
    for mistyped in ("12345x", "1234567", "١٢٣٤٥٦"):  # the last in Arabic-Indic digits
        await adviser.send(f"/unlock {mistyped}")
        assert code_message_deleted(adviser)
        assert adviser.last_text == texts.UNLOCK_USAGE


# --------------------------------------------------------------------- the session


async def test_a_session_lasts_the_session_hours_by_the_injected_clock(
    bot: Bot, clock: FixedClock
) -> None:
    adviser, secret = await locked_adviser(bot, clock)
    await adviser.send(f"/unlock {code_now(bot, secret)}")
    hours = timedelta(hours=bot.deps.settings.staff_session_hours)
    clock.advance(hours - timedelta(seconds=1))
    await adviser.send("/today")
    assert adviser.last_text.startswith("CONFIDENTIAL: Today")
    clock.advance(timedelta(seconds=1))
    await adviser.send("/today")
    assert adviser.last_text == texts.SESSION_LOCKED


async def test_lock_ends_the_session(bot: Bot) -> None:
    await add_staff(bot, ADVISER, Role.ADVISER)
    adviser = bot.chat(ADVISER)
    await adviser.send("/lock")
    assert adviser.last_text == texts.SESSION_ENDED
    await adviser.send("/case K7PM3Q")
    assert adviser.last_text == texts.SESSION_LOCKED
    await adviser.send("/lock")
    assert adviser.last_text == texts.SESSION_ALREADY_LOCKED
    assert len(await audited(bot, AuditAction.SESSION_LOCKED)) == 1


async def test_deactivation_ends_the_session(bot: Bot) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    await add_staff(bot, ADVISER, Role.ADVISER)
    coordinator = bot.chat(COORDINATOR)
    await coordinator.send("/staff")
    await coordinator.press("Deactivate Alex Adviser")
    await coordinator.press("Yes, deactivate")
    factor = await factor_of(bot, ADVISER.id)
    assert factor is not None and factor.unlocked_until is None
    async with bot.deps.uow() as uow:
        with pytest.raises(NotAuthorised):
            await second_factor.authorise(
                uow, bot.deps, ADVISER.id, (Role.ADVISER,), command="case"
            )
    # Registered again one day, they would find their session locked, not still open.
    async with bot.deps.uow() as uow:
        member = await staff.find_staff(uow, bot.deps, ADVISER.id)
        assert member is not None
        member.active = True
        await uow.commit()
    await bot.chat(ADVISER).send("/today")
    assert bot.chat(ADVISER).last_text == texts.SESSION_LOCKED


async def test_services_that_read_students_refuse_without_an_unlocked_session(
    bot: Bot, clock: FixedClock
) -> None:
    """The gate refuses first; each service checks again."""
    await add_staff(bot, COORDINATOR, Role.COORDINATOR, unlocked=False)
    await add_staff(bot, ADVISER, Role.ADVISER, second_factor=False)
    await submit_sheet(bot.chat(STUDENT))
    deps = bot.deps
    today = clock.now().date()
    calls: dict[str, Callable[[UnitOfWork, int], Awaitable[object]]] = {
        "case": lambda uow, who: case_access.open_case(uow, deps, who, "K7PM3Q", command="case"),
        "find": lambda uow, who: case_search.find(uow, deps, who, "Sam Jones"),
        "agenda": lambda uow, who: adviser_day.agenda(uow, deps, who, 1),
        "register": lambda uow, who: disclosure_register.register(uow, deps, who, today, today),
    }
    for name, call in calls.items():
        async with deps.uow() as uow:
            with pytest.raises(SessionLocked):
                await call(uow, COORDINATOR.id)
        if name != "register":  # the coordinator's alone
            async with deps.uow() as uow:
                with pytest.raises(SecondFactorNeeded):
                    await call(uow, ADVISER.id)


async def test_a_locked_adviser_still_receives_intake_summaries(
    bot: Bot, clock: FixedClock
) -> None:
    """Summaries are pushed to the adviser when a student books: the session guards reading."""
    await adviser_with_tuesdays(bot)
    adviser = bot.chat(ADVISER)
    await adviser.send("/lock")
    student = bot.chat(STUDENT)
    await submit_sheet(student)
    await book_first_in_person(student)
    await deliver(bot)
    assert adviser.last_text.startswith("CONFIDENTIAL: USS intake summary")


# --------------------------------------------------------------------- lock-out and reset


async def test_five_wrong_codes_lock_the_account_and_the_coordinators_reset_unlocks_it(
    bot: Bot, clock: FixedClock
) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    adviser, secret = await locked_adviser(bot, clock)
    wrong = not_a_code(bot, secret)
    for left in (4, 3, 2, 1):
        await adviser.send(f"/unlock {wrong}")
        assert adviser.last_text == texts.wrong_code(used_before=False, attempts_left=left)
    await adviser.send(f"/unlock {wrong}")
    assert adviser.last_text == texts.SECOND_FACTOR_LOCKED_OUT
    # Locked: the right code no longer helps, and nothing opens.
    await adviser.send(f"/unlock {code_now(bot, secret)}")
    assert adviser.last_text == texts.SECOND_FACTOR_LOCKED_OUT
    for command in ("/today", "/availability"):
        await adviser.send(command)
        assert adviser.last_text == texts.SECOND_FACTOR_LOCKED_OUT
    failures = await audited(bot, AuditAction.SECOND_FACTOR_FAILED)
    assert [f["in_a_row"] for f in failures] == [1, 2, 3, 4, 5]
    assert len(await audited(bot, AuditAction.SECOND_FACTOR_LOCKED_OUT)) == 1

    # The coordinator is told (through the outbox), once.
    async with bot.deps.uow() as uow:
        alerts = await uow.session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.kind == outbox.COORDINATOR_ALERT)
        )
    assert alerts == 1
    await deliver(bot)
    coordinator = bot.chat(COORDINATOR)
    assert "Alex Adviser entered 5 wrong codes in a row" in coordinator.last_text

    await coordinator.send("/staff")
    assert "Alex Adviser: adviser (locked: too many wrong codes)" in coordinator.last_text
    await coordinator.press("Reset second factor: Alex Adviser")
    assert "Reset the second factor of Alex Adviser?" in coordinator.last_text
    await coordinator.press(texts.BTN_RESET_SECOND_FACTOR)
    assert coordinator.last_text == texts.second_factor_reset("Alex Adviser")
    assert len(await audited(bot, AuditAction.SECOND_FACTOR_RESET)) == 1

    # A new set-up, with a new key: the old app entry no longer works.
    await adviser.send("/today")
    assert adviser.last_text == texts.SECOND_FACTOR_FIRST_CODE
    new_secret = key_shown(adviser)
    assert new_secret != secret
    await adviser.send(code_now(bot, new_secret))
    assert adviser.last_text.startswith("Your second factor is set up")
    await adviser.send("/today")
    assert adviser.last_text.startswith("CONFIDENTIAL: Today")


async def test_set_up_codes_never_lock(bot: Bot) -> None:
    """Someone still finding their app is not an attacker: set-up failures are only counted."""
    await add_staff(bot, ADVISER, Role.ADVISER, second_factor=False)
    adviser = bot.chat(ADVISER)
    await adviser.send("/today")
    secret = key_shown(adviser)
    for _ in range(7):
        await adviser.send(not_a_code(bot, secret))
    await adviser.send(code_now(bot, secret))
    assert adviser.last_text.startswith("Your second factor is set up")


async def test_only_an_unlocked_coordinator_resets_and_never_for_security(
    bot: Bot, clock: FixedClock
) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    await add_staff(bot, SECURITY, Role.SECURITY)
    await add_staff(bot, ADVISER, Role.ADVISER)
    coordinator = bot.chat(COORDINATOR)
    await coordinator.send("/staff")
    assert "Reset second factor: Sid Security" not in coordinator.buttons()
    assert "Reset second factor: Alex Adviser" in coordinator.buttons()
    await coordinator.press("Reset second factor: Alex Adviser")
    await coordinator.send("/lock")
    await coordinator.press(texts.BTN_RESET_SECOND_FACTOR)
    assert coordinator.last_text == texts.SESSION_LOCKED
    factor = await factor_of(bot, ADVISER.id)
    assert factor is not None and factor.confirmed_at is not None


async def test_the_staff_list_shows_who_has_not_set_up_their_second_factor(bot: Bot) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    await add_staff(bot, ADVISER, Role.ADVISER, second_factor=False)
    coordinator = bot.chat(COORDINATOR)
    await coordinator.send("/staff")
    assert "Alex Adviser: adviser (second factor not set up)" in coordinator.last_text
    assert "Reset second factor: Alex Adviser" not in coordinator.buttons()
    async with bot.deps.uow() as uow:
        states = await second_factor.all_states(uow, bot.deps)
    assert sorted(states.values()) == sorted([FactorState.UNLOCKED, FactorState.NOT_SET_UP])


# --------------------------------------------------------------------- never in plaintext


async def test_no_code_or_key_reaches_the_logs_or_the_database(
    bot: Bot, clock: FixedClock, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    await add_staff(bot, ADVISER, Role.ADVISER, acknowledged=False)
    adviser = bot.chat(ADVISER)
    codes: list[str] = []
    with caplog.at_level(logging.DEBUG):
        await adviser.send("/start")
        await adviser.press(texts.BTN_ACK_POLICY)
        secret = key_shown(adviser)
        before = await _raw_contents(database)
        for code in (not_a_code(bot, secret), code_now(bot, secret)):
            codes.append(code)
            await adviser.send(code)
        clock.advance(STEP)
        await adviser.send("/lock")
        codes.append(code_now(bot, secret))
        await adviser.send(f"/unlock {codes[-1]}")
        codes.append(not_a_code(bot, secret))
        await adviser.send(f"/unlock {codes[-1]}")
        assert adviser.last_text.startswith("That code isn't right")
    after = await _raw_contents(database)
    assert caplog.records  # the libraries did log: we really looked
    assert len(after) > 1000
    for needle in (secret, secret.lower()):
        assert needle not in caplog.text
        assert needle.encode() not in after
    for code in codes:
        assert code not in caplog.text
        # Six digits may turn up by chance in any file; a code written down would add one.
        assert after.count(code.encode()) == before.count(code.encode())
