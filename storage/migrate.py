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
# Gives the data key ring and the audit key to a migration that must convert rows (0008
# seals and keys an existing audit log). Called only if there is something to convert, so
# a new database needs no keys; it raises, naming the setting, if one is missing.
KeysProvider = Callable[[], tuple[KeyRing, AuditKey]]
KEYS_ATTRIBUTE = "keys"


class MigrationRefused(Exception):
    """A migration found rows it must not convert; the message says why and what to do."""


def alembic_config(
    connection: Connection | None = None, keys: KeysProvider | None = None
) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    if keys is not None:
        config.attributes[KEYS_ATTRIBUTE] = keys
    return config


def _upgrade(connection: Connection, revision: str, keys: KeysProvider | None) -> None:
    command.upgrade(alembic_config(connection, keys), revision)


def _downgrade(connection: Connection, revision: str, keys: KeysProvider | None) -> None:
    command.downgrade(alembic_config(connection, keys), revision)


async def upgrade(
    engine: AsyncEngine, revision: str = "head", *, keys: KeysProvider | None = None
) -> None:
    """Bring the schema up to `revision` (the newest by default)."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade, revision, keys)


async def downgrade(
    engine: AsyncEngine, revision: str, *, keys: KeysProvider | None = None
) -> None:
    """Take the schema back to `revision`."""
    async with engine.begin() as connection:
        await connection.run_sync(_downgrade, revision, keys)


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
