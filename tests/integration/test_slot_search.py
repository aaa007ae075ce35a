"""The slot search at scale: a fixed number of queries, and live bookings found by their index."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.services.booking import booking
from bot.services.deps import Deps
from bot.services.intake.students import register_student
from bot.services.notices import security
from bot.services.staff import staff
from bot.vocabulary import AppointmentMode, AppointmentStatus, Role
from storage import data_keys
from storage.models import (
    SECURITY_RECORD_BYTES,
    Appointment,
    AvailabilityChange,
    AvailabilityWindow,
    Base,
)
from tests.conftest import Database

BOOKED_INDEXES = ("uq_appointments_booked_slot", "ix_appointments_booked_staff_ends_at")


async def add_advisers(deps: Deps, numbers: range) -> list[str]:
    """Advisers with weekly windows (two modes), a day off, an extra time and one booking each;
    adviser n starts 15n minutes later than adviser 0, so no two offer the same slots."""
    now = deps.clock.now()
    monday = now.astimezone(deps.settings.zone).date() + timedelta(days=6)
    ids = []
    async with deps.uow() as uow:
        for n in numbers:
            member = await staff.add_staff(
                uow,
                deps,
                telegram_user_id=3000 + n,
                name=f"Adviser {n}",
                role=Role.ADVISER,
                actor="test",
            )
            for weekday, mode in ((n % 5, AppointmentMode.IN_PERSON), (4, AppointmentMode.PHONE)):
                uow.session.add(
                    AvailabilityWindow(
                        staff_id=member.id,
                        weekday=weekday,
                        start_minute=9 * 60 + 15 * n,
                        end_minute=13 * 60,
                        mode=mode.value,
                        created_at=now,
                    )
                )
            for offset, kind, start, end, mode_text in (
                (n % 5, "remove", None, None, None),
                (5, "add", 10 * 60 + 15 * n, 12 * 60 + 15 * n, "video"),
            ):
                uow.session.add(
                    AvailabilityChange(
                        staff_id=member.id,
                        day=monday + timedelta(days=offset),
                        kind=kind,
                        start_minute=start,
                        end_minute=end,
                        mode=mode_text,
                        created_at=now,
                    )
                )
            ids.append(member.id)
        await uow.commit()
    async with deps.uow() as uow:
        student = await register_student(uow, deps, 4000)
        for adviser_id in ids:
            slot = (await booking.open_slots(uow, deps, staff_id=adviser_id))[1]
            appointment = Appointment(
                student_id=student.id,
                staff_id=adviser_id,
                starts_at=slot.starts_at,
                ends_at=slot.ends_at,
                mode=slot.mode.value,
                status=AppointmentStatus.BOOKED.value,
                sequence=0,
                created_at=now,
                updated_at=now,
                scheduled_at=now,
            )
            await data_keys.bind(uow.session, appointment)
            security.nothing_told(deps, appointment)
            uow.session.add(appointment)
        await uow.commit()
    return ids


@contextmanager
def statements_sent(engine: AsyncEngine) -> Iterator[list[tuple[str, Any]]]:
    """Every statement sent to the database inside the block, with its parameters."""
    sent: list[tuple[str, Any]] = []

    def record(_conn: object, _cursor: object, statement: str, parameters: Any, *_: object) -> None:
        sent.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def selects_in_one_search(deps: Deps, engine: AsyncEngine) -> int:
    async with deps.uow() as uow:
        with statements_sent(engine) as sent:
            slots = await booking.open_slots(uow, deps)
    assert slots
    return sum(statement.lstrip().upper().startswith("SELECT") for statement, _ in sent)


async def test_a_slot_search_sends_as_many_selects_for_five_advisers_as_for_one(
    database: Database, deps: Deps
) -> None:
    await add_advisers(deps, range(1))
    for_one = await selects_in_one_search(deps, database.engine)
    await add_advisers(deps, range(1, 5))
    for_five = await selects_in_one_search(deps, database.engine)
    assert for_five == for_one


async def test_a_search_across_advisers_offers_what_each_adviser_offers_alone(
    deps: Deps,
) -> None:
    advisers = await add_advisers(deps, range(5))
    async with deps.uow() as uow:
        everyone = await booking.open_slots(uow, deps)
        alone = [s for a in advisers for s in await booking.open_slots(uow, deps, staff_id=a)]
        video = await booking.open_slots(uow, deps, mode=AppointmentMode.VIDEO)
    assert {s.staff_id for s in everyone} == set(advisers)
    assert everyone == sorted(alone, key=lambda s: (s.starts_at, s.staff_id))
    assert video == [s for s in everyone if s.mode is AppointmentMode.VIDEO]


def test_the_booked_predicate_is_a_literal_the_partial_indexes_match() -> None:
    where = Appointment.is_booked.compile()
    assert str(where) == f"appointments.status = '{AppointmentStatus.BOOKED.value}'"
    assert not where.params
    indexes = {str(i.name): i for i in Base.metadata.tables["appointments"].indexes}
    for name in BOOKED_INDEXES:
        for dialect in ("postgresql", "sqlite"):
            index_where = indexes[name].dialect_options[dialect]["where"]
            assert str(index_where) == f"status = '{AppointmentStatus.BOOKED.value}'"


# ------------------------------------------------ PostgreSQL: the plan at 100,000 appointments

APPOINTMENTS = 100_000


async def fill(deps: Deps, advisers: list[str], count: int) -> None:
    """Appointments two hours apart, all but the last 500 in the past, over the advisers: past
    ones attended, missed or left booked (nobody marked them), future ones cancelled or booked."""
    now = deps.clock.now()
    async with deps.uow() as uow:
        student = await register_student(uow, deps, 4001)
        await uow.commit()
    past = ("attended", "no_show", "booked")
    future = ("cancelled", "booked")
    rows = []
    for i in range(count):
        starts_at = now + timedelta(hours=2 * (i - count + 500), minutes=7)  # off the grid
        statuses = past if starts_at < now else future
        rows.append(
            {
                "id": f"fill{i:012d}",
                "student_id": student.id,
                "staff_id": advisers[i % len(advisers)],
                "starts_at": starts_at,
                "ends_at": starts_at + timedelta(minutes=45),
                "mode": AppointmentMode.IN_PERSON.value,
                "status": statuses[i % len(statuses)],
                "sequence": 0,
                "created_at": now,
                "updated_at": now,
                "scheduled_at": now,
                # Never read here: random bytes standing in for the sealed record.
                "security_enc": os.urandom(SECURITY_RECORD_BYTES),
            }
        )
    async with deps.uow() as uow:
        for chunk in range(0, count, 10_000):
            await uow.session.execute(insert(Appointment), rows[chunk : chunk + 10_000])
        await uow.commit()


def sql_literal(value: object) -> str:
    """A value as PostgreSQL reads it in EXECUTE's argument list."""
    if isinstance(value, datetime):
        return f"'{value.astimezone(UTC).isoformat()}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    raise TypeError(f"no literal for {type(value).__name__}")


async def generic_plan(engine: AsyncEngine, statement: str, parameters: Any) -> str:
    """EXPLAIN of a statement as it was sent, prepared and planned without its parameters'
    values: the generic plan PostgreSQL switches a prepared statement to after a few runs."""
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        await raw.execute("SET plan_cache_mode = force_generic_plan")
        await raw.execute(f"PREPARE booked_query AS {statement}")
        arguments = ", ".join(sql_literal(p) for p in parameters)
        rows = await raw.fetch(f"EXPLAIN EXECUTE booked_query({arguments})")
        await raw.execute("DEALLOCATE booked_query")
        await raw.execute("RESET plan_cache_mode")
    return "\n".join(row[0] for row in rows)


async def test_live_bookings_are_found_through_their_partial_index_in_a_generic_plan(
    database: Database, deps: Deps
) -> None:
    if database.kind != "postgresql":
        pytest.skip("generic plans of prepared statements are PostgreSQL's")
    advisers = await add_advisers(deps, range(5))
    await fill(deps, advisers, APPOINTMENTS)
    async with database.engine.begin() as conn:
        await conn.exec_driver_sql("ANALYZE appointments")
    async with deps.uow() as uow:
        with statements_sent(database.engine) as sent:
            await booking.open_slots(uow, deps)
            await booking.open_slots(uow, deps, staff_id=advisers[0])
    booked_queries = [(s, p) for s, p in sent if "FROM appointments" in s]
    assert len(booked_queries) == 2
    for statement, parameters in booked_queries:
        plan = await generic_plan(database.engine, statement, parameters)
        assert any(name in plan for name in BOOKED_INDEXES), plan
        assert "Seq Scan on appointments" not in plan, plan
