"""/reassign: the coordinator hands a booking to another adviser; same time, same record."""

from __future__ import annotations

from sqlalchemy import select

from bot import texts
from bot.services.booking import booking
from bot.services.notices import security
from bot.services.staff import staff
from bot.transport import LocalChat, LocalUser
from bot.vocabulary import AuditAction, Role
from storage import audit as audit_log
from storage import data_keys
from storage.models import Appointment, Student
from tests.handlers.conftest import (
    ADVISER,
    COORDINATOR,
    SECURITY,
    STUDENT,
    Bot,
    add_staff,
    case_reference,
    submit_sheet,
)
from tests.handlers.test_booking_journey import (
    adviser_with_tuesdays,
    book_first_in_person,
    deliver,
    press_as_stranger,
)

SECOND = LocalUser(2002, "Blair", "Second")
THIRD = LocalUser(2003, "Drew", "Third")
WHEN = "Tue 01 Dec 10:00"


async def booked_with_others(bot: Bot, student: LocalChat, *, removed: bool = False) -> LocalChat:
    """Alex holds Tuesday 10:00; Blair has the same Tuesday times; Drew has none published."""
    await adviser_with_tuesdays(bot)
    await add_staff(bot, SECURITY, Role.SECURITY)
    await submit_sheet(student, removed=removed)
    await book_first_in_person(student)
    await adviser_with_tuesdays(bot, user=SECOND)
    await add_staff(bot, THIRD, Role.ADVISER)
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    await deliver(bot)
    return bot.chat(COORDINATOR)


async def deactivate(coordinator: LocalChat, name: str) -> None:
    await coordinator.send("/staff")
    await coordinator.press(f"Deactivate {name}")
    await coordinator.press("Yes, deactivate")


async def appointment(bot: Bot) -> Appointment:
    async with bot.deps.uow() as uow:
        found: Appointment | None = await uow.session.scalar(select(Appointment))
    assert found is not None
    return found


async def staff_id(bot: Bot, user: LocalUser) -> str:
    async with bot.deps.uow() as uow:
        member = await staff.find_staff(uow, bot.deps, user.id)
    assert member is not None
    return member.id


def texts_to(bot: Bot, user: LocalUser) -> list[str]:
    return [m.plain_text for m in bot.api.messages(user.id)]


async def test_a_deactivated_advisers_booking_is_listed_and_handed_to_a_free_adviser(
    bot: Bot, student: LocalChat
) -> None:
    coordinator = await booked_with_others(bot, student, removed=True)
    before = await appointment(bot)
    await deactivate(coordinator, "Alex Adviser")
    await deliver(bot)
    security_before = texts_to(bot, SECURITY)
    assert any("10:00" in t for t in security_before)  # the booking was notified
    student_before = len(texts_to(bot, STUDENT))

    await coordinator.send("/reassign")
    listing = coordinator.last_text
    assert listing.startswith("Bookings that need a new adviser")
    assert f"case {await case_reference(bot, before.student_id)}" in listing
    assert "with Alex Adviser (cannot see students now)" in listing
    assert "Sam Jones" not in listing
    await coordinator.press(f"Reassign {WHEN}")
    # Free then and allowed to see students; those whose times cover it first.
    assert coordinator.buttons() == [
        "✓ Blair Second",
        "Drew Third (outside their times)",
        "Casey Coordinator (outside their times)",
        texts.BTN_CANCEL,
    ]
    await coordinator.press("✓ Blair Second")
    assert "to Blair Second?" in coordinator.last_text
    await coordinator.press(texts.BTN_REASSIGN_CONFIRM)
    assert coordinator.last_text.startswith("Reassigned:")
    assert "now with Blair Second" in coordinator.last_text
    await deliver(bot)

    after = await appointment(bot)
    assert (after.id, after.starts_at, after.sequence) == (before.id, before.starts_at, 0)
    assert after.staff_id == await staff_id(bot, SECOND)
    summary = "\n".join(texts_to(bot, SECOND))
    assert "CONFIDENTIAL" in summary and "Sam Jones" in summary
    told = texts_to(bot, STUDENT)[student_before:]
    assert len(told) == 1 and "will now be with another adviser" in told[0]
    assert "Blair" not in told[0]
    # Security was told times only; the times did not change, so it hears nothing more.
    assert texts_to(bot, SECURITY) == security_before
    async with bot.deps.uow() as uow:
        actions = [e.action async for e in audit_log.entries(uow.session, bot.deps.cipher)]
    assert AuditAction.APPOINTMENT_REASSIGNED.value in actions
    await coordinator.send("/reassign")
    assert coordinator.last_text.startswith("No upcoming booking needs a new adviser.")


async def test_an_active_advisers_booking_is_handed_over_by_case_and_they_are_told(
    bot: Bot, student: LocalChat
) -> None:
    coordinator = await booked_with_others(bot, student)
    case = await case_reference(bot, (await appointment(bot)).student_id)
    await coordinator.send("/reassign")
    assert coordinator.last_text.startswith("No upcoming booking needs a new adviser.")
    await coordinator.send(f"/reassign {case.lower()}")
    assert coordinator.last_text.startswith(f"Upcoming bookings for case {case}")
    assert "with Alex Adviser" in coordinator.last_text
    assert "cannot see students" not in coordinator.last_text
    await coordinator.press(f"Reassign {WHEN}")
    await coordinator.press("Drew Third (outside their times)")
    await coordinator.press(texts.BTN_REASSIGN_CONFIRM)
    await deliver(bot)
    assert (await appointment(bot)).staff_id == await staff_id(bot, THIRD)
    last_to_alex = texts_to(bot, ADVISER)[-1]
    assert "passed to another adviser" in last_to_alex
    assert f"case {case}" in last_to_alex
    assert any("Sam Jones" in t for t in texts_to(bot, THIRD))
    # And back again: Alex gets the summary anew.
    summaries_to_alex = sum("Sam Jones" in t for t in texts_to(bot, ADVISER))
    await coordinator.send(f"/reassign {case}")
    await coordinator.press(f"Reassign {WHEN}")
    await coordinator.press("✓ Alex Adviser")
    await coordinator.press(texts.BTN_REASSIGN_CONFIRM)
    await deliver(bot)
    assert sum("Sam Jones" in t for t in texts_to(bot, ADVISER)) == summaries_to_alex + 1


async def test_an_adviser_booked_at_that_time_is_not_offered(bot: Bot, student: LocalChat) -> None:
    coordinator = await booked_with_others(bot, student)
    await deactivate(coordinator, "Drew Third")
    other = bot.chat(LocalUser(1002, "Robin", "Other"))
    await submit_sheet(other)
    held = await appointment(bot)
    async with bot.deps.uow() as uow:
        await booking.book(uow, bot.deps, 1002, await staff_id(bot, SECOND), held.starts_at)
    case = await case_reference(bot, (await appointment(bot)).student_id)
    await coordinator.send(f"/reassign {case}")
    await coordinator.press(f"Reassign {WHEN}")
    assert coordinator.buttons() == ["Casey Coordinator (outside their times)", texts.BTN_CANCEL]


async def test_with_nobody_free_the_coordinator_is_told_so(bot: Bot, student: LocalChat) -> None:
    coordinator = await booked_with_others(bot, student)
    await deactivate(coordinator, "Blair Second")
    await deactivate(coordinator, "Drew Third")
    held = await appointment(bot)
    async with bot.deps.uow() as uow:
        # The coordinator has another student at that very time.
        other = Appointment(
            student_id=held.student_id,
            staff_id=await staff_id(bot, COORDINATOR),
            starts_at=held.starts_at,
            ends_at=held.ends_at,
            mode=held.mode,
            status="booked",
            sequence=0,
            created_at=held.created_at,
            updated_at=held.created_at,
            scheduled_at=held.created_at,
        )
        await data_keys.bind(uow.session, other)
        security.nothing_told(bot.deps, other)
        uow.session.add(other)
        await uow.commit()
    await coordinator.send(f"/reassign {await case_reference(bot, held.student_id)}")
    await coordinator.press(f"Reassign {WHEN}", message=coordinator.last)
    assert coordinator.last_text == texts.REASSIGN_NOBODY


async def test_a_choice_overtaken_by_a_booking_is_refused_without_effect(
    bot: Bot, student: LocalChat
) -> None:
    coordinator = await booked_with_others(bot, student)
    held = await appointment(bot)
    await coordinator.send(f"/reassign {await case_reference(bot, held.student_id)}")
    await coordinator.press(f"Reassign {WHEN}")
    await coordinator.press("✓ Blair Second")
    other = bot.chat(LocalUser(1002, "Robin", "Other"))
    await submit_sheet(other)
    async with bot.deps.uow() as uow:
        await booking.book(uow, bot.deps, 1002, await staff_id(bot, SECOND), held.starts_at)
    await coordinator.press(texts.BTN_REASSIGN_CONFIRM)
    assert coordinator.last_text == texts.REASSIGN_CLASH
    assert (await appointment(bot)).staff_id == held.staff_id


async def test_only_the_coordinator_may_reassign_and_forged_presses_change_nothing(
    bot: Bot, student: LocalChat
) -> None:
    coordinator = await booked_with_others(bot, student)
    held = await appointment(bot)
    adviser = bot.chat(ADVISER)
    await adviser.send(f"/reassign {await case_reference(bot, held.student_id)}")
    assert adviser.last_text == texts.NOT_AUTHORISED
    forged = f"ry:{await staff_id(bot, SECOND)}:{held.id[:8]}"
    replies = await press_as_stranger(bot, forged)
    assert replies[-1].plain_text == texts.NOT_AUTHORISED
    await adviser.deliver(bot.factory.callback(ADVISER, adviser.last, forged))
    assert adviser.last_text == texts.NOT_AUTHORISED
    # The coordinator's own press with an appointment that is not upcoming is stale.
    stale = f"ry:{await staff_id(bot, SECOND)}:{'0' * 8}"
    await coordinator.send("/help")
    await coordinator.deliver(bot.factory.callback(COORDINATOR, coordinator.last, stale))
    assert "expired" in coordinator.last_text
    assert (await appointment(bot)).staff_id == held.staff_id
    async with bot.deps.uow() as uow:
        refused = [
            e
            async for e in audit_log.entries(
                uow.session, bot.deps.cipher, action=AuditAction.ACCESS_REFUSED
            )
        ]
    assert len(refused) >= 3


async def test_an_unknown_case_and_a_case_without_bookings_get_clear_replies(
    bot: Bot, student: LocalChat
) -> None:
    coordinator = await booked_with_others(bot, student)
    await coordinator.send("/reassign nonsense")
    assert coordinator.last_text == texts.UNKNOWN_CASE
    other = bot.chat(LocalUser(1002, "Robin", "Other"))
    await submit_sheet(other)
    async with bot.deps.uow() as uow:
        student_ids = list((await uow.session.execute(select(Appointment.student_id))).scalars())
        others = [
            s
            for s in (await uow.session.execute(select(Student.id))).scalars()
            if s not in student_ids
        ]
    await coordinator.send(f"/reassign {await case_reference(bot, others[0])}")
    assert coordinator.last_text == texts.REASSIGN_CASE_NONE
