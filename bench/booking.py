"""Booking figures: students booking at once, and the slot search on an empty vs a full database.

    python -m bench.booking [--students 100,500] [--appointments 100000]
                            [--engines sqlite,postgresql]

Prints figures; asserts nothing on time. It does check that no slot was booked twice, and it
counts (and names) every booking that failed with anything but "taken".
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import event, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import FixedClock
from bot.services.booking import booking
from bot.services.deps import Deps
from bot.services.errors import SlotTaken
from bot.services.intake.sheet_store import write_answers
from bot.services.intake.students import register_student
from bot.services.staff import staff
from bot.settings import Settings
from bot.vocabulary import AppointmentMode, Role, SheetField, SheetStatus, SheetStep
from storage import data_keys
from storage.crypto import (
    AuditKey,
    BlindIndex,
    FieldCipher,
    KeyRing,
    new_key_material,
    parse_key_spec,
)
from storage.engine import make_engine, make_sessions
from storage.migrate import upgrade
from storage.models import (
    SECURITY_RECORD_BYTES,
    Appointment,
    AvailabilityWindow,
    InformationSheet,
    new_id,
)

POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday morning


# The engine to dispose of, and the PostgreSQL schema or the SQLite folder to remove.
Handle = tuple[AsyncEngine, str | None, str | None]


async def prepared(engine_name: str) -> tuple[Deps, Handle] | None:
    schema = folder = None
    if engine_name == "sqlite":
        folder = tempfile.mkdtemp()
        url = f"sqlite:///{folder}/bench.db"
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
        AuditKey.from_spec(new_key_material()),
    )
    return deps, (engine, schema, folder)


async def cleanup(handle: Handle) -> None:
    engine, schema, folder = handle
    await engine.dispose()
    if folder:
        shutil.rmtree(folder)  # 100,000 appointments take about 60 MB
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
            await data_keys.bind(uow.session, sheet)
            write_answers(deps, sheet, {SheetField.FULL_NAME: f"Student {s}"})
            uow.session.add(sheet)
        await uow.commit()
    return ids


@dataclass
class Race:
    wall: float
    booked: int
    taken_retries: int
    # Bookings that failed with anything but "taken" (a student who got "Something went
    # wrong"), by exception type; that student stops trying.
    errors: Counter[str]
    latencies: list[float]


async def race(deps: Deps, students: int) -> Race:
    """Every student books the earliest slot still offered, retrying on 'taken'."""
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    taken_retries = 0

    # As deployed, the update processor runs at most this many updates at once; the others
    # wait their turn (the search and the booking are two updates: a press, then a confirm).
    places = asyncio.Semaphore(deps.settings.updates_at_once())

    async def one(s: int) -> None:
        nonlocal taken_retries
        while True:
            started = time.perf_counter()
            try:
                async with places, deps.uow(read_only=True) as uow:
                    slot = (await booking.open_slots(uow, deps))[s % 7]
                async with places, deps.uow() as uow:
                    await booking.book(uow, deps, 100_000 + s, slot.staff_id, slot.starts_at)
                latencies.append(time.perf_counter() - started)
                return
            except SlotTaken:
                taken_retries += 1
            except Exception as error:  # counted and printed: the bench goes on
                errors[type(error).__name__] += 1
                return

    started = time.perf_counter()
    await asyncio.gather(*(one(s) for s in range(students)))
    wall = time.perf_counter() - started
    async with deps.uow() as uow:
        rows = await uow.session.execute(select(Appointment.staff_id, Appointment.starts_at))
        slots = [tuple(r) for r in rows]
    if len(slots) != students - errors.total():
        raise RuntimeError(f"{len(slots)} bookings for {students - errors.total()} students")
    if len(set(slots)) != len(slots):
        raise RuntimeError("a slot was booked twice")
    return Race(wall, len(slots), taken_retries, errors, latencies)


async def search_time(deps: Deps, repeat: int = 50, warm_up: int = 5) -> float:
    """The median time of one slot search (a unit of work of its own), after a few untimed
    ones (PostgreSQL plans a prepared statement anew for its first five runs)."""
    samples = []
    for run in range(warm_up + repeat):
        started = time.perf_counter()
        async with deps.uow() as uow:
            await booking.open_slots(uow, deps)
        if run >= warm_up:
            samples.append(time.perf_counter() - started)
    return statistics.median(samples)


async def selects_per_search(deps: Deps, engine: AsyncEngine) -> int:
    """How many SELECT statements one slot search sends to the database."""
    selects = 0

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        nonlocal selects
        selects += statement.lstrip().upper().startswith("SELECT")

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        async with deps.uow() as uow:
            await booking.open_slots(uow, deps)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    return selects


# Past appointments were attended, missed, or left booked (nobody marked them); future ones in
# this fill are cancelled. None of them is live in the search's window, so the slots offered are
# the same as on the empty database and only the database's work can differ.
PAST = ("attended", "no_show", "booked")


async def fill(deps: Deps, engine: AsyncEngine, adviser_ids: list[str], count: int) -> None:
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
                    "status": PAST[i % len(PAST)] if start < NOW else "cancelled",
                    "sequence": 0,
                    "created_at": NOW,
                    "updated_at": NOW,
                    "scheduled_at": NOW,
                    # Never read by the search: random bytes standing in for the sealed record.
                    "security_enc": os.urandom(SECURITY_RECORD_BYTES + 32),
                }
            )
        for chunk in range(0, count, 10_000):
            await uow.session.execute(insert(Appointment), rows[chunk : chunk + 10_000])
        await uow.commit()
    if engine.dialect.name == "postgresql":
        # What autovacuum does shortly after a bulk load; the search is timed after it.
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE appointments"))


async def race_row(name: str, students: int) -> str | None:
    made = await prepared(name)
    if made is None:
        return None
    deps, handle = made
    try:
        await advisers_and_students(deps, 5, students)
        run = await race(deps, students)
    finally:
        await cleanup(handle)
    q = statistics.quantiles(sorted(x * 1000 for x in run.latencies), n=100)
    figures = [str(students), str(run.booked), f"{run.wall:.2f}", f"{run.booked / run.wall:.0f}"]
    figures += [str(run.taken_retries), str(run.errors.total()), f"{q[49]:.1f}", f"{q[98]:.1f}"]
    errors = ", ".join(f"{kind} x{n}" for kind, n in run.errors.most_common())
    return f"{name:<11}" + "".join(f"{f:>9}" for f in figures) + (f"  ({errors})" if errors else "")


async def search_row(name: str, appointments: int) -> str | None:
    made = await prepared(name)
    if made is None:
        return None
    deps, handle = made
    try:
        adviser_ids = await advisers_and_students(deps, 5, 10)
        selects = await selects_per_search(deps, handle[0])
        empty = await search_time(deps)
        await fill(deps, handle[0], adviser_ids, appointments)
        full = await search_time(deps)
    finally:
        await cleanup(handle)
    figures = (f"{appointments:,}", str(selects), f"{empty * 1000:.1f}", f"{full * 1000:.1f}")
    return f"{name:<11}" + "".join(f"{f:>13}" for f in figures) + f"{full / empty:>9.2f}"


async def main(students: list[int], appointments: int, engines: list[str]) -> None:
    heads = ("students", "booked", "wall s", "book/s", "retries", "errors", "p50 ms", "p99 ms")
    if students:
        print(f"{'engine':<11}" + "".join(f"{h:>9}" for h in heads))
    for name in engines:
        for count in students:
            row = await race_row(name, count)
            print(row or f"{name:<11}skipped (no server at {POSTGRES_URL})", flush=True)
    if students:
        print()
    search_heads = ("appointments", "SELECTs", "empty ms", "full ms")
    print(f"{'engine':<11}" + "".join(f"{h:>13}" for h in search_heads) + f"{'ratio':>9}")
    for name in engines:
        row = await search_row(name, appointments)
        print(row or f"{name:<11}skipped (no server at {POSTGRES_URL})", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--students", default="100,500", help="comma-separated race sizes")
    parser.add_argument("--appointments", type=int, default=100_000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    sizes = [int(n) for n in args.students.split(",") if n]  # --students= times the search only
    asyncio.run(main(sizes, args.appointments, args.engines.split(",")))
