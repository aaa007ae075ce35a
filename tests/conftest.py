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
from storage.models import Base

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


# Migrated PostgreSQL schemas emptied after their test, ready for the next: migrating a fresh
# schema for every test would cost more than most tests. A schema is emptied by TRUNCATE and
# given back the rows the migrations themselves wrote; one that cannot be emptied at once
# (a test left a transaction open on it) is dropped instead.
_postgres_schemas: list[str] = []
_postgres_seed: dict[str, list[dict[str, object]]] | None = None
_postgres_shape: str | None = None
# What a test could change in a schema besides its rows (some drop triggers on purpose):
# triggers, functions, indexes and the revision.
_SHAPE = text(
    "SELECT string_agg(x, ',' ORDER BY x) FROM ("
    " SELECT 't:' || c.relname || '.' || t.tgname || ':' || t.tgenabled::text FROM pg_trigger t"
    " JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = current_schema() AND NOT t.tgisinternal"
    " UNION ALL SELECT 'i:' || indexname || ':' || md5(indexdef) FROM pg_indexes"
    " WHERE schemaname = current_schema()"
    " UNION ALL SELECT 'f:' || p.proname || ':' || md5(p.prosrc) FROM pg_proc p"
    " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = current_schema()"
    " UNION ALL SELECT 'v:' || version_num FROM alembic_version"
    ") AS shape(x)"
)


async def _migrated_postgres_schema() -> str:
    global _postgres_seed, _postgres_shape
    if _postgres_schemas:
        return _postgres_schemas.pop()
    schema = "t_" + secrets.token_hex(6)
    admin = make_engine(POSTGRES_URL)
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    finally:
        await admin.dispose()
    engine = make_engine(POSTGRES_URL, search_path=schema)
    try:
        await upgrade(engine)
        if _postgres_seed is None:
            async with engine.connect() as conn:
                _postgres_seed = {
                    table.name: [dict(r._mapping) for r in await conn.execute(table.select())]
                    for table in Base.metadata.sorted_tables
                }
                _postgres_shape = (await conn.execute(_SHAPE)).scalar_one()
    finally:
        await engine.dispose()
    return schema


async def _reuse_or_drop(schema: str) -> None:
    engine = make_engine(POSTGRES_URL, search_path=schema)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("SET LOCAL lock_timeout = '2s'"))
            if (await conn.execute(_SHAPE)).scalar_one() != _postgres_shape:
                raise LookupError("the test changed the schema itself")
            tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            await conn.execute(text(f"TRUNCATE {tables}"))
            for table in Base.metadata.sorted_tables:
                rows = (_postgres_seed or {}).get(table.name)
                if rows:
                    await conn.execute(table.insert(), rows)
        _postgres_schemas.append(schema)
        return
    except Exception:
        pass
    finally:
        await engine.dispose()
    await _drop_schemas([schema])


async def _drop_schemas(schemas: list[str]) -> None:
    admin = make_engine(POSTGRES_URL)
    try:
        async with admin.begin() as conn:
            for schema in schemas:
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        await admin.dispose()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Drop the schemas kept for reuse."""
    if _postgres_schemas:
        asyncio.run(_drop_schemas(_postgres_schemas))
        _postgres_schemas.clear()


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
    schema = await _migrated_postgres_schema()
    engine = make_engine(POSTGRES_URL, search_path=schema)
    try:
        yield Database(kind, POSTGRES_URL, engine, schema)
    finally:
        await engine.dispose()
        await _reuse_or_drop(schema)


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
