"""Fixtures: both database engines, an injected clock, fresh keys, settings and services."""

from __future__ import annotations

import asyncio
import os
import secrets
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import FixedClock
from bot.services.deps import Deps
from bot.settings import Settings
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

# Tests never assert on wall-clock time: no Hypothesis deadline, which would fail a slow
# example on a busy machine. Timings belong in bench/.
hypothesis_settings.register_profile("uss", deadline=None)
hypothesis_settings.load_profile("uss")

POSTGRES_URL = os.environ.get(
    "USS_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
ENGINES = [e.strip() for e in os.environ.get("USS_TEST_ENGINES", "sqlite,postgresql").split(",")]
REQUIRE_POSTGRES = os.environ.get("USS_TEST_REQUIRE_POSTGRES") == "1"
# A Tuesday morning in term, in GMT (BST tests move the clock themselves).
START = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@dataclass
class Database:
    kind: str
    url: str
    engine: AsyncEngine
    schema: str | None = None


_postgres_ok: bool | None = None


async def _postgres_answers() -> bool:
    global _postgres_ok
    if _postgres_ok is None:
        engine = make_engine(POSTGRES_URL)
        try:
            async with asyncio.timeout(5):
                async with engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
            _postgres_ok = True
        except Exception:
            _postgres_ok = False
        finally:
            await engine.dispose()
    return _postgres_ok


_sqlite_template: Path | None = None


async def _copy_of_migrated_sqlite(factory: pytest.TempPathFactory, path: Path) -> None:
    """A copy of a database migrated once per session: every migration run for each test would
    cost more than most tests (the migrations themselves are tested in test_migrations)."""
    global _sqlite_template
    if _sqlite_template is None:
        template = factory.mktemp("template") / "uss-template.db"
        engine = make_engine(f"sqlite:///{template}")
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()
        _sqlite_template = template
    source = sqlite3.connect(_sqlite_template)
    target = sqlite3.connect(path)
    try:
        source.backup(target)  # page by page, including anything still in the WAL
    finally:
        target.close()
        source.close()


@pytest.fixture(params=ENGINES)
async def database(request: pytest.FixtureRequest, tmp_path: object) -> AsyncIterator[Database]:
    """A migrated, empty database: a temporary SQLite file, or a fresh PostgreSQL schema."""
    kind = request.param
    if kind == "sqlite":
        path = Path(str(tmp_path)) / "uss-test.db"
        await _copy_of_migrated_sqlite(request.getfixturevalue("tmp_path_factory"), path)
        url = f"sqlite:///{path}"
        engine = make_engine(url)
        yield Database(kind, url, engine)
        await engine.dispose()
        return
    if not await _postgres_answers():
        if REQUIRE_POSTGRES:
            pytest.fail(
                f"PostgreSQL is required (USS_TEST_REQUIRE_POSTGRES=1) but {POSTGRES_URL} does not answer"
            )
        pytest.skip("no PostgreSQL server answers; set USS_TEST_POSTGRES_URL")
    schema = "t_" + secrets.token_hex(6)
    admin = make_engine(POSTGRES_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(POSTGRES_URL, search_path=schema)
    await upgrade(engine)
    try:
        yield Database(kind, POSTGRES_URL, engine, schema)
    finally:
        await engine.dispose()
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


@asynccontextmanager
async def unmigrated_engine(kind: str, directory: object, name: str) -> AsyncIterator[AsyncEngine]:
    """Another empty database on the same engine as `database` (which must have checked that
    PostgreSQL answers), with no schema yet: a file in `directory`, or a fresh schema."""
    if kind == "sqlite":
        engine = make_engine(f"sqlite:///{directory}/{name}.db")
        try:
            yield engine
        finally:
            await engine.dispose()
        return
    schema = "t_" + secrets.token_hex(6)
    admin = make_engine(POSTGRES_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(POSTGRES_URL, search_path=schema)
    try:
        yield engine
    finally:
        await engine.dispose()
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


@pytest.fixture
def engine(database: Database) -> AsyncEngine:
    return database.engine


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def key_spec() -> str:
    return f"k1:{new_key_material()}"


@pytest.fixture
def keys(key_spec: str) -> KeyRing:
    return KeyRing(parse_key_spec(key_spec))


@pytest.fixture
def index() -> BlindIndex:
    return BlindIndex.from_spec(new_key_material())


@pytest.fixture
def audit_key() -> AuditKey:
    return AuditKey.from_spec(new_key_material())


@pytest.fixture
def settings(database: Database) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database.url,
        timezone="Europe/London",
        email_domains=("city.ac.uk",),
    )


@pytest.fixture
def deps(
    engine: AsyncEngine,
    keys: KeyRing,
    index: BlindIndex,
    audit_key: AuditKey,
    clock: FixedClock,
    settings: Settings,
) -> Deps:
    return Deps(make_sessions(engine), FieldCipher(keys), index, clock, settings, audit_key)
