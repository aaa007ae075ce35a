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

from storage.crypto import KeyRing

MIGRATIONS = Path(__file__).parent / "migrations"


# The key ring handed to revisions that must open or seal existing rows (see `data_keys`).
KEYS_ATTRIBUTE = "keys"


class KeysNeeded(RuntimeError):
    """A revision has rows to seal or re-seal and was not given the data keys."""


def alembic_config(connection: Connection | None = None, keys: KeyRing | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    config.attributes[KEYS_ATTRIBUTE] = keys
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


def _raw_sqlite(connection: Connection, statement: str) -> list[Any]:
    """Run a PRAGMA on the driver's connection, outside any transaction (where SQLite
    ignores foreign_keys)."""
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(statement)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _run(
    connection: Connection, step: Callable[[Config, str], None], revision: str, keys: KeyRing | None
) -> None:
    """Run `step` in one transaction. On SQLite, foreign keys are off meanwhile: changing a
    column there rebuilds its table, and dropping the old table would otherwise cascade its
    deletion to every row that refers to it. They are checked before going back on."""
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        _raw_sqlite(connection, "PRAGMA foreign_keys=OFF")
    try:
        with connection.begin():
            step(alembic_config(connection, keys), revision)
            if sqlite and _raw_sqlite(connection, "PRAGMA foreign_key_check"):
                raise RuntimeError("the migration left rows that refer to missing rows")
    finally:
        if sqlite:
            _raw_sqlite(connection, "PRAGMA foreign_keys=ON")


async def upgrade(
    engine: AsyncEngine, revision: str = "head", *, keys: KeyRing | None = None
) -> None:
    """Bring the schema up to `revision` (the newest by default). Revisions that seal rows
    already stored need `keys`; on an empty database none do."""
    async with engine.connect() as connection:
        await connection.run_sync(_run, command.upgrade, revision, keys)


async def downgrade(engine: AsyncEngine, revision: str, *, keys: KeyRing | None = None) -> None:
    """Take the schema back to `revision`."""
    async with engine.connect() as connection:
        await connection.run_sync(_run, command.downgrade, revision, keys)


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
