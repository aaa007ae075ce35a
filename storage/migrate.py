"""Apply Alembic migrations programmatically, on SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.crypto import AuditKey, KeyRing

MIGRATIONS = Path(__file__).parent / "migrations"


# The key ring handed to revisions that must open or seal existing rows (see `data_keys`).
KEYS_ATTRIBUTE = "keys"
# The audit chain's key, for revisions that must MAC existing audit entries (`audit_key`).
AUDIT_KEY_ATTRIBUTE = "audit_key"


class KeysNeeded(RuntimeError):
    """A revision has rows to seal or re-seal and was not given the data keys."""


class MigrationRefused(RuntimeError):
    """A revision found rows it must not convert; the message says why and what to do."""


def alembic_config(
    connection: Connection | None = None,
    keys: KeyRing | None = None,
    audit_key: AuditKey | None = None,
) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    config.attributes[KEYS_ATTRIBUTE] = keys
    config.attributes[AUDIT_KEY_ATTRIBUTE] = audit_key
    return config


def data_keys(revision: str) -> KeyRing:
    """For a revision's own use: the data keys `upgrade` was given, or KeysNeeded."""
    from alembic import context

    keys = context.config.attributes.get(KEYS_ATTRIBUTE)
    if keys is None:
        raise KeysNeeded(
            f"revision {revision} seals data already in the database and needs the data keys: "
            "run `python -m bot migrate` with USS_DATA_KEYS set"
        )
    assert isinstance(keys, KeyRing)
    return keys


def audit_key(revision: str) -> AuditKey:
    """For a revision's own use: the audit key `upgrade` was given, or KeysNeeded."""
    from alembic import context

    key = context.config.attributes.get(AUDIT_KEY_ATTRIBUTE)
    if key is None:
        raise KeysNeeded(
            f"revision {revision} keys the audit log already in the database and needs the "
            "audit key: run `python -m bot migrate` with USS_AUDIT_KEY set (a new key from "
            "`python -m bot keygen` if you have none yet)"
        )
    assert isinstance(key, AuditKey)
    return key


def _raw_sqlite(connection: Connection, statement: str) -> list[Any]:
    """Run a PRAGMA on the driver's connection, outside any transaction (where SQLite
    ignores foreign_keys)."""
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(statement)
        return list(cursor.fetchall())
    finally:
        cursor.close()


Keys = tuple[KeyRing | None, AuditKey | None]


def _run(
    connection: Connection, step: Callable[[Config, str], None], revision: str, keys: Keys
) -> None:
    """Run `step` in one transaction. On SQLite, foreign keys are off meanwhile: changing a
    column there rebuilds its table, and dropping the old table would otherwise cascade its
    deletion to every row that refers to it. They are checked before going back on."""
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        _raw_sqlite(connection, "PRAGMA foreign_keys=OFF")
    try:
        with connection.begin():
            step(alembic_config(connection, *keys), revision)
            if sqlite and _raw_sqlite(connection, "PRAGMA foreign_key_check"):
                raise RuntimeError("the migration left rows that refer to missing rows")
    finally:
        if sqlite:
            _raw_sqlite(connection, "PRAGMA foreign_keys=ON")


async def upgrade(
    engine: AsyncEngine,
    revision: str = "head",
    *,
    keys: KeyRing | None = None,
    audit_key: AuditKey | None = None,
) -> None:
    """Bring the schema up to `revision` (the newest by default). Revisions that seal rows
    already stored need `keys` (and, for the audit log, `audit_key`); on an empty database
    none do."""
    async with engine.connect() as connection:
        await connection.run_sync(_run, command.upgrade, revision, (keys, audit_key))


async def downgrade(
    engine: AsyncEngine,
    revision: str,
    *,
    keys: KeyRing | None = None,
    audit_key: AuditKey | None = None,
) -> None:
    """Take the schema back to `revision`."""
    async with engine.connect() as connection:
        await connection.run_sync(_run, command.downgrade, revision, (keys, audit_key))


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(_current)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _revision(connection: Connection, message: str) -> Any:
    return command.revision(alembic_config(connection), message=message, autogenerate=True)


async def autogenerate(engine: AsyncEngine, message: str) -> Any:
    """Write a new revision from the difference between the models and the database."""
    async with engine.begin() as connection:
        return await connection.run_sync(_revision, message)
