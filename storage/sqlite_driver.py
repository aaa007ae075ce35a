"""SQLite for the async engine without a thread hop per call, and one writer at a time.

SQLAlchemy's aiosqlite adapter sends every call (cursor, execute, fetch, close, commit) to a
worker thread and waits for the answer: about 49 round trips per update, half of its time.
SQLite answers the queries this bot makes in microseconds from its page cache, so this
dialect runs them directly on the event loop's thread, through the standard `sqlite3` module.

What would make that unsafe is waiting: SQLite makes a writer wait for the write lock by
sleeping in `busy_timeout`, which would freeze the event loop. So no statement here waits
inside SQLite:
- writers in this process queue on an asyncio lock (FIFO, no polling) before `BEGIN
  IMMEDIATE`, and hold it until their transaction ends; readers never wait (WAL);
- a writer in another process (a command-line tool) makes `BEGIN IMMEDIATE` fail at once,
  and it is tried again after an asyncio sleep, for up to the busy timeout.

Every result is read whole as soon as its statement has run (streamed ones too): a statement
left half-read would stay active on its pooled connection. The bot's results are small; the
one large reader, `audit verify`, holds the log in memory while it checks it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable
from typing import Any

from sqlalchemy import event, pool
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.base import SQLiteExecutionContext
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.engine import cursor as _cursor
from sqlalchemy.util.concurrency import await_

DRIVER = "uss"
# How long a writer waits for the write lock, as SQLite's busy_timeout did before.
WRITE_LOCK_TIMEOUT_S = 15.0
# What a statement may still wait inside SQLite (a reader meeting a checkpoint, say):
# short, since the event loop waits with it.
IN_LOOP_BUSY_MS = 50
_RETRY_FIRST_S = 0.001
_RETRY_MOST_S = 0.05
_HOLDS_LOCK = "uss_write_lock"
# The execution option of a transaction that only reads: a deferred BEGIN, no write lock.
READ_ONLY = "uss_read_only"


async def _at_once() -> None:
    """Nothing to wait for."""


class _Cursor(sqlite3.Cursor):
    async def _async_soft_close(self) -> None:
        """SQLAlchemy's asyncio layer calls this before sync code reads a result; a cursor
        on the loop's own thread can be read anywhere, so there is nothing to do."""


class _Connection(sqlite3.Connection):
    def cursor(self, factory: Any = _Cursor) -> Any:
        return super().cursor(factory)


class _ExecutionContext(SQLiteExecutionContext):
    def post_exec(self) -> None:
        # Read every row at once, streamed results included: a statement left half-read (a
        # result never read, a stream its reader stopped early) stays active on the pooled
        # connection and locks its tables against later DDL. The bot's results are small.
        super().post_exec()  # type: ignore[no-untyped-call]
        if self.cursor.description is not None:
            self.cursor_fetch_strategy = _cursor.FullyBufferedCursorFetchStrategy(self.cursor)


class SQLiteDialect_uss(SQLiteDialect_pysqlite):
    """The standard sqlite3 module, called on the event loop's thread by the async engine."""

    driver = DRIVER
    execution_ctx_cls = _ExecutionContext
    is_async = True
    supports_statement_cache = True

    # SQLAlchemy's AsyncConnection refuses a call that never awaited (its check for a driver
    # that is not async), so each statement passes through the event loop's hands once: a
    # coroutine that finishes at once, with no trip through the loop's queue.
    def do_execute(self, cursor: Any, statement: Any, parameters: Any, context: Any = None) -> None:
        await_(_at_once())
        cursor.execute(statement, parameters)

    def do_execute_no_params(self, cursor: Any, statement: Any, context: Any = None) -> None:
        await_(_at_once())
        cursor.execute(statement)

    def do_executemany(
        self, cursor: Any, statement: Any, parameters: Any, context: Any = None
    ) -> None:
        await_(_at_once())
        cursor.executemany(statement, parameters)

    def create_connect_args(self, url: URL) -> Any:
        args, kwargs = super().create_connect_args(url)
        kwargs.setdefault("factory", _Connection)
        return args, kwargs

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        if cls._is_url_file_db(url):
            return pool.AsyncAdaptedQueuePool
        return pool.StaticPool


registry.register(f"sqlite.{DRIVER}", __name__, "SQLiteDialect_uss")


def as_driver_url(url: str | URL) -> URL:
    """Any SQLite URL (`sqlite://`, `sqlite+aiosqlite://`, `sqlite+pysqlite://`) for this driver."""
    return make_url(url).set(drivername=f"sqlite+{DRIVER}")


class WriteLock:
    """One writer at a time in this process, queued on the event loop instead of in SQLite."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()

    def attach(self, engine: Engine) -> None:
        event.listen(engine, "begin", self._begin)
        event.listen(engine, "commit", self._end)
        event.listen(engine, "rollback", self._end)
        # A connection given back (or thrown away) mid-transaction lets go of the lock too.
        event.listen(engine.pool, "checkin", self._checked_in)

    def _begin(self, connection: Any) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            # A snapshot for reading (WAL): it neither waits for writers nor holds them up.
            connection.connection.dbapi_connection.execute("BEGIN")
            return
        self._acquire()
        try:
            _begin_immediate(connection.connection.dbapi_connection)
        except BaseException:
            self._lock.release()
            raise
        connection.connection.info[_HOLDS_LOCK] = True

    def _end(self, connection: Any) -> None:
        # SQLAlchemy sends COMMIT or ROLLBACK right after this, with no await in between, so
        # no other writer can begin before it.
        if connection.connection.info.pop(_HOLDS_LOCK, False):
            self._lock.release()

    def _checked_in(self, _dbapi_connection: Any, record: Any) -> None:
        if record.info.pop(_HOLDS_LOCK, False):
            self._lock.release()

    def _acquire(self) -> None:
        try:
            await_(_within(self._lock.acquire(), WRITE_LOCK_TIMEOUT_S))
        except TimeoutError:
            raise sqlite3.OperationalError("database is locked") from None


async def _within(waiting: Awaitable[bool], seconds: float) -> None:
    # asyncio.timeout sets one timer; wait_for would start a task for every transaction.
    async with asyncio.timeout(seconds):
        await waiting


def _begin_immediate(dbapi_connection: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE without letting SQLite sleep on the loop: while another process
    writes, it fails at once and is tried again after an asyncio sleep."""
    dbapi_connection.execute("PRAGMA busy_timeout=0")
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WRITE_LOCK_TIMEOUT_S
        delay = _RETRY_FIRST_S
        while True:
            try:
                dbapi_connection.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or loop.time() >= deadline:
                    raise
            await_(asyncio.sleep(delay))
            delay = min(delay * 2, _RETRY_MOST_S)
    finally:
        dbapi_connection.execute(f"PRAGMA busy_timeout={IN_LOOP_BUSY_MS}")
