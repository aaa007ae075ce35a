"""Engines and session factories: SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage.sqlite_driver import IN_LOOP_BUSY_MS, WriteLock, as_driver_url

# Files SQLite keeps beside the database; it creates each with the database file's mode.
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, *, search_path: str | None = None, echo: bool = False) -> AsyncEngine:
    """Create an engine with the settings each backend needs to be safe under concurrency."""
    if is_sqlite(url):
        return _sqlite_engine(url, echo=echo)
    connect_args: dict[str, Any] = {}
    if search_path:
        connect_args["server_settings"] = {"search_path": search_path}
    engine = create_async_engine(
        url, echo=echo, pool_size=10, max_overflow=20, connect_args=connect_args
    )
    event.listen(engine.sync_engine.pool, "checkout", _refuse_closed_connection)
    return engine


def _refuse_closed_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A pooled PostgreSQL connection the server or network closed is replaced at checkout.

    asyncpg notices a closed socket on its own (the event loop reads every idle connection),
    so this costs no round trip, unlike `pool_pre_ping`'s `SELECT 1` on every checkout.
    """
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the server closed this connection")


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names, or None for an in-memory (or URI-style) database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    if parsed.query.get("uri"):
        return None
    return Path(database)


def make_private(path: Path) -> None:
    """Create the database file 0600 before SQLite opens it, and tighten older files.

    SQLite gives its -wal, -shm and -journal files the mode of the database file, so a file
    that is 0600 from its first byte keeps every copy of the data private whatever the umask.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        os.close(descriptor)
    for file in (path, *(path.with_name(path.name + side) for side in SQLITE_SIDE_FILES)):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(file, 0o600)


def _sqlite_engine(url: str, *, echo: bool) -> AsyncEngine:
    path = sqlite_file(url)
    if path is not None:
        make_private(path)
    # Connections to a file are cheap: room for every job at once beside the updates.
    engine = create_async_engine(
        as_driver_url(url),
        echo=echo,
        pool_size=5,
        max_overflow=20,
        connect_args={"timeout": IN_LOOP_BUSY_MS / 1000},
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transactions out of the driver's hands so BEGIN IMMEDIATE is what runs.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={IN_LOOP_BUSY_MS}")
        cursor.close()

    # A read-then-write transaction under WAL can fail with SQLITE_BUSY, so every transaction
    # takes the write lock up front, queued on the event loop (see storage/sqlite_driver.py).
    WriteLock().attach(engine.sync_engine)
    return engine


def make_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)
