"""The in-process SQLite driver: statements run on the event loop, and nothing waits there."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.engine import make_engine, make_sessions
from storage.sqlite_driver import READ_ONLY, as_driver_url


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(f"sqlite:///{tmp_path}/driver.db")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        await conn.execute(text("INSERT INTO counter VALUES (0)"))
    yield engine
    await engine.dispose()


def test_every_sqlite_url_uses_the_in_process_driver() -> None:
    for url in ("sqlite:///x.db", "sqlite+aiosqlite:///x.db", "sqlite+pysqlite:///x.db"):
        assert as_driver_url(url).drivername == "sqlite+uss"
        assert as_driver_url(url).database == "x.db"


async def test_writers_in_one_process_queue_instead_of_failing(
    sqlite_engine: AsyncEngine,
) -> None:
    """Fifty transactions that read, yield to the loop, then write: none is refused, none lost."""
    sessions = make_sessions(sqlite_engine)

    async def add_one() -> None:
        async with sessions() as session:
            n = (await session.execute(text("SELECT n FROM counter"))).scalar_one()
            await asyncio.sleep(0)  # another task runs here, and wants to write too
            await session.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})
            await session.commit()

    await asyncio.gather(*(add_one() for _ in range(50)))
    async with sessions() as session:
        assert (await session.execute(text("SELECT n FROM counter"))).scalar_one() == 50


async def test_a_writer_in_another_process_never_freezes_the_event_loop(
    sqlite_engine: AsyncEngine, tmp_path: Path
) -> None:
    """While another connection holds the write lock, our writer waits and the loop goes on."""
    other = sqlite3.connect(tmp_path / "driver.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.005)

    async def write() -> None:
        async with sqlite_engine.begin() as conn:
            await conn.execute(text("UPDATE counter SET n = 7"))

    ticking = asyncio.create_task(ticker())
    writing = asyncio.create_task(write())
    await asyncio.sleep(0.3)
    assert not writing.done()  # still waiting for the other connection's lock
    ticks_while_waiting = ticks
    other.execute("COMMIT")
    other.close()
    await writing
    stop.set()
    await ticking
    # A loop frozen in SQLite's busy handler would not have ticked while the writer waited.
    assert ticks_while_waiting >= 10
    async with sqlite_engine.connect() as conn:
        assert (await conn.execute(text("SELECT n FROM counter"))).scalar_one() == 7


async def test_a_result_left_unread_does_not_lock_its_table_against_ddl(
    sqlite_engine: AsyncEngine,
) -> None:
    """A stream abandoned halfway used to stay active on the pooled connection."""
    sessions = make_sessions(sqlite_engine)
    async with sessions() as session:
        stream = await session.stream(text("SELECT n FROM counter"))
        del stream  # never read
        await session.commit()
    async with sqlite_engine.begin() as conn:
        await conn.execute(text("DROP TABLE counter"))
        names = await conn.execute(text("SELECT name FROM sqlite_master WHERE name = 'counter'"))
        assert names.first() is None


async def test_a_failed_transaction_lets_the_next_writer_in(sqlite_engine: AsyncEngine) -> None:
    sessions = make_sessions(sqlite_engine)
    with pytest.raises(IntegrityError):
        async with sessions() as session:
            await session.execute(text("INSERT INTO counter VALUES (NULL)"))  # NOT NULL
    async with asyncio.timeout(5):  # a lock still held would make this wait for ever
        async with sessions() as session:
            await session.execute(text("UPDATE counter SET n = 3"))
            await session.commit()


async def test_a_reader_neither_waits_for_a_writer_nor_sees_its_unfinished_work(
    sqlite_engine: AsyncEngine,
) -> None:
    async with sqlite_engine.begin() as writer:
        await writer.execute(text("UPDATE counter SET n = 5"))
        async with asyncio.timeout(5):  # a reader waiting for the write lock would hang here
            async with sqlite_engine.connect() as reader:
                reader = await reader.execution_options(**{READ_ONLY: True})
                seen = (await reader.execute(text("SELECT n FROM counter"))).scalar_one()
    assert seen == 0
