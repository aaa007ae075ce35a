"""Booking figures: 100 students booking at once, and slot search on a full vs empty database.

    python -m bench.booking [--students 100] [--appointments 10000] [--engines sqlite,postgresql]

Prints figures; asserts nothing on time (it does check that no slot was booked twice).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import FixedClock
from bot.services import booking, staff
from bot.services.deps import Deps
from bot.services.errors import SlotTaken
from bot.services.sheet_store import write_answers
from bot.services.students import register_student
from bot.settings import Settings
from bot.vocabulary import AppointmentMode, Role, SheetField, SheetStatus, SheetStep
from storage.crypto import BlindIndex, FieldCipher, KeyRing, new_key_material, parse_key_spec
from storage.engine import make_engine, make_sessions
from storage.migrate import upgrade
from storage.models import Appointment, AvailabilityWindow, InformationSheet, new_id

POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday morning


# The engine to dispose of, and the PostgreSQL schema to drop (None on SQLite).
Handle = tuple[AsyncEngine, str | None]


async def prepared(engine_name: str) -> tuple[Deps, Handle] | None:
    schema = None
    if engine_name == "sqlite":
        url = f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.db"
        engine = make_engine(url)
    else:
        url, schema = POSTGRES_URL, "bench_" + secrets.token_hex(4)
        admin = make_engine(url)
        try:
            async with asyncio.timeout(5), admin.begin() as conn:
                await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        except Exception:
            return None
        finally:
            await admin.dispose()
        engine = make_engine(url, search_path=schema)
    await upgrade(engine)
    settings = Settings(_env_file=None, database_url=url, max_upcoming_appointments=10)  # type: ignore[call-arg]
    deps = Deps(
        make_sessions(engine),
        FieldCipher(KeyRing(parse_key_spec(f"k1:{new_key_material()}"))),
        BlindIndex.from_spec(new_key_material()),
        FixedClock(NOW),
        settings,
    )
    return deps, (engine, schema)


async def cleanup(handle: Handle) -> None:
    engine, schema = handle
    await engine.dispose()
    if schema:
        admin = make_engine(POSTGRES_URL)
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


async def advisers_and_students(deps: Deps, advisers: int, students: int) -> list[str]:
    ids = []
    async with deps.uow() as uow:
        for a in range(advisers):
            member = await staff.add_staff(
                uow,
                deps,
                telegram_user_id=900_000 + a,
                name=f"Adviser {a}",
                role=Role.ADVISER,
                actor="bench",
            )
            for weekday in range(5):
                uow.session.add(
                    AvailabilityWindow(
                        staff_id=member.id,
                        weekday=weekday,
                        start_minute=9 * 60,
                        end_minute=17 * 60,
                        mode=AppointmentMode.IN_PERSON.value,
                        created_at=NOW,
                    )
                )
            ids.append(member.id)
        for s in range(students):
            student = await register_student(uow, deps, 100_000 + s)
            sheet = InformationSheet(
                student_id=student.id,
                status=SheetStatus.SUBMITTED.value,
                step=SheetStep.SUBMITTED.value,
                editing=False,
                consent_position=5,
                created_at=NOW,
                updated_at=NOW,
                submitted_at=NOW,
            )
            write_answers(deps, sheet, {SheetField.FULL_NAME: f"Student {s}"})
            uow.session.add(sheet)
        await uow.commit()
    return ids


async def race(deps: Deps, students: int) -> tuple[float, int, int, list[float]]:
    """Every student books the earliest slot still offered, retrying on 'taken'."""
    latencies: list[float] = []
    taken_retries = 0

    async def one(s: int) -> None:
        nonlocal taken_retries
        while True:
            started = time.perf_counter()
            try:
                async with deps.uow() as uow:
                    slot = (await booking.open_slots(uow, deps))[s % 7]
                async with deps.uow() as uow:
                    await booking.book(uow, deps, 100_000 + s, slot.staff_id, slot.starts_at)
                latencies.append(time.perf_counter() - started)
                return
            except SlotTaken:
                taken_retries += 1

    started = time.perf_counter()
    await asyncio.gather(*(one(s) for s in range(students)))
    wall = time.perf_counter() - started
    async with deps.uow() as uow:
        rows = await uow.session.execute(select(Appointment.staff_id, Appointment.starts_at))
        slots = [tuple(r) for r in rows]
    if len(slots) != students:
        raise RuntimeError(f"{len(slots)} bookings for {students} students")
    if len(set(slots)) != len(slots):
        raise RuntimeError("a slot was booked twice")
    return wall, len(slots), taken_retries, latencies


async def search_time(deps: Deps, repeat: int = 20) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        async with deps.uow() as uow:
            await booking.open_slots(uow, deps)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


async def fill(deps: Deps, adviser_ids: list[str], count: int) -> None:
    """Past and future appointments spread over the advisers, inserted in bulk."""
    async with deps.uow() as uow:
        student_ids = list((await uow.session.execute(text("SELECT id FROM students"))).scalars())
        rows = []
        for i in range(count):
            start = NOW + timedelta(hours=(i - count // 2) * 3 + 1, minutes=7)  # off the slot grid
            rows.append(
                {
                    "id": new_id(),
                    "student_id": student_ids[i % len(student_ids)],
                    "staff_id": adviser_ids[i % len(adviser_ids)],
                    "starts_at": start,
                    "ends_at": start + timedelta(minutes=45),
                    "mode": "in_person",
                    "status": "attended" if start < NOW else "cancelled",
                    "sequence": 0,
                    "created_at": NOW,
                    "updated_at": NOW,
                    "scheduled_at": NOW,
                }
            )
        await uow.session.execute(insert(Appointment), rows)
        await uow.commit()


async def main(students: int, appointments: int, engines: list[str]) -> None:
    heads = ("students", "wall s", "book/s", "retries", "p50 ms", "p99 ms")
    heads2 = ("search empty ms", "search full ms", "ratio")
    print(
        f"{'engine':<11}" + "".join(f"{h:>9}" for h in heads) + "".join(f"{h:>17}" for h in heads2)
    )
    for name in engines:
        made = await prepared(name)
        if made is None:
            print(f"{name:<11}skipped (no server at {POSTGRES_URL})")
            continue
        deps, handle = made
        try:
            adviser_ids = await advisers_and_students(deps, 5, students)
            empty = await search_time(deps)
            wall, booked, retries, latencies = await race(deps, students)
            await fill(deps, adviser_ids, appointments)
            full = await search_time(deps)
            ms = sorted(x * 1000 for x in latencies)
            q = statistics.quantiles(ms, n=100)
            figures = [str(booked), f"{wall:.2f}", f"{booked / wall:.0f}", str(retries)]
            figures += [f"{q[49]:.1f}", f"{q[98]:.1f}"]
            search = (f"{empty * 1000:.1f}", f"{full * 1000:.1f}", f"{full / empty:.2f}")
            print(
                f"{name:<11}"
                + "".join(f"{f:>9}" for f in figures)
                + "".join(f"{f:>17}" for f in search)
            )
        finally:
            await cleanup(handle)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--appointments", type=int, default=10_000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    asyncio.run(main(args.students, args.appointments, args.engines.split(",")))
