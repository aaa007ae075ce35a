"""Engines and session factories: SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SQLITE_BUSY_TIMEOUT_MS = 15_000


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, *, search_path: str | None = None, echo: bool = False) -> AsyncEngine:
    """Create an engine with the settings each backend needs to be safe under concurrency."""
    if is_sqlite(url):
        return _sqlite_engine(url, echo=echo)
    connect_args: dict[str, Any] = {}
    if search_path:
        connect_args["server_settings"] = {"search_path": search_path}
    return create_async_engine(
        url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20, connect_args=connect_args
    )


def _sqlite_engine(url: str, *, echo: bool) -> AsyncEngine:
    path = url.split(":///", 1)[1] if ":///" in url else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    engine = create_async_engine(
        url, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transactions out of the driver's hands so BEGIN IMMEDIATE below is what runs.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A read-then-write transaction under WAL can fail with SQLITE_BUSY; take the
        # write lock up front instead, and let busy_timeout queue the writers.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    if path and path != ":memory:" and os.path.exists(path):
        os.chmod(path, 0o600)
    return engine


def make_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)
