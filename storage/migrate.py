"""Apply Alembic migrations programmatically, on SQLite or PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection, revision: str) -> None:
    command.upgrade(alembic_config(connection), revision)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema up to `revision` (the newest by default)."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade, revision)


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
