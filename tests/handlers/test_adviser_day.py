"""/today and /week: the adviser's appointments, marking them, and cancelling kindly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot import texts
from bot.clock import FixedClock
from bot.transport import LocalChat
from bot.vocabulary import AuditAction, Role
from storage import audit as audit_log
from storage.models import Appointment
from tests.handlers.conftest import ADVISER, COORDINATOR, STUDENT, Bot, add_staff, submit_sheet
from tests.handlers.test_booking_journey import adviser_with_tuesdays, book_first_in_person, deliver

APPOINTMENT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


async def booked(bot: Bot, student: LocalChat) -> LocalChat:
    await adviser_with_tuesdays(bot)
    await submit_sheet(student)
    await book_first_in_person(student)
    return bot.chat(ADVISER)


async def test_week_lists_appointments_with_name_mode_and_category_and_is_audited(
    bot: Bot, student: LocalChat
) -> None:
    adviser = await booked(bot, student)
    await adviser.send("/week")
    assert (
        "Tue 01 Dec 10:00-10:45 Sam Jones, in person, Academic appeal" not in adviser.last_text
    )  # beyond 7 days
    await adviser.send("/today")
    assert adviser.last_text.endswith("No appointments.")
    clock: FixedClock = bot.deps.clock  # type: ignore[assignment]
    clock.set(APPOINTMENT - timedelta(days=2))
    await adviser.send("/week")
    assert "Tue 01 Dec 10:00-10:45 Sam Jones, in person, Academic appeal" in adviser.last_text
    assert adviser.buttons() == ["Cancel Tue 10:00"]  # not started: nothing to mark yet
    async with bot.deps.uow() as uow:
        actions = [e.action async for e in audit_log.entries(uow.session, bot.deps.cipher)]
    assert AuditAction.AGENDA_READ.value in actions


async def test_once_started_it_can_be_marked_attended_or_no_show(
    bot: Bot, student: LocalChat
) -> None:
    adviser = await booked(bot, student)
    clock: FixedClock = bot.deps.clock  # type: ignore[assignment]
    clock.set(APPOINTMENT + timedelta(minutes=5))
    await adviser.send("/today")
    assert adviser.buttons() == ["✓ 10:00 attended", "✗ 10:00 no-show", "Cancel Tue 10:00"]
    await adviser.press("✓ 10:00 attended")
    await adviser.send("/today")
    assert "✓ attended" in adviser.last_text
    async with bot.deps.uow() as uow:
        assert await uow.session.scalar(select(Appointment.status)) == "attended"


async def test_cancelling_for_the_service_tells_the_student_kindly_and_frees_the_slot(
    bot: Bot, student: LocalChat
) -> None:
    adviser = await booked(bot, student)
    clock: FixedClock = bot.deps.clock  # type: ignore[assignment]
    clock.set(APPOINTMENT - timedelta(days=1))
    await adviser.send("/today")
    await adviser.send("/week")
    await adviser.press("Cancel Tue 10:00")
    assert adviser.last_text == texts.SERVICE_CANCEL_ASK
    await adviser.press("Adviser unwell")
    assert adviser.last_text == texts.SERVICE_CANCELLED
    await deliver(bot)
    told = bot.api.messages(STUDENT.id)[-1].plain_text
    assert "very sorry" in told
    assert "your adviser is unwell" in told
    assert "/book" in told
    async with bot.deps.uow() as uow:
        assert await uow.session.scalar(select(Appointment.status)) == "cancelled_by_service"


async def test_students_cannot_see_an_agenda(bot: Bot, student: LocalChat) -> None:
    await student.send("/today")
    assert student.last_text == texts.NOT_AUTHORISED


async def test_a_day_off_over_bookings_offers_to_cancel_them_and_tells_each_student(
    bot: Bot, student: LocalChat
) -> None:
    adviser = await booked(bot, student)
    await adviser.send("/availability off 1/12/2026")
    offer = adviser.replies[1]
    assert offer.plain_text.startswith("1 booking falls in that time off.")
    await adviser.press("Cancel 1 booking and tell the students", message=offer)
    assert adviser.last_text == "Cancelled 1 booking; the students are being told."
    await deliver(bot)
    told = bot.api.messages(STUDENT.id)[-1].plain_text
    assert "your adviser is no longer available then" in told
    assert "/book" in told
    async with bot.deps.uow() as uow:
        assert await uow.session.scalar(select(Appointment.status)) == "cancelled_by_service"


async def test_time_off_that_misses_every_booking_offers_nothing(
    bot: Bot, student: LocalChat
) -> None:
    adviser = await booked(bot, student)
    await adviser.send("/availability off 1/12/2026 14:00-16:00")
    assert not any("falls in that time off" in m.plain_text for m in adviser.replies)


async def test_a_coordinator_gives_an_adviser_a_day_off_and_cancels_its_bookings(
    bot: Bot, student: LocalChat
) -> None:
    await booked(bot, student)
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    coordinator = bot.chat(COORDINATOR)
    await coordinator.send("/availability")
    await coordinator.press(texts.BTN_MANAGE_OTHER)
    await coordinator.press("Alex Adviser")
    await coordinator.send("/availability off 1/12/2026")
    offer = coordinator.replies[1]
    assert offer.plain_text.startswith("1 booking falls in that time off.")
    await coordinator.press("Cancel 1 booking and tell the students", message=offer)
    await deliver(bot)
    assert "no longer available then" in bot.api.messages(STUDENT.id)[-1].plain_text
    async with bot.deps.uow() as uow:
        assert await uow.session.scalar(select(Appointment.status)) == "cancelled_by_service"
