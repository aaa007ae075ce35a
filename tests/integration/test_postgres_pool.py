"""PostgreSQL's pool: a connection the server closed is replaced, with no ping per checkout."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text

from storage.engine import make_engine
from tests.conftest import POSTGRES_URL, Database


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
async def test_a_connection_the_server_closed_is_replaced_without_a_ping(
    database: Database,
) -> None:
    engine = database.engine
    pings = 0
    ping = engine.dialect.do_ping

    def counted_ping(dbapi_connection: Any) -> bool:
        nonlocal pings
        pings += 1
        return ping(dbapi_connection)

    engine.dialect.do_ping = counted_ping  # type: ignore[method-assign]
    async with engine.connect() as conn:
        first = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    admin = make_engine(POSTGRES_URL)
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f"SELECT pg_terminate_backend({int(first)})"))
            gone = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
            async with asyncio.timeout(10):  # the server has let the backend go...
                # (each look in a transaction of its own: activity is read once per transaction)
                while (await conn.execute(gone, {"pid": int(first)})).scalar_one():
                    await conn.rollback()
                    await asyncio.sleep(0.05)
    finally:
        await admin.dispose()
    await asyncio.sleep(0.2)  # ...and the event loop has read the closed socket
    async with engine.connect() as conn:
        second = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    assert second != first
    assert pings == 0  # no round trip spent on checking a connection before each use
