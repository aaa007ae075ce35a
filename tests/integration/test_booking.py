"""Booking on both engines: only offered slots, the upcoming limit, and the 50-way race."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.clock import FixedClock
from bot.services.booking import booking
from bot.services.deps import Deps
from bot.services.errors import NoSheet, SlotTaken, TooManyAppointments
from bot.services.intake.sheet_store import write_answers
from bot.services.intake.students import register_student
from bot.services.notices import security
from bot.services.staff import staff
from bot.vocabulary import (
    AppointmentMode,
    AppointmentStatus,
    Role,
    SheetField,
    SheetStatus,
    SheetStep,
)
from storage import data_keys
from storage.models import Appointment, AvailabilityWindow, InformationSheet

ADVISER_TG = 2001


async def an_adviser(
    deps: Deps, *, weekday: int = 1, start: int = 10 * 60, end: int = 12 * 60 + 30
) -> str:
    async with deps.uow() as uow:
        member = await staff.add_staff(
            uow,
            deps,
            telegram_user_id=ADVISER_TG,
            name="Alex Adviser",
            role=Role.ADVISER,
            actor="test",
        )
        uow.session.add(
            AvailabilityWindow(
                staff_id=member.id,
                weekday=weekday,
                start_minute=start,
                end_minute=end,
                mode=AppointmentMode.IN_PERSON.value,
                created_at=deps.clock.now(),
            )
        )
        await uow.commit()
        return member.id


async def a_student(deps: Deps, telegram_id: int, *, submitted: bool = True) -> None:
    now = deps.clock.now()
    async with deps.uow() as uow:
        student = await register_student(uow, deps, telegram_id)
        if submitted:
            sheet = InformationSheet(
                student_id=student.id,
                status=SheetStatus.SUBMITTED.value,
                step=SheetStep.SUBMITTED.value,
                editing=False,
                consent_position=5,
                created_at=now,
                updated_at=now,
                scheduled_at=now,
                submitted_at=now,
            )
            await data_keys.bind(uow.session, sheet)
            write_answers(deps, sheet, {SheetField.FULL_NAME: f"Student {telegram_id}"})
            uow.session.add(sheet)
        await uow.commit()


async def test_open_slots_come_from_the_advisers_availability(deps: Deps) -> None:
    adviser = await an_adviser(deps)
    async with deps.uow() as uow:
        slots = await booking.open_slots(uow, deps)
    assert slots
    assert {s.staff_id for s in slots} == {adviser}
    assert slots[0].starts_at == datetime(
        2026, 12, 1, 10, 0, tzinfo=UTC
    )  # today's 10:00 is too soon


async def test_a_student_books_an_offered_slot_and_it_is_no_longer_offered(deps: Deps) -> None:
    adviser = await an_adviser(deps)
    await a_student(deps, 1)
    async with deps.uow() as uow:
        first = (await booking.open_slots(uow, deps))[0]
    async with deps.uow() as uow:
        made = await booking.book(uow, deps, 1, adviser, first.starts_at)
    assert (made.starts_at, made.mode) == (first.starts_at, AppointmentMode.IN_PERSON)
    async with deps.uow() as uow:
        assert first.starts_at not in [s.starts_at for s in await booking.open_slots(uow, deps)]


async def test_a_time_that_is_not_offered_is_refused(deps: Deps) -> None:
    adviser = await an_adviser(deps)
    await a_student(deps, 1)
    async with deps.uow() as uow:
        with pytest.raises(SlotTaken):
            await booking.book(uow, deps, 1, adviser, datetime(2026, 12, 1, 10, 7, tzinfo=UTC))


async def test_booking_needs_a_submitted_sheet(deps: Deps) -> None:
    adviser = await an_adviser(deps)
    await a_student(deps, 1, submitted=False)
    async with deps.uow() as uow:
        slot = (await booking.open_slots(uow, deps))[0]
        with pytest.raises(NoSheet):
            await booking.book(uow, deps, 1, adviser, slot.starts_at)


async def test_a_student_has_at_most_the_configured_number_of_upcoming_appointments(
    deps: Deps,
) -> None:
    adviser = await an_adviser(deps)
    await a_student(deps, 1)
    async with deps.uow() as uow:
        slots = await booking.open_slots(uow, deps)
    async with deps.uow() as uow:
        await booking.book(uow, deps, 1, adviser, slots[0].starts_at)
    async with deps.uow() as uow:
        with pytest.raises(TooManyAppointments) as caught:
            await booking.book(uow, deps, 1, adviser, slots[1].starts_at)
    assert caught.value.limit == 1


async def test_fifty_students_racing_for_one_slot_exactly_one_wins(deps: Deps) -> None:
    adviser = await an_adviser(deps)
    for telegram_id in range(100, 150):
        await a_student(deps, telegram_id)
    async with deps.uow() as uow:
        slot = (await booking.open_slots(uow, deps))[0]

    async def attempt(telegram_id: int) -> object:
        async with deps.uow() as uow:
            return await booking.book(uow, deps, telegram_id, adviser, slot.starts_at)

    outcomes = await asyncio.gather(*(attempt(i) for i in range(100, 150)), return_exceptions=True)
    winners = [o for o in outcomes if isinstance(o, booking.BookedAppointment)]
    losers = [o for o in outcomes if isinstance(o, SlotTaken)]
    assert len(winners) == 1
    assert len(losers) == 49
    async with deps.uow() as uow:
        booked = await uow.session.scalar(
            select(func.count())
            .select_from(Appointment)
            .where(Appointment.status == AppointmentStatus.BOOKED.value)
        )
    assert booked == 1


async def test_the_database_itself_refuses_a_second_live_booking_of_a_slot(
    deps: Deps, clock: FixedClock
) -> None:
    adviser = await an_adviser(deps)
    await a_student(deps, 1)
    await a_student(deps, 2)
    from bot.services.intake.students import find_student

    start = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    async with deps.uow() as uow:
        ids = [(await find_student(uow, deps, t)).id for t in (1, 2)]  # type: ignore[union-attr]
    now = clock.now()
    rows = [
        Appointment(
            student_id=i,
            staff_id=adviser,
            starts_at=start,
            ends_at=start + timedelta(minutes=45),
            mode="in_person",
            status="booked",
            sequence=0,
            created_at=now,
            updated_at=now,
            scheduled_at=now,
        )
        for i in ids
    ]
    async with deps.uow() as uow:
        await data_keys.bind(uow.session, *rows)
        for row in rows:
            security.nothing_told(deps, row)
        uow.session.add(rows[0])
        await uow.commit()
    from sqlalchemy.exc import IntegrityError

    async with deps.uow() as uow:
        uow.session.add(rows[1])
        with pytest.raises(IntegrityError):
            await uow.commit()
