"""Secrets and data on disk are private to the bot's user, whatever the umask (issue 8.3)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from dotenv import dotenv_values
from sqlalchemy import text

from storage.crypto import AuditKey, BlindIndex, KeyRing, new_key_material
from storage.engine import make_engine
from storage.migrate import upgrade
from tests.integration.test_cli import ROOT, run


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The umask most systems give a login shell: new files 0644 unless made otherwise."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


async def test_a_new_sqlite_database_and_its_wal_are_private_from_the_first_byte(
    tmp_path: Path,
) -> None:
    database = tmp_path / "var" / "uss.db"
    engine = make_engine(f"sqlite+aiosqlite:///{database}")
    try:
        # Before SQLite has written anything, the file is already there and private.
        assert database.exists()
        assert mode(database) == 0o600
        assert mode(database.parent) == 0o700
        await upgrade(engine)
        async with engine.connect() as connection:
            await connection.execute(text("SELECT count(*) FROM staff"))
            for name in ("uss.db", "uss.db-wal", "uss.db-shm"):
                assert mode(database.parent / name) == 0o600, name
    finally:
        await engine.dispose()


async def test_the_rollback_journal_is_private_too(tmp_path: Path) -> None:
    database = tmp_path / "uss.db"
    await make_engine(f"sqlite+aiosqlite:///{database}").dispose()  # creates the file
    connection = sqlite3.connect(database, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=DELETE")
        connection.execute("CREATE TABLE t (x)")
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT INTO t VALUES (1)")
        journal = tmp_path / "uss.db-journal"
        assert journal.exists()
        assert mode(journal) == 0o600
        connection.execute("COMMIT")
    finally:
        connection.close()


async def test_files_an_older_version_left_readable_are_made_private(tmp_path: Path) -> None:
    database = tmp_path / "uss.db"
    for name in ("uss.db", "uss.db-wal", "uss.db-shm"):
        (tmp_path / name).touch(mode=0o644)
    await make_engine(f"sqlite+aiosqlite:///{database}").dispose()
    for name in ("uss.db", "uss.db-wal", "uss.db-shm"):
        assert mode(tmp_path / name) == 0o600, name


def test_migrate_creates_a_private_database(tmp_path: Path) -> None:
    database = tmp_path / "var" / "uss.db"
    env = {"USS_DATABASE_URL": f"sqlite+aiosqlite:///{database}"}
    assert run(["migrate"], env, cwd=tmp_path).returncode == 0
    assert mode(database) == 0o600


def test_keygen_write_creates_a_private_env_file_and_never_replaces_keys(
    tmp_path: Path,
) -> None:
    env_file = tmp_path / ".env"
    result = run(["keygen", "--write", ".env"], {}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert mode(env_file) == 0o600
    values = dotenv_values(env_file)
    KeyRing.from_spec(str(values["USS_DATA_KEYS"]))
    BlindIndex.from_spec(str(values["USS_INDEX_KEY"]))
    assert str(values["USS_INDEX_KEY"]) not in result.stdout + result.stderr
    written = env_file.read_bytes()

    again = run(["keygen", "--write", ".env"], {}, cwd=tmp_path)
    assert again.returncode == 1
    assert "already holds USS_DATA_KEYS" in again.stderr
    assert env_file.read_bytes() == written


def test_keygen_write_fills_in_a_copied_env_example_and_makes_it_private(
    tmp_path: Path,
) -> None:
    env_file = tmp_path / ".env"
    shutil.copy(ROOT / ".env.example", env_file)  # as `cp` does: mode 0644
    assert mode(env_file) == 0o644
    result = run(["keygen", "--write", ".env"], {}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert mode(env_file) == 0o600
    values = dotenv_values(env_file)
    KeyRing.from_spec(str(values["USS_DATA_KEYS"]))
    BlindIndex.from_spec(str(values["USS_INDEX_KEY"]))
    AuditKey.from_spec(str(values["USS_AUDIT_KEY"]))
    example = dotenv_values(ROOT / ".env.example")
    keys = ("USS_DATA_KEYS", "USS_INDEX_KEY", "USS_AUDIT_KEY")
    assert {k: v for k, v in values.items() if k not in keys} == {
        k: v for k, v in example.items() if k not in keys
    }
    # The deployment steps then work from this file alone.
    assert run(["migrate"], {}, cwd=tmp_path).returncode == 0
    listed = run(["staff", "list"], {}, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "No staff yet" in listed.stdout


def private_env(tmp_path: Path) -> Path:
    env_file = tmp_path / ".env"
    env_file.write_text(
        f"USS_DATABASE_URL=sqlite+aiosqlite:///{tmp_path}/uss.db\n"
        f"USS_DATA_KEYS=k1:{new_key_material()}\n"
        f"USS_INDEX_KEY={new_key_material()}\n"
        f"USS_BOT_TOKEN=123456:{'A' * 35}\n",
        encoding="utf-8",
    )
    return env_file


@pytest.mark.parametrize(
    ("command", "readable"),
    [
        (["run"], 0o644),
        (["migrate"], 0o644),
        (["notices"], 0o644),
        (["staff", "list"], 0o640),
        (["staff", "list"], 0o604),
    ],
)
def test_start_up_refuses_a_settings_file_others_can_open_and_says_the_chmod(
    command: list[str], readable: int, tmp_path: Path
) -> None:
    env_file = private_env(tmp_path)
    env_file.chmod(readable)
    result = run(command, {}, cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"chmod 600 {env_file}" in result.stderr
    assert "USS_ALLOW_READABLE_SECRETS" in result.stderr
    assert str(dotenv_values(env_file)["USS_INDEX_KEY"]) not in result.stderr
    assert not (tmp_path / "uss.db").exists()


def test_a_private_settings_file_is_accepted(tmp_path: Path) -> None:
    env_file = private_env(tmp_path)
    env_file.chmod(0o600)
    assert run(["migrate"], {}, cwd=tmp_path).returncode == 0


def test_readable_secrets_can_be_allowed_for_containers(tmp_path: Path) -> None:
    private_env(tmp_path).chmod(0o644)
    result = run(["migrate"], {"USS_ALLOW_READABLE_SECRETS": "true"}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_the_demo_keeps_its_files_private_and_refuses_readable_keys(tmp_path: Path) -> None:
    directory = tmp_path / "demo"
    result = run(["demo", "--dir", str(directory)], {}, stdin="/start\n/quit\n", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert mode(directory) == 0o700
    files = sorted(directory.iterdir())
    assert {p.name for p in files} >= {"keys.env", "uss-demo.db"}
    for path in files:
        assert mode(path) == 0o600, path.name

    keys = directory / "keys.env"
    keys.chmod(0o644)
    refused = run(["demo", "--dir", str(directory)], {}, stdin="/quit\n", cwd=tmp_path)
    assert refused.returncode == 2
    assert f"chmod 600 {keys}" in refused.stderr
    allowed = run(
        ["demo", "--dir", str(directory)],
        {"USS_ALLOW_READABLE_SECRETS": "true"},
        stdin="/quit\n",
        cwd=tmp_path,
    )
    assert allowed.returncode == 0, allowed.stderr
