"""Drive simulated students through the whole sheet and consent; print throughput and latency.

    python -m bench.intake [--students 50] [--concurrency 10] [--engines sqlite,postgresql]

Next to it, a bare python-telegram-bot echo bot fed the same number of updates the same way,
so the figures show what the intake itself costs. Prints figures; asserts nothing on time.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

from bot.app import build_application
from bot.clock import SystemClock
from bot.settings import Settings
from bot.transport import LocalBotApi, LocalChat, LocalRequest, LocalUser, UpdateFactory
from storage.crypto import BlindIndex, KeyRing, new_key_material, parse_key_spec
from storage.engine import make_engine
from storage.migrate import upgrade

POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
# The answers a student gives, by the question's opening words (kept here, not imported from
# tests, so the benchmark does not depend on the test suite).
TYPED = {
    "Question 1 ": "Sam Jones",
    "Question 2 ": "210012345",
    "Question 3 ": "sam.jones@city.ac.uk",
    "Question 4 ": "07700 900123",
    "Question 5 ": "BSc Nursing",
    "Question 8 ": "I was marked absent for a placement I attended and now face a fail.",
    "Question 9 ": "tomorrow",
    "Question 11 ": "Step-free access, please",
}
PRESSED = {
    "Question 6 ": "Year 2",
    "Question 7 ": "Academic appeal",
    "Question 10 ": "No",
    "Question 12 ": "In person",
}


@dataclass
class Timings:
    latencies: list[float] = field(default_factory=list)

    async def timed(self, step: Awaitable[Any]) -> None:
        started = time.perf_counter()
        await step
        self.latencies.append(time.perf_counter() - started)


async def one_student(chat: LocalChat, timings: Timings) -> None:
    await timings.timed(chat.send("/start"))
    await timings.timed(chat.press("Continue"))
    while True:
        current = chat.last_text
        typed = next((v for k, v in TYPED.items() if current.startswith(k)), None)
        pressed = next((v for k, v in PRESSED.items() if current.startswith(k)), None)
        if typed is not None:
            await timings.timed(chat.send(typed))
        elif pressed is not None:
            await timings.timed(chat.press(pressed))
        elif current.startswith("Please check your answers"):
            await timings.timed(chat.press("Everything is correct"))
        elif current.startswith(("Consent ", "Last step")):
            await timings.timed(chat.press("Yes"))
        else:
            break
    if not chat.last_text.startswith("Thank you."):
        raise RuntimeError(f"student {chat.user.id} did not finish: {chat.last_text[:60]!r}")


async def run_all(count: int, concurrency: int, job: Callable[[int], Awaitable[None]]) -> float:
    gate = asyncio.Semaphore(concurrency)

    async def guarded(i: int) -> None:
        async with gate:
            await job(i)

    started = time.perf_counter()
    await asyncio.gather(*(guarded(i) for i in range(count)))
    return time.perf_counter() - started


async def intake(
    engine_name: str, students: int, concurrency: int
) -> tuple[int, float, list[float]] | str:
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
            await admin.dispose()
            return f"skipped (no server at {url})"
        engine = make_engine(url, search_path=schema)
    await upgrade(engine)
    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    api = LocalBotApi()
    app = build_application(
        settings,
        clock=SystemClock(),
        keys=KeyRing(parse_key_spec(f"k1:{new_key_material()}")),
        index=BlindIndex.from_spec(new_key_material()),
        engine=engine,
        request=LocalRequest(api),
    )
    await app.initialize()
    factory, timings = UpdateFactory(api), Timings()

    async def student(i: int) -> None:
        await one_student(LocalChat(app, api, factory, LocalUser(10_000 + i, "Bench")), timings)

    try:
        wall = await run_all(students, concurrency, student)
    finally:
        await app.shutdown()
        await engine.dispose()
        if schema is not None:
            async with admin.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            await admin.dispose()
    return len(timings.latencies), wall, timings.latencies


async def echo_baseline(updates: int, concurrency: int) -> tuple[int, float, list[float]]:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(update.effective_message.text or "")

    api = LocalBotApi()
    app: Application[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder().token("1:LOCAL").request(LocalRequest(api)).build()
    )
    app.add_handler(MessageHandler(filters.TEXT, echo))
    await app.initialize()
    factory, timings = UpdateFactory(api), Timings()

    async def send(i: int) -> None:
        payload = factory.text(LocalUser(20_000 + i, "Echo"), "hello")
        await timings.timed(app.process_update(Update.de_json(payload, app.bot)))

    wall = await run_all(updates, concurrency, send)
    await app.shutdown()
    return updates, wall, timings.latencies


def row(name: str, students: int, updates: int, wall: float, latencies: list[float]) -> str:
    ms = sorted(x * 1000 for x in latencies)
    q = statistics.quantiles(ms, n=100) if len(ms) > 1 else ms * 99
    return (
        f"{name:<12}{students:>9}{updates:>9}{wall:>8.2f}{updates / wall:>8.0f}"
        f"{q[49]:>8.2f}{q[94]:>8.2f}{q[98]:>8.2f}"
    )


async def main(students: int, concurrency: int, engines: list[str]) -> None:
    columns = ("students", "updates", "wall s", "upd/s", "p50 ms", "p95 ms", "p99 ms")
    widths = (9, 9, 8, 8, 8, 8, 8)
    print(f"{'engine':<12}" + "".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)))
    results = {name: await intake(name, students, concurrency) for name in engines}
    measured = [r for r in results.values() if not isinstance(r, str)]
    updates = measured[0][0] if measured else students * 20
    echo = await echo_baseline(updates, concurrency)
    print(row("echo (bare)", students, *echo))
    for name, result in results.items():
        print(f"{name:<12}{result}" if isinstance(result, str) else row(name, students, *result))
    for name, result in results.items():
        if not isinstance(result, str):
            ratio = (echo[0] / echo[1]) / (result[0] / result[1])
            print(f"{name}: the bare echo bot handles {ratio:.1f}x as many updates per second")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    asyncio.run(main(args.students, args.concurrency, args.engines.split(",")))
