"""Drive simulated students through the whole sheet and consent; print throughput and latency.

    python -m bench.intake [--students 50] [--engines sqlite,postgresql] [--concurrency 10]
                           [--serial]

At most `--concurrency` students at once, each sending its updates in order, through the real
Application on the local transport. Each update goes through the Application's update
processor as `run_polling` hands it over, and is timed from hand-over until processed. A bare
echo bot is fed as many text updates the same way. `--serial` lets one update through at a time
(as deployed before the update processor) and times only its processing. Asserts nothing on
time, but exits with status 1 if any student was told "something went wrong" or did not finish
(see bench/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    ContextTypes,
    MessageHandler,
    SimpleUpdateProcessor,
    filters,
)

from bot import texts
from bot.app import build_application
from bot.clock import SystemClock
from bot.settings import Settings
from bot.transport import LocalBotApi, LocalChat, LocalRequest, LocalUser, UpdateFactory
from bot.transport.local import SentMessage
from bot.transport.updates import to_update
from bot.update_order import ChatOrderedProcessor
from storage.crypto import AuditKey, BlindIndex, KeyRing, new_key_material, parse_key_spec
from storage.engine import make_engine
from storage.migrate import upgrade

AnyApp = Application[Any, Any, Any, Any, Any, Any]
Job = Callable[[int], Awaitable[None]]
# The same server the tests use, and the same variable to point elsewhere.
POSTGRES_URL = os.environ.get(
    "USS_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
# The answers a student gives, by the question's opening words. Copied from
# tests/handlers/conftest.py (GOOD_TEXT, GOOD_BUTTON) so the benchmark does not depend on the
# test suite; the due date is "tomorrow" because the bench runs on the real clock.
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
MAX_QUESTIONS = 40  # a question asked again and again would otherwise loop for ever
# What the error boundary's reply starts with, up to the reference that varies.
ERROR_REPLY = texts.something_went_wrong("E-0").partition("E-0")[0]


class TimedChat(LocalChat):
    """A LocalChat whose deliveries are timed (not building the update from JSON).

    Concurrently, an update goes through the Application's update processor and is timed from
    hand-over until processed, which is what the student waits; its processing alone (after
    its turn came) is timed too. Serially (`result.serial`), it goes through `result.serial`
    instead, which lets one through at a time, and only `app.process_update` is timed, as
    before the update processor existed.
    """

    def __init__(self, app: AnyApp, api: LocalBotApi, user: LocalUser, result: Result) -> None:
        super().__init__(app, api, result.factory, user)
        self.result = result

    @staticmethod
    async def _timed(work: Awaitable[None], into: list[float]) -> None:
        started = time.perf_counter()
        await work
        into.append(time.perf_counter() - started)

    async def deliver(self, payload: dict[str, Any]) -> list[SentMessage]:
        before = self._mark = len(self.api.messages(self.user.id))
        update = to_update(payload, self.app)
        if self.result.serial is not None:
            processing = self._timed(self.app.process_update(update), self.result.latencies)
            await self.result.serial.process_update(update, processing)
        else:
            processing = self._timed(self.app.process_update(update), self.result.processing)
            await self._timed(
                self.app.update_processor.process_update(update, processing),
                self.result.latencies,
            )
        return self.api.messages(self.user.id)[before:]


class Unfinished(Exception):
    """A student's journey stopped short of "Thank you."."""


def _finished(chat: LocalChat, expected: str, stage: str) -> None:
    if not chat.last_text.startswith(expected):
        raise Unfinished(
            f"student {chat.user.id} did not reach {expected!r} {stage}; "
            f"the bot's last words were {chat.last_text[:120]!r}"
        )


def error_replies(api: LocalBotApi, chat_id: int) -> int:
    """How many times this chat was told "something went wrong"."""
    return sum(1 for m in api.messages(chat_id) if (m.text or "").startswith(ERROR_REPLY))


async def one_student(chat: LocalChat) -> None:
    """The same steps as submit_sheet() in tests/handlers/conftest.py, consenting to all."""
    await chat.send("/start")
    await chat.press("Continue")
    for _ in range(MAX_QUESTIONS):
        current = chat.last_text
        typed = next((v for k, v in TYPED.items() if current.startswith(k)), None)
        label = next((v for k, v in PRESSED.items() if current.startswith(k)), None)
        if typed is not None:
            await chat.send(typed)
        elif label is not None:
            await chat.press(label)
        else:
            break
    _finished(chat, "Please check your answers", "after the questions")
    await chat.press("Everything is correct")
    for _ in range(MAX_QUESTIONS):
        if not chat.last_text.startswith(("Consent ", "Last step")):
            break
        await chat.press("Yes")
    _finished(chat, "Thank you.", "after consent")


async def run_students(count: int, concurrency: int, job: Job, result: Result) -> float:
    """Run job(0..count-1) as tasks, at most `concurrency` at once; return the wall time.

    A student that fails is recorded in `result.unfinished` and the others go on.
    """
    gate = asyncio.Semaphore(concurrency)

    async def guarded(i: int) -> None:
        async with gate:
            try:
                await job(i)
            except (Unfinished, AssertionError) as exc:
                result.unfinished.append(str(exc) or type(exc).__name__)

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:  # anything else stops the run
        for i in range(count):
            group.create_task(guarded(i))
    return time.perf_counter() - started


@dataclass
class Result:
    name: str
    students: int
    factory: UpdateFactory
    # Lets one update through at a time in --serial; None feeds the Application's processor.
    serial: BaseUpdateProcessor | None
    at_once: int = 1
    wall: float = 0.0
    latencies: list[float] = field(default_factory=list)
    processing: list[float] = field(default_factory=list)  # alone, once its turn came
    skipped: str | None = None
    errors: int = 0  # "something went wrong" replies, over all students
    unfinished: list[str] = field(default_factory=list)
    connections: int = 0  # the most pooled connections in use at once

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.wall

    def quantile(self, percent: int, of: list[float] | None = None) -> float:
        ms = [x * 1000 for x in (self.latencies if of is None else of)]
        if len(ms) < 2:
            return ms[0] if ms else 0.0
        return statistics.quantiles(ms, n=100, method="inclusive")[percent - 1]

    def row(self) -> str:
        if self.skipped:
            return f"{self.name:<12}{self.skipped}"
        return (
            f"{self.name:<12}{self.students:>9}{len(self.latencies):>9}{self.wall:>9.2f}"
            f"{self.rate:>9.0f}{self.quantile(50):>9.2f}{self.quantile(95):>9.2f}"
            f"{self.quantile(99):>9.2f}{self.at_once:>9}{self.connections or '-':>9}"
            f"{self.errors:>9}{len(self.unfinished):>9}"
        )

    def failures(self) -> list[str]:
        found = []
        if self.errors:
            found.append(f'{self.name}: {self.errors} replies were "something went wrong"')
        if self.unfinished:
            found.append(
                f"{self.name}: {len(self.unfinished)} students did not finish; "
                f"the first: {self.unfinished[0]}"
            )
        return found


def count_connections(engine: AsyncEngine, result: Result) -> None:
    """Record in `result.connections` the most connections checked out of the pool at once."""
    out = 0

    def checkout(*_: object) -> None:
        nonlocal out
        out += 1
        result.connections = max(result.connections, out)

    def checkin(*_: object) -> None:
        nonlocal out
        out -= 1

    event.listen(engine.sync_engine, "checkout", checkout)
    event.listen(engine.sync_engine, "checkin", checkin)


@asynccontextmanager
async def database(engine_name: str) -> AsyncIterator[tuple[str, AsyncEngine] | None]:
    """A migrated, empty database (a temporary SQLite file, or a fresh PostgreSQL schema),
    or None when no PostgreSQL server answers within 5 s."""
    if engine_name == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{folder}/bench.db"
            engine = make_engine(url)
            try:
                await upgrade(engine)
                yield url, engine
            finally:
                await engine.dispose()
        return
    schema, admin = "bench_" + secrets.token_hex(4), make_engine(POSTGRES_URL)
    try:
        async with asyncio.timeout(5), admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception:
        await admin.dispose()
        yield None
        return
    engine = make_engine(POSTGRES_URL, search_path=schema)
    try:
        await upgrade(engine)
        yield POSTGRES_URL, engine
    finally:
        await engine.dispose()
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


def one_at_a_time(serial: bool) -> BaseUpdateProcessor | None:
    return SimpleUpdateProcessor(1) if serial else None


async def intake(engine_name: str, students: int, concurrency: int, serial: bool) -> Result:
    api = LocalBotApi()
    result = Result(engine_name, students, UpdateFactory(api), one_at_a_time(serial))
    async with database(engine_name) as db:
        if db is None:
            shown = make_url(POSTGRES_URL).render_as_string(hide_password=True)
            result.skipped = f"skipped (no server at {shown})"
            return result
        url, engine = db
        app = build_application(
            Settings(_env_file=None, database_url=url),  # type: ignore[call-arg]
            clock=SystemClock(),
            keys=KeyRing(parse_key_spec(f"k1:{new_key_material()}")),
            index=BlindIndex.from_spec(new_key_material()),
            audit_key=AuditKey.from_spec(new_key_material()),
            engine=engine,
            request=LocalRequest(api),
        )
        await app.initialize()
        processor = app.update_processor
        if not serial and isinstance(processor, ChatOrderedProcessor):
            result.at_once = processor.at_once
        count_connections(engine, result)

        async def student(i: int) -> None:
            user = LocalUser(10_000 + i, "Bench", f"Student{i}")
            try:
                await one_student(TimedChat(app, api, user, result))
            finally:
                result.errors += error_replies(api, user.id)

        try:
            result.wall = await run_students(students, concurrency, student, result)
        finally:
            await app.shutdown()
    return result


async def echo_baseline(students: int, updates: int, concurrency: int, serial: bool) -> Result:
    """The same students, concurrency and transport; each sends its share of text updates."""

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(update.effective_message.text or "")

    api = LocalBotApi()
    request = LocalRequest(api)
    # The same processor as the intake runs (SQLite's default, or USS_CONCURRENT_UPDATES).
    at_once = Settings(_env_file=None).updates_at_once()  # type: ignore[call-arg]
    app: AnyApp = (
        ApplicationBuilder()
        .token("1:x")
        .request(request)
        .get_updates_request(request)
        .concurrent_updates(ChatOrderedProcessor(at_once))
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, echo))
    await app.initialize()
    result = Result("echo (bare)", students, UpdateFactory(api), one_at_a_time(serial))
    result.at_once = 1 if serial else at_once

    async def student(i: int) -> None:
        chat = TimedChat(app, api, LocalUser(20_000 + i, "Echo"), result)
        for n in range(updates // students + (i < updates % students)):
            await chat.send(f"hello {n}")
            if chat.last_text != f"hello {n}":
                raise Unfinished(f"echo bot answered {chat.last_text!r} to 'hello {n}'")

    try:
        result.wall = await run_students(students, concurrency, student, result)
    finally:
        await app.shutdown()
    return result


async def main(students: int, engines: list[str], concurrency: int, serial: bool) -> int:
    results = [await intake(name, students, concurrency, serial) for name in engines]
    measured = [r for r in results if not r.skipped]
    # Every student sends the same updates (20 today), so a finished run gives the count.
    updates = next((len(r.latencies) // r.students for r in measured if not r.unfinished), 20)
    echo = await echo_baseline(students, updates * students, concurrency, serial)
    heads = (
        *("students", "updates", "wall s", "upd/s", "p50 ms", "p95 ms", "p99 ms"),
        *("at once", "conns", "errors", "unfin."),
    )
    mode = "serial, one update at a time" if serial else f"concurrency {concurrency}"
    print(f"{'engine':<12}" + "".join(f"{h:>9}" for h in heads) + f"   ({mode})")
    for result in [echo, *results]:
        print(result.row())
    for result in measured:
        ratios = [result.quantile(p) / echo.quantile(p) for p in (50, 99)]
        print(
            f"{result.name}: intake/echo upd/s {result.rate / echo.rate:.3f}; latency "
            f"p50 {ratios[0]:.0f}x, p99 {ratios[1]:.0f}x the echo's"
        )
        if result.processing:
            alone = [result.quantile(p, result.processing) for p in (50, 99)]
            print(
                f"{result.name}: processing alone p50 {alone[0]:.2f} ms, p99 {alone[1]:.2f} ms "
                "(the rest of each latency is waiting its turn)"
            )
    failures = [f for result in [echo, *results] for f in result.failures()]
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        "python -m bench.intake",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--serial", action="store_true", help="one update at a time")
    args = parser.parse_args()
    if args.students < 1 or args.concurrency < 1:
        parser.error("--students and --concurrency must be at least 1")
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if not engines or set(engines) - {"sqlite", "postgresql"}:
        parser.error("--engines takes sqlite and/or postgresql, comma-separated")
    sys.exit(asyncio.run(main(args.students, engines, args.concurrency, args.serial)))
