"""Security notices: students removed from their course, times only, automatic, never lost."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot import texts
from bot.clock import FixedClock
from bot.services.cases.cases import legacy_reference
from bot.services.notices import security
from bot.transport import LocalChat, LocalUser
from bot.vocabulary import AuditAction, DisclosureBasis, Role
from storage import audit as audit_log
from storage.models import Appointment, Student
from tests.handlers.conftest import (
    ADVISER,
    COORDINATOR,
    SECURITY,
    Bot,
    add_staff,
    case_reference,
    submit_sheet,
)
from tests.handlers.test_booking_journey import (
    adviser_with_tuesdays,
    book_first_in_person,
    deliver,
)

NOTICE_ON_CAMPUS = (
    "USS appointment: on campus\nSam Jones (student number 210012345) has a pre-arranged "
    "appointment with the Union Support Service on Tuesday 1 December 2026 from 10:00 to "
    "10:45, and will be on campus for it."
)


def security_texts(bot: Bot, chat_id: int = SECURITY.id) -> list[str]:
    return [m.plain_text for m in bot.api.messages(chat_id)]


def notices(bot: Bot, chat_id: int = SECURITY.id) -> list[str]:
    """What Security was sent, without the outbox reference line."""
    return [t.rsplit("\n\nRef ", 1)[0] for t in security_texts(bot, chat_id)]


async def disclosures(bot: Bot) -> list[tuple[str, dict[str, Any]]]:
    async with bot.deps.uow() as uow:
        return [
            (e.subject or "", e.detail)
            async for e in audit_log.entries(
                uow.session, bot.deps.cipher, action=AuditAction.DISCLOSURE_MADE
            )
        ]


async def with_security(bot: Bot) -> None:
    await adviser_with_tuesdays(bot)
    await add_staff(bot, SECURITY, Role.SECURITY)


async def removed_student_booked(bot: Bot, student: LocalChat) -> None:
    await with_security(bot)
    await submit_sheet(student, removed=True)
    await book_first_in_person(student)


async def move_to(student: LocalChat, mode: str, day: str, at: str) -> None:
    await student.send("/appointments")
    await student.press(0)
    await student.press(mode)
    await student.press(day)
    await student.press(at)
    await student.press(texts.BTN_CONFIRM_MOVE)


async def test_booking_in_person_tells_security_who_and_when_and_records_the_disclosure(
    bot: Bot, student: LocalChat
) -> None:
    await removed_student_booked(bot, student)
    assert texts.SECURITY_TOLD_AT_BOOKING in student.last_text
    await deliver(bot)
    assert notices(bot) == [NOTICE_ON_CAMPUS]
    async with bot.deps.uow() as uow:
        appointment_id = await uow.session.scalar(select(Appointment.id))
    assert await disclosures(bot) == [
        (
            appointment_id,
            {
                "basis": DisclosureBasis.SECURITY_TIMES.value,
                "notice": "expected",
                "recipients": 1,
            },
        )
    ]
    await deliver(bot)
    assert len(security_texts(bot)) == 1


async def test_a_phone_appointment_or_a_student_not_removed_sends_security_nothing(
    bot: Bot, student: LocalChat
) -> None:
    await with_security(bot)
    await submit_sheet(student, removed=True)
    await student.press(texts.BTN_BOOK)
    await student.press("By phone")
    await student.press("Tue 1 Dec")
    await student.press("14:00")
    await student.press(texts.BTN_CONFIRM_BOOKING)
    assert texts.SECURITY_TOLD_AT_BOOKING not in student.last_text
    other = bot.chat(LocalUser(1002, "Kim", "Lee"))
    await submit_sheet(other)
    await book_first_in_person(other)
    assert texts.SECURITY_TOLD_AT_BOOKING not in other.last_text
    await deliver(bot)
    assert security_texts(bot) == []
    assert await disclosures(bot) == []


async def test_a_move_gives_the_new_times_and_says_the_old_one_no_longer_stands(
    bot: Bot, student: LocalChat
) -> None:
    await removed_student_booked(bot, student)
    await move_to(student, "In person", "Tue 1 Dec", "11:00")
    await deliver(bot)
    assert notices(bot)[1] == (
        "USS appointment moved\nSam Jones (student number 210012345) now has their "
        "pre-arranged appointment with the Union Support Service on Tuesday 1 December 2026 "
        "from 11:00 to 11:45. The previous time, Tuesday 1 December 2026 from 10:00 to 10:45, "
        "no longer stands."
    )
    # Moving to the phone brings nobody to campus: the time is withdrawn.
    await move_to(student, "By phone", "Tue 1 Dec", "14:00")
    await deliver(bot)
    assert notices(bot)[2].startswith("USS appointment time withdrawn\n")
    assert "Tuesday 1 December 2026 from 11:00 to 11:45" in notices(bot)[2]
    assert [d["notice"] for _, d in await disclosures(bot)] == ["expected", "moved", "withdrawn"]


async def test_a_cancellation_by_the_student_or_the_service_is_passed_on(
    bot: Bot, student: LocalChat
) -> None:
    await removed_student_booked(bot, student)
    await student.send("/appointments")
    await student.press("Cancel Tue 01 Dec 10:00")
    await student.press(texts.BTN_CANCEL_APPOINTMENT)
    await deliver(bot)
    assert notices(bot)[-1] == (
        "USS appointment cancelled\nThe appointment of Sam Jones (student number 210012345) "
        "with the Union Support Service on Tuesday 1 December 2026 from 10:00 to 10:45 is "
        "cancelled: they are not expected on campus for it."
    )
    # Booked again, then cancelled by the adviser for the service.
    await student.send("/book")
    await student.press("In person")
    await student.press("Tue 1 Dec")
    await student.press("10:00")
    await student.press(texts.BTN_CONFIRM_BOOKING)
    adviser = bot.chat(ADVISER)
    await adviser.send("/availability off 1/12/2026")
    await adviser.press("Cancel 1 booking and tell the students", message=adviser.replies[1])
    await deliver(bot)
    assert [n.split("\n")[0] for n in notices(bot)] == [
        "USS appointment: on campus",
        "USS appointment cancelled",
        "USS appointment: on campus",
        "USS appointment cancelled",
    ]


async def test_marking_attended_tells_security_nothing(bot: Bot, student: LocalChat) -> None:
    await removed_student_booked(bot, student)
    clock: FixedClock = bot.deps.clock  # type: ignore[assignment]
    clock.set(datetime(2026, 12, 1, 10, 5, tzinfo=UTC))
    adviser = bot.chat(ADVISER)
    await adviser.send("/today")
    await adviser.press("✓ 10:00 attended")
    await deliver(bot)
    assert len(notices(bot)) == 1


async def student_case(bot: Bot) -> str:
    async with bot.deps.uow() as uow:
        student_id = await uow.session.scalar(select(Student.id))
    assert student_id is not None
    return legacy_reference(student_id)


async def current_reference(bot: Bot) -> str:
    async with bot.deps.uow() as uow:
        student_id = await uow.session.scalar(select(Student.id))
    assert student_id is not None
    return await case_reference(bot, student_id)


async def test_staff_set_and_clear_the_flag_security_and_the_student_are_told(
    bot: Bot, student: LocalChat
) -> None:
    await with_security(bot)
    await submit_sheet(student)
    await book_first_in_person(student)
    await deliver(bot)
    assert security_texts(bot) == []
    old_style = await student_case(bot)
    case = await current_reference(bot)
    adviser = bot.chat(ADVISER)
    # The reference from before cases existed is still accepted; the reply names the case's.
    await adviser.send(f"/removed {old_style.lower()} on")
    assert adviser.last_text == (
        f"Recorded: case {case} is removed from their course. Security is being told "
        "(1 message). The student is being told."
    )
    await deliver(bot)
    assert notices(bot) == [NOTICE_ON_CAMPUS]
    assert "Your adviser has recorded that you have been removed" in student.last_text
    await adviser.send(f"/removed {case.lower()} on")
    assert adviser.last_text == f"Case {case} was already recorded as removed from their course."
    await adviser.send(f"/removed {case} off")
    await deliver(bot)
    assert notices(bot)[-1].startswith("USS appointment time withdrawn\nPlease disregard")
    assert "have not been removed" in student.last_text
    async with bot.deps.uow() as uow:
        flag_changes = [
            e.actor
            async for e in audit_log.entries(
                uow.session, bot.deps.cipher, action=AuditAction.REMOVED_FLAG_CHANGED
            )
        ]
    assert len(flag_changes) == 3 and all(a.startswith("staff:") for a in flag_changes)


async def test_removed_refuses_students_bad_usage_and_unknown_cases(
    bot: Bot, student: LocalChat
) -> None:
    await with_security(bot)
    await submit_sheet(student)
    case = await student_case(bot)
    await student.send(f"/removed {case} on")
    assert student.last_text == texts.NOT_AUTHORISED
    adviser = bot.chat(ADVISER)
    await adviser.send("/removed")
    assert adviser.last_text == texts.REMOVED_USAGE
    await adviser.send(f"/removed {case} perhaps")
    assert adviser.last_text == texts.REMOVED_USAGE
    await adviser.send("/removed 00000000 on")
    assert adviser.last_text == texts.UNKNOWN_CASE
    await adviser.send("/removed <b>x</b> on")
    assert adviser.last_text == texts.UNKNOWN_CASE
    async with bot.deps.uow() as uow:
        row = await uow.session.scalar(select(Student))
        assert row is not None
        assert not await security.is_removed(uow, bot.deps, row)


async def test_the_case_reference_is_on_the_summary_and_the_agenda(
    bot: Bot, student: LocalChat
) -> None:
    await removed_student_booked(bot, student)
    await deliver(bot)
    async with bot.deps.uow() as uow:
        student_id = await uow.session.scalar(select(Student.id))
    assert student_id is not None
    case = await case_reference(bot, student_id)
    assert len(case) == 6 and case != legacy_reference(student_id)
    adviser = bot.chat(ADVISER)
    assert f"CONFIDENTIAL: USS intake summary (case {case})" in adviser.last_text
    clock: FixedClock = bot.deps.clock  # type: ignore[assignment]
    clock.set(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    await adviser.send("/week")
    assert f"case {case}" in adviser.last_text


async def test_chat_ids_from_settings_receive_notices_too(
    make_bot: object, settings: object, student: LocalChat, bot: Bot
) -> None:
    bot.deps.settings.security_chat_ids = (9001, SECURITY.id)
    await removed_student_booked(bot, student)
    await deliver(bot)
    assert notices(bot, 9001) == [NOTICE_ON_CAMPUS]
    assert notices(bot) == [NOTICE_ON_CAMPUS]  # staff chat named twice, told once


async def test_with_nobody_to_tell_the_coordinator_is_alerted_without_details(
    bot: Bot, student: LocalChat
) -> None:
    await adviser_with_tuesdays(bot)
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    await submit_sheet(student, removed=True)
    await book_first_in_person(student)
    await deliver(bot)
    told = [m.plain_text for m in bot.api.messages(COORDINATOR.id)]
    assert any(t.startswith("A Security notice is due, but nobody") for t in told)
    assert not any("Sam" in t or "210012345" in t for t in told)


async def test_security_can_do_nothing_but_read(bot: Bot, student: LocalChat) -> None:
    await with_security(bot)
    sid = bot.chat(SECURITY)
    for attempt in ("/today", "/removed 00000000 on", "/book", "hello", "/availability"):
        await sid.send(attempt)
        assert sid.last_text == texts.SECURITY_ONLY


# ---------------------------------------------------------------- the daily digest


async def test_the_digest_lists_tomorrows_notified_appointments_once(
    bot: Bot, student: LocalChat
) -> None:
    await removed_student_booked(bot, student)
    await deliver(bot)
    clock: FixedClock = bot.deps.clock  # type: ignore[assignment]
    clock.set(datetime(2026, 11, 30, 16, 59, tzinfo=UTC))  # 16:59 in London
    assert await security.queue_digest(bot.deps) == 0
    clock.advance(timedelta(minutes=1))
    assert await security.queue_digest(bot.deps) == 1
    assert await security.queue_digest(bot.deps) == 0  # every minute after: nothing more
    await deliver(bot)
    assert notices(bot)[-1] == (
        "USS appointments on campus tomorrow, Tuesday 1 December 2026\n"
        "• 10:00-10:45 Sam Jones (student number 210012345)"
    )
    assert [d["notice"] for _, d in await disclosures(bot)] == ["expected", "digest"]
    # The next day's digest says there is nothing, rather than staying silent.
    clock.advance(timedelta(days=1))
    assert await security.queue_digest(bot.deps) == 1
    await deliver(bot)
    assert notices(bot)[-1].endswith("Wednesday 2 December 2026\nNone to tell you about.")


async def test_the_digest_can_be_turned_off_and_moved(bot: Bot, student: LocalChat) -> None:
    await removed_student_booked(bot, student)
    clock: FixedClock = bot.deps.clock  # type: ignore[assignment]
    clock.set(datetime(2026, 11, 30, 18, 0, tzinfo=UTC))
    bot.deps.settings.security_digest = False
    assert await security.queue_digest(bot.deps) == 0
    bot.deps.settings.security_digest = True
    bot.deps.settings.security_digest_at = time(19, 30)
    assert await security.queue_digest(bot.deps) == 0
    clock.set(datetime(2026, 11, 30, 19, 30, tzinfo=UTC))
    assert await security.queue_digest(bot.deps) == 1


@pytest.mark.parametrize("removed", [True, False])
async def test_the_digest_leaves_out_what_security_was_not_told(
    bot: Bot, student: LocalChat, removed: bool
) -> None:
    await with_security(bot)
    await submit_sheet(student, removed=removed)
    await book_first_in_person(student)
    clock: FixedClock = bot.deps.clock  # type: ignore[assignment]
    clock.set(datetime(2026, 11, 30, 17, 0, tzinfo=UTC))
    await security.queue_digest(bot.deps)
    await deliver(bot)
    assert ("Sam Jones" in notices(bot)[-1]) is removed


async def test_another_advisers_case_asks_why_before_the_flag_is_recorded(
    bot: Bot, student: LocalChat
) -> None:
    await with_security(bot)
    await submit_sheet(student)
    await book_first_in_person(student)
    await deliver(bot)
    case = await current_reference(bot)
    other = LocalUser(2002, "Blair", "Other")
    await add_staff(bot, other, Role.ADVISER)
    chat = bot.chat(other)
    await chat.send(f"/removed {case} on")
    assert chat.last_text.startswith(f"Case {case} is not assigned to you. Why")
    await deliver(bot)
    assert security_texts(bot) == []
    await chat.press("The student contacted me")
    await chat.send(f"/removed {case} on")
    assert chat.last_text.startswith(f"Recorded: case {case} is removed from their course.")
