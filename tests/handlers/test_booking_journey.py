"""Booking through Telegram: mode, day, time, confirm; the adviser's confidential summary."""

from __future__ import annotations

from datetime import UTC, timedelta

from icalendar import Calendar
from sqlalchemy import func, select

from bot import texts
from bot.notify import TelegramSender
from bot.services.notices import outbox
from bot.services.staff import staff
from bot.transport import LocalChat, LocalUser, SentMessage
from bot.vocabulary import AppointmentMode, Role
from storage.models import Appointment, AvailabilityWindow
from tests.handlers.conftest import ADVISER, COORDINATOR, STUDENT, Bot, add_staff, submit_sheet

ESCALATE = timedelta(minutes=15)


async def adviser_with_tuesdays(
    bot: Bot, *, acknowledged: bool = True, user: LocalUser = ADVISER
) -> str:
    """An adviser seeing students in person 10:00-12:30 and by phone 14:00-16:30 on Tuesdays."""
    await add_staff(bot, user, Role.ADVISER, acknowledged=acknowledged)
    async with bot.deps.uow() as uow:
        member = await staff.find_staff(uow, bot.deps, user.id)
        assert member is not None
        for mode in (AppointmentMode.IN_PERSON, AppointmentMode.PHONE):
            start = 10 * 60 if mode is AppointmentMode.IN_PERSON else 14 * 60
            uow.session.add(
                AvailabilityWindow(
                    staff_id=member.id,
                    weekday=1,
                    start_minute=start,
                    end_minute=start + 150,
                    mode=mode.value,
                    created_at=bot.deps.clock.now(),
                )
            )
        await uow.commit()
        return member.id


async def deliver(bot: Bot) -> None:
    await outbox.dispatch(bot.deps, TelegramSender(bot.app.bot), escalate_after=ESCALATE)


async def book_first_in_person(student: LocalChat) -> None:
    await student.press(texts.BTN_BOOK)
    assert student.last_text.startswith("Book an appointment")
    await student.press("In person")
    assert student.buttons()[0] == "Tue 1 Dec"
    await student.press("Tue 1 Dec")
    assert student.buttons()[:2] == ["10:00", "11:00"]
    await student.press("10:00")
    assert "Tuesday 1 December 2026, 10:00" in student.last_text
    await student.press(texts.BTN_CONFIRM_BOOKING)


async def booked_appointment(bot: Bot, student: LocalChat) -> str:
    """An adviser with Tuesday times, a submitted sheet, and the first slot booked."""
    await adviser_with_tuesdays(bot)
    await submit_sheet(student)
    await book_first_in_person(student)
    async with bot.deps.uow() as uow:
        appointment_id: str | None = await uow.session.scalar(select(Appointment.id))
    assert appointment_id is not None
    return appointment_id


async def press_as_stranger(bot: Bot, data: str) -> list[SentMessage]:
    """Another Telegram user sends forged button data."""
    mallory = bot.chat(LocalUser(6666, "Mallory"))
    await mallory.send("/help")
    return await mallory.deliver(bot.factory.callback(mallory.user, mallory.last, data))


async def test_a_student_books_after_the_sheet_and_the_adviser_gets_the_summary(
    bot: Bot, student: LocalChat
) -> None:
    await adviser_with_tuesdays(bot)
    await submit_sheet(student)
    await book_first_in_person(student)
    confirmation = student.last_text
    assert confirmation.startswith("Booked. Tuesday 1 December 2026, 10:00 to 10:45, in person.")
    assert bot.deps.settings.office_details in confirmation
    assert "Security" not in confirmation
    await deliver(bot)
    summary = bot.chat(ADVISER).last_text
    assert summary.startswith("CONFIDENTIAL: USS intake summary")
    for expected in (
        "Tuesday 1 December 2026, 10:00",
        "Sam Jones",
        "210012345",
        "Academic appeal",
        "Step-free access",
        "Contact you by email: Yes",
    ):
        assert expected in summary
    assert "Deadline soon: Tuesday 15 December 2026" in summary  # two weeks after the appointment
    assert (
        bot.api.messages(STUDENT.id)[-1].plain_text == confirmation
    )  # nothing else went to the student


async def test_a_student_removed_from_their_course_is_told_security_will_know_the_time(
    bot: Bot, student: LocalChat
) -> None:
    await adviser_with_tuesdays(bot)
    await submit_sheet(student, removed=True)
    await book_first_in_person(student)
    assert texts.SECURITY_TOLD_AT_BOOKING in student.last_text


async def test_a_time_no_longer_offered_is_refused_with_fresh_choices(
    bot: Bot, student: LocalChat
) -> None:
    await adviser_with_tuesdays(bot)
    await submit_sheet(student)
    await student.press(texts.BTN_BOOK)
    await student.press("In person")
    await student.press("Tue 1 Dec")
    times = bot.api.last_message_with_buttons(STUDENT.id)
    assert times is not None
    forged = next(d for label, d in times.buttons[0] if label == "10:00")
    assert forged is not None
    staff_and_minute = forged.split(":", 2)[2]
    minute = int(staff_and_minute.split(":")[1]) + 7  # a start the adviser never offered
    replies = await student.deliver(
        bot.factory.callback(STUDENT, times, f"bc:{staff_and_minute.split(':')[0]}:{minute}")
    )
    assert texts.BOOK_SLOT_TAKEN.split(":")[0] in replies[-1].plain_text
    async with bot.deps.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Appointment)) == 0


async def test_booking_before_the_sheet_points_to_start(bot: Bot, student: LocalChat) -> None:
    await adviser_with_tuesdays(bot)
    await student.send("/book")
    assert student.last_text == texts.BOOK_NEEDS_SHEET.replace("<b>", "").replace("</b>", "")


async def test_with_no_free_times_the_student_is_told_kindly(bot: Bot, student: LocalChat) -> None:
    await submit_sheet(student)
    await student.send("/book")
    await student.press("By video call")
    assert "no free times" in student.last_text


async def test_only_one_upcoming_appointment_by_default(bot: Bot, student: LocalChat) -> None:
    await adviser_with_tuesdays(bot)
    await submit_sheet(student)
    await book_first_in_person(student)
    await student.send("/book")
    await student.press("By phone")
    await student.press("Tue 1 Dec")
    await student.press("14:00")
    await student.press(texts.BTN_CONFIRM_BOOKING)
    assert "You already have 1 upcoming appointment" in student.last_text


async def test_if_the_adviser_cannot_receive_the_summary_coordinators_are_told_without_details(
    bot: Bot, student: LocalChat
) -> None:
    await adviser_with_tuesdays(bot, acknowledged=False)
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    await submit_sheet(student)
    await book_first_in_person(student)
    await deliver(bot)
    assert bot.api.messages(ADVISER.id) == []
    alert = bot.chat(COORDINATOR).last_text
    assert "please reassign" in alert
    assert "Sam Jones" not in alert


async def test_appointments_lists_and_cancels_with_confirmation_freeing_the_slot(
    bot: Bot, student: LocalChat
) -> None:
    await adviser_with_tuesdays(bot)
    await submit_sheet(student)
    await book_first_in_person(student)
    await deliver(bot)
    await student.send("/appointments")
    assert "Tuesday 1 December 2026, 10:00 to 10:45, in person" in student.last_text
    await student.press("Cancel Tue 01 Dec 10:00")
    assert student.buttons() == [texts.BTN_CANCEL_APPOINTMENT, texts.BTN_KEEP_APPOINTMENT]
    await student.press(texts.BTN_CANCEL_APPOINTMENT)
    assert student.last_text.startswith("Cancelled: Tuesday 1 December 2026, 10:00")
    await deliver(bot)
    assert "was cancelled by the student" in bot.chat(ADVISER).last_text
    await student.send("/appointments")
    assert student.last_text == texts.NO_APPOINTMENTS.replace("<b>", "")
    # The slot is offered again.
    await student.send("/book")
    await student.press("In person")
    await student.press("Tue 1 Dec")
    assert "10:00" in student.buttons()


async def test_someone_elses_appointment_id_is_refused_without_effect(
    bot: Bot, student: LocalChat
) -> None:
    appointment_id = await booked_appointment(bot, student)
    replies = await press_as_stranger(bot, f"ay:{appointment_id}")
    assert "expired" in replies[-1].plain_text
    async with bot.deps.uow() as uow:
        status = await uow.session.scalar(select(Appointment.status))
    assert status == "booked"


async def test_moving_keeps_the_record_frees_the_old_slot_and_tells_the_adviser(
    bot: Bot, student: LocalChat
) -> None:
    original_id = await booked_appointment(bot, student)
    await student.send("/appointments")
    await student.press("Move Tue 01 Dec 10:00")
    assert student.last_text.startswith("Move your appointment")
    await student.press("By phone")
    await student.press("Tue 1 Dec")
    await student.press("14:00")
    assert student.buttons()[0] == texts.BTN_CONFIRM_MOVE
    await student.press(texts.BTN_CONFIRM_MOVE)
    assert student.last_text.startswith(
        "Moved. Your appointment is now Tuesday 1 December 2026, 14:00"
    )
    assert "(it was Tuesday 1 December 2026, 10:00)" in student.last_text
    async with bot.deps.uow() as uow:
        rows = list(
            (
                await uow.session.execute(
                    select(Appointment.id, Appointment.mode, Appointment.sequence)
                )
            ).all()
        )
    assert rows == [(original_id, "phone", 1)]
    await deliver(bot)
    assert "has moved to Tuesday 1 December 2026, 14:00" in bot.chat(ADVISER).last_text
    await student.send("/book")
    await student.send("/appointments")
    assert "14:00 to 14:45, by phone" in student.last_text


async def test_a_move_button_for_someone_elses_appointment_is_refused(
    bot: Bot, student: LocalChat
) -> None:
    appointment_id = await booked_appointment(bot, student)
    replies = await press_as_stranger(bot, f"mv:{appointment_id[:8]}")
    assert "expired" in replies[-1].plain_text


def ics_fields(chat: LocalChat) -> dict[str, str]:
    """The calendar file's calendar and event properties, parsed back with icalendar."""
    document = chat.last.document
    assert document is not None
    name, content, _ = document
    assert name.endswith(".ics")
    assert b"\r\n" in content
    assert b"Sam Jones" not in content
    calendar = Calendar.from_ical(content)
    (event,) = calendar.walk("VEVENT")
    fields = {key: str(value) for key, value in calendar.items()}
    fields |= {key: str(value) for key, value in event.items()}
    fields["DTSTART"] = event.decoded("DTSTART").astimezone(UTC).isoformat()
    return fields


async def test_the_calendar_file_keeps_its_uid_and_follows_moves_and_cancellation(
    bot: Bot, student: LocalChat
) -> None:
    await adviser_with_tuesdays(bot)
    await submit_sheet(student)
    await book_first_in_person(student)
    await student.press(texts.BTN_CALENDAR)
    booked = ics_fields(student)
    assert (booked["SEQUENCE"], booked["DTSTART"], booked["STATUS"]) == (
        "0",
        "2026-12-01T10:00:00+00:00",
        "CONFIRMED",
    )
    assert booked["LOCATION"] == bot.deps.settings.office_details
    await student.send("/appointments")
    await student.press("Move Tue 01 Dec 10:00")
    await student.press("By phone")
    await student.press("Tue 1 Dec")
    await student.press("14:00")
    await student.press(texts.BTN_CONFIRM_MOVE)
    await student.press(texts.BTN_CALENDAR)
    moved = ics_fields(student)
    assert moved["UID"] == booked["UID"]
    assert (moved["SEQUENCE"], moved["DTSTART"]) == ("1", "2026-12-01T14:00:00+00:00")
    assert "LOCATION" not in moved
    await student.send("/appointments")
    await student.press("Cancel Tue 01 Dec 14:00")
    await student.press("Yes, cancel it")
    await student.press(texts.BTN_CALENDAR_CANCELLED)
    cancelled = ics_fields(student)
    assert (cancelled["UID"], cancelled["SEQUENCE"]) == (booked["UID"], "2")
    assert (cancelled["METHOD"], cancelled["STATUS"]) == ("CANCEL", "CANCELLED")


async def test_deactivating_an_adviser_with_bookings_asks_coordinators_to_reassign(
    bot: Bot, student: LocalChat
) -> None:
    await adviser_with_tuesdays(bot)
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    await submit_sheet(student)
    await book_first_in_person(student)
    coordinator = bot.chat(COORDINATOR)
    await coordinator.send("/staff")
    await coordinator.press("Deactivate Alex Adviser")
    await coordinator.press("Yes, deactivate")
    await deliver(bot)
    alert = [
        m.plain_text for m in bot.api.messages(COORDINATOR.id) if "upcoming booking" in m.plain_text
    ]
    assert len(alert) == 1
    assert "Alex Adviser has been deactivated and has 1 upcoming booking" in alert[0]
    assert "Sam Jones" not in alert[0]
