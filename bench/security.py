"""Security notice latency: from the booking's commit to the notice being handed to the transport.

    python -m bench.security [--bookings 200] [--interval 3] [--engines sqlite,postgresql]
                             [--no-wake]

Bookings of removed students arrive one every 50 ms. As deployed, each commit that queues a
message wakes a delivery run at once, and the outbox job also runs every `--interval`
seconds (3 s); `--no-wake` leaves only the job, as before the wake-up existed. The real
clock is used, so retry backoff is real. The second row of each engine fails half of all
sends (network error) at random. Prints figures;
asserts nothing on time, but stops if any notice is missing or was handed over twice without
a failure in between.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import statistics
import time
from datetime import timedelta

from sqlalchemy import select

from bench.booking import advisers_and_students, cleanup, prepared
from bot.clock import SystemClock
from bot.services.booking import booking
from bot.services.deps import Deps
from bot.services.intake.sheet_store import latest_submitted_sheet, read_answers, write_answers
from bot.services.notices import outbox
from bot.services.staff import staff
from bot.vocabulary import Role, SheetField, YesNo
from storage.models import Student

SECURITY_CHAT = 800_000
ARRIVAL_GAP = 0.05


class TimedTransport:
    """Records when each Security notice is handed over; fails a share of sends."""

    def __init__(self, failure_rate: float) -> None:
        self.failure_rate = failure_rate
        self.handed: dict[str, float] = {}
        self.failures = 0
        self.duplicates = 0

    async def send(self, chat_id: int, html: str) -> None:
        if random.random() < self.failure_rate:
            self.failures += 1
            raise outbox.DeliveryFailed("network error (simulated)")
        if chat_id != SECURITY_CHAT:
            return
        number = html.split("(student number ", 1)[1].split(")", 1)[0]
        if number in self.handed:
            self.duplicates += 1
        self.handed.setdefault(number, time.perf_counter())


async def removed_students(deps: Deps, count: int) -> None:
    async with deps.uow() as uow:
        await staff.add_staff(
            uow,
            deps,
            telegram_user_id=SECURITY_CHAT,
            name="Security",
            role=Role.SECURITY,
            actor="bench",
        )
        await uow.commit()
    async with deps.uow() as uow:
        students = list((await uow.session.execute(select(Student))).scalars())
        for s in students:
            sheet = await latest_submitted_sheet(uow, s.id)
            assert sheet is not None
            answers = read_answers(deps, sheet)
            name = answers[SheetField.FULL_NAME] or ""
            answers[SheetField.STUDENT_NUMBER] = str(210_000_000 + int(name.split()[-1]))
            answers[SheetField.REMOVED] = YesNo.YES.value
            write_answers(deps, sheet, answers)
        await uow.commit()


async def run(
    deps: Deps, bookings: int, interval: float, failure_rate: float, *, wake: bool
) -> list[float]:
    transport = TimedTransport(failure_rate)
    committed: dict[str, float] = {}
    done = asyncio.Event()
    woken = asyncio.Event()
    last_commit = [0.0]

    def on_commit() -> None:
        last_commit[0] = time.perf_counter()
        if wake:
            woken.set()

    deps.wake_outbox = on_commit

    async def dispatcher() -> None:
        while not done.is_set() or len(transport.handed) < len(committed):
            woken.clear()
            await outbox.dispatch(deps, transport, escalate_after=timedelta(minutes=15))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), interval)

    async def students() -> None:
        for s in range(bookings):
            async with deps.uow() as uow:
                slot = (await booking.open_slots(uow, deps))[0]
            async with deps.uow() as uow:
                await booking.book(uow, deps, 100_000 + s, slot.staff_id, slot.starts_at)
            committed[str(210_000_000 + s)] = last_commit[0]
            await asyncio.sleep(ARRIVAL_GAP)
        done.set()

    await asyncio.wait_for(asyncio.gather(dispatcher(), students()), timeout=1800)
    missing = set(committed) - set(transport.handed)
    if missing:
        raise RuntimeError(f"{len(missing)} notices never handed over")
    if transport.duplicates:
        raise RuntimeError(f"{transport.duplicates} notices handed over twice")
    return [transport.handed[k] - committed[k] for k in committed]


async def main(bookings: int, interval: float, engines: list[str], *, wake: bool) -> None:
    print(f"outbox job every {interval:g} s; {'woken after each commit' if wake else 'no wake-up'}")
    print(
        f"{'engine':<11}{'transport':>14}{'notices':>9}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}"
    )
    for name in engines:
        for failure_rate in (0.0, 0.5):
            made = await prepared(name)
            if made is None:
                print(f"{name:<11}skipped")
                break
            deps, handle = made
            deps.clock = SystemClock()
            try:
                await advisers_and_students(deps, 5, bookings)
                await removed_students(deps, bookings)
                latencies = sorted(await run(deps, bookings, interval, failure_rate, wake=wake))
            finally:
                await cleanup(handle)
            p50 = statistics.median(latencies) * 1000
            p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000
            label = "fails 50%" if failure_rate else "healthy"
            print(
                f"{name:<11}{label:>14}{len(latencies):>9}{p50:>10.0f}{p99:>10.0f}"
                f"{latencies[-1] * 1000:>10.0f}"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bookings", type=int, default=200)
    parser.add_argument("--interval", type=float, default=3.0)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--no-wake", action="store_true", help="only the periodic outbox job")
    args = parser.parse_args()
    logging.getLogger("bot").setLevel(logging.ERROR)  # the 50% run's retries are expected
    asyncio.run(main(args.bookings, args.interval, args.engines.split(","), wake=not args.no_wake))
