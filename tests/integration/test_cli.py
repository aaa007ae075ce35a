"""The command line, run as a person would run it, on a SQLite file."""

from __future__ import annotations

import csv
import hashlib
import os
import secrets
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import build_deps
from bot.clock import SystemClock
from bot.services.deps import Deps
from bot.services.errors import SecondFactorLockedOut, WrongCode
from bot.services.staff import second_factor, staff
from bot.settings import Settings
from bot.vocabulary import AuditAction, FactorState
from storage.audit import entries as audit_entries
from storage.crypto import AuditKey, BlindIndex, KeyRing, new_key_material
from storage.engine import make_engine
from storage.migrate import head_revision, upgrade
from tests.conftest import ENGINES, POSTGRES_URL, REQUIRE_POSTGRES, _postgres_answers

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def run(
    args: list[str], env: dict[str, str], stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("USS_")}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd or ROOT,
        check=False,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "USS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/cli.db",
        "USS_DATA_KEYS": f"k1:{new_key_material()}",
        "USS_INDEX_KEY": new_key_material(),
        "USS_AUDIT_KEY": new_key_material(),
    }


def test_keygen_prints_keys_that_load(tmp_path: Path) -> None:
    result = run(["keygen"], {})
    assert result.returncode == 0
    lines = dict(
        line.split("=", 1)
        for line in result.stdout.splitlines()
        if "=" in line and not line.startswith("#")
    )
    KeyRing.from_spec(lines["USS_DATA_KEYS"])
    BlindIndex.from_spec(lines["USS_INDEX_KEY"])
    AuditKey.from_spec(lines["USS_AUDIT_KEY"])
    assert len({lines["USS_INDEX_KEY"], lines["USS_AUDIT_KEY"]}) == 2


def test_missing_keys_stop_start_up_naming_the_variable_and_the_fix(tmp_path: Path) -> None:
    result = run(
        ["staff", "list"],
        {"USS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db"},
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "USS_DATA_KEYS is not set" in result.stderr
    assert "python -m bot keygen" in result.stderr


def test_malformed_setting_names_the_variable(env: dict[str, str], tmp_path: Path) -> None:
    result = run(["staff", "list"], {**env, "USS_TIMEZONE": "Mars/Olympus"}, cwd=tmp_path)
    assert result.returncode == 2
    assert "USS_TIMEZONE is malformed" in result.stderr


def test_run_without_a_token_explains_botfather_and_the_demo(
    env: dict[str, str], tmp_path: Path
) -> None:
    result = run(["run"], env, cwd=tmp_path)
    assert result.returncode == 2
    assert "USS_BOT_TOKEN is not set" in result.stderr
    assert "@BotFather" in result.stderr
    assert "python -m bot demo" in result.stderr


def test_run_refuses_a_database_that_is_not_migrated(env: dict[str, str], tmp_path: Path) -> None:
    result = run(["run"], {**env, "USS_BOT_TOKEN": "123456:" + "A" * 35}, cwd=tmp_path)
    assert result.returncode == 2
    assert "python -m bot migrate" in result.stderr


def test_migrate_staff_audit_and_key_rotation(env: dict[str, str], tmp_path: Path) -> None:
    assert f"revision {head_revision()}" in run(["migrate"], env, cwd=tmp_path).stdout
    added = run(
        [
            "staff",
            "add",
            "--role",
            "coordinator",
            "--telegram-id",
            "42",
            "--name",
            "Alex Coordinator",
        ],
        env,
        cwd=tmp_path,
    )
    assert added.returncode == 0, added.stderr
    assert "acknowledge the confidentiality policy" in added.stdout
    again = run(
        ["staff", "add", "--role", "adviser", "--telegram-id", "42", "--name", "Alex Again"],
        env,
        cwd=tmp_path,
    )
    assert again.returncode == 1
    assert "already registered" in again.stderr
    listed = run(["staff", "list"], env, cwd=tmp_path).stdout
    assert "coordinator" in listed
    assert "Alex Coordinator" in listed
    assert "policy NOT acknowledged" in listed

    verified = run(["audit", "verify"], env, cwd=tmp_path)
    assert verified.returncode == 0
    assert "Audit chain intact: 1 entries verified" in verified.stdout

    rotated_env = {**env, "USS_DATA_KEYS": f"k2:{new_key_material()},{env['USS_DATA_KEYS']}"}
    rotated = run(["keys", "rotate"], rotated_env, cwd=tmp_path)
    assert rotated.returncode == 0, rotated.stderr
    assert "Under key k2: rewrapped 0 of 0 data keys" in rotated.stdout
    assert "re-encrypted 2 of 2 fields sealed by the key ring itself" in rotated.stdout
    only_new = {**env, "USS_DATA_KEYS": rotated_env["USS_DATA_KEYS"].split(",")[0]}
    assert "Alex Coordinator" in run(["staff", "list"], only_new, cwd=tmp_path).stdout
    old_only = run(["staff", "list"], env, cwd=tmp_path)
    assert old_only.returncode != 0
    assert "Alex Coordinator" not in old_only.stdout + old_only.stderr


def test_audit_verify_reports_tampering_and_fails(env: dict[str, str], tmp_path: Path) -> None:
    run(["migrate"], env, cwd=tmp_path)
    run(
        ["staff", "add", "--role", "coordinator", "--telegram-id", "42", "--name", "Alex"],
        env,
        cwd=tmp_path,
    )
    run(
        ["staff", "add", "--role", "adviser", "--telegram-id", "43", "--name", "Bo"],
        env,
        cwd=tmp_path,
    )
    db = sqlite3.connect(env["USS_DATABASE_URL"].split("///", 1)[1])
    db.execute("DROP TRIGGER audit_log_no_update")
    # The entry's time moved (its action and actor are sealed, so that is what can be edited).
    db.execute("UPDATE audit_log SET at = '2001-01-01 00:00:00.000000' WHERE seq = 1")
    db.commit()
    db.close()
    result = run(["audit", "verify"], env, cwd=tmp_path)
    assert result.returncode == 1
    assert "BROKEN at entry 1" in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["run"],
        ["demo"],
        ["migrate"],
        ["keygen"],
        ["staff"],
        ["staff", "add"],
        ["staff", "list"],
        ["staff", "reset-2fa"],
        ["policy"],
        ["policy", "publish"],
        ["policy", "signatures"],
        ["audit", "verify"],
        ["audit", "head"],
        ["keys", "rotate"],
    ],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = run([*command, "--help"], {})
    assert result.returncode == 0
    assert "usage:" in result.stdout


def test_the_demo_runs_a_scripted_session_and_keeps_no_plaintext(tmp_path: Path) -> None:
    script = "\n".join(
        [
            "/start",
            "1",
            "Robin Canarybird",
            "/sticker",
            "210012345",
            "/as coordinator",
            "/start",
            "1",
            "/code send",
            "/staff",
            "/as student",
            "/quit",
        ]
    )
    result = run(["demo", "--dir", str(tmp_path / "demo")], {}, stdin=script, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Question 1 of 12" in out
    assert "Please type your answer" in out
    assert "Question 3 of 12" in out
    assert "registered as coordinator" in out
    assert "[1] I have read it and will follow it" in out
    # The second factor: the QR code and key, the code the app would show, then staff work.
    assert "[image" in out
    key = out.split("with this key:", 1)[1].split()[0]
    assert "Your second factor is set up" in out
    assert "Casey Coordinator: coordinator" in out
    raw = b"".join(p.read_bytes() for p in (tmp_path / "demo").glob("uss-demo.db*"))
    assert raw
    assert b"Canarybird" not in raw
    assert key.encode() not in raw


async def test_reset_2fa_clears_a_second_factor_its_lock_and_session_and_is_audited(
    env: dict[str, str], tmp_path: Path
) -> None:
    """For the day the only coordinator loses their phone (or locks themselves out)."""
    run(["migrate"], env, cwd=tmp_path)
    add = ["staff", "add", "--role", "coordinator", "--telegram-id", "42", "--name", "Alex C"]
    run(add, env, cwd=tmp_path)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=env["USS_DATABASE_URL"],
        data_keys=env["USS_DATA_KEYS"],  # type: ignore[arg-type]
        index_key=env["USS_INDEX_KEY"],  # type: ignore[arg-type]
        audit_key=env["USS_AUDIT_KEY"],  # type: ignore[arg-type]
    )

    async def with_deps(work: Callable[[Deps], Awaitable[T]]) -> T:
        engine = make_engine(settings.database_url)
        try:
            deps = build_deps(
                settings,
                clock=SystemClock(),
                keys=settings.key_ring(),
                index=settings.blind_index(),
                engine=engine,
            )
            return await work(deps)
        finally:
            await engine.dispose()

    async def locked_out(deps: Deps) -> None:
        async with deps.uow() as uow:
            await staff.acknowledge_policy(uow, deps, 42, shown=None)  # the bundled one
        async with deps.uow() as uow:
            setup = await second_factor.begin_setup(uow, deps, 42)
        code = second_factor.code_for(setup.secret, second_factor.step_at(deps.clock.now()))
        async with deps.uow() as uow:
            await second_factor.present_code(uow, deps, 42, code)
        for _ in range(second_factor.FAILURES_BEFORE_LOCKOUT - 1):
            with pytest.raises(WrongCode):
                async with deps.uow() as uow:
                    await second_factor.present_code(uow, deps, 42, "not a code")
        with pytest.raises(SecondFactorLockedOut):
            async with deps.uow() as uow:
                await second_factor.present_code(uow, deps, 42, "not a code")

    async def state(deps: Deps) -> FactorState | None:
        async with deps.uow() as uow:
            return await second_factor.state_of(uow, deps, 42)

    async def resets(deps: Deps) -> list[str | None]:
        async with deps.uow() as uow:
            found = audit_entries(
                uow.session, deps.cipher, action=AuditAction.SECOND_FACTOR_RESET.value
            )
            return [entry.actor async for entry in found]

    await with_deps(locked_out)
    assert await with_deps(state) is FactorState.LOCKED_OUT
    assert "2FA LOCKED" in run(["staff", "list"], env, cwd=tmp_path).stdout

    unknown = run(["staff", "reset-2fa", "--telegram-id", "99"], env, cwd=tmp_path)
    assert unknown.returncode == 1
    assert "No staff member has that Telegram id" in unknown.stderr
    done = run(["staff", "reset-2fa", "--telegram-id", "42"], env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Reset the second factor of Alex C" in done.stdout
    assert await with_deps(state) is FactorState.NOT_SET_UP
    assert "2FA not set up" in run(["staff", "list"], env, cwd=tmp_path).stdout
    assert await with_deps(resets) == ["cli"]
    assert run(["audit", "verify"], env, cwd=tmp_path).returncode == 0


def test_availability_import_adds_valid_rows_and_reports_each_rejected_one(
    env: dict[str, str], tmp_path: Path
) -> None:
    run(["migrate"], env, cwd=tmp_path)
    run(
        ["staff", "add", "--role", "adviser", "--telegram-id", "42", "--name", "Alex"],
        env,
        cwd=tmp_path,
    )
    csv_file = tmp_path / "term.csv"
    csv_file.write_text(
        "adviser_telegram_id,weekday,start,end,mode\n"
        "42,Tue,10:00,12:30,in person\n"
        "42,Thu,14:00,16:00,phone\n"
        "42,Tue,11:00,13:00,video\n"
        "99,Mon,10:00,12:00,phone\n"
        "42,Wed,12:00,10:00,phone\n"
        "x,Fri,10:00,12:00,video\n",
        encoding="utf-8",
    )
    result = run(["availability", "import", str(csv_file)], env, cwd=tmp_path)
    assert result.returncode == 1
    assert "Accepted 2 row(s); rejected 4." in result.stdout
    for expected in (
        "line 4: overlap",
        "line 5: no active adviser",
        "line 6: order",
        "line 7: adviser_telegram_id is not a number",
    ):
        assert expected in result.stdout
    missing = run(["availability", "import", str(tmp_path / "nope.csv")], env, cwd=tmp_path)
    assert missing.returncode == 1
    assert "Cannot read" in missing.stderr


def test_notices_lists_waiting_messages_without_their_content(
    env: dict[str, str], tmp_path: Path
) -> None:
    run(["migrate"], env, cwd=tmp_path)
    assert "No messages are waiting" in run(["notices"], env, cwd=tmp_path).stdout
    script = (
        "import asyncio, os\n"
        "from bot.app import build_deps\n"
        "from bot.clock import SystemClock\n"
        "from bot.services.notices import outbox\n"
        "from bot.settings import load_settings\n"
        "from storage.engine import make_engine\n"
        "async def main():\n"
        "    s = load_settings(); e = make_engine(s.database_url)\n"
        "    d = build_deps(s, clock=SystemClock(), keys=s.key_ring(), index=s.blind_index(), engine=e)\n"
        "    async with d.uow() as uow:\n"
        "        await outbox.enqueue(uow, d, kind='adviser_summary', chat_id=42, html='Canary Student', dedupe_key='k')\n"
        "        await uow.commit()\n"
        "    await e.dispose()\n"
        "asyncio.run(main())\n"
    )
    queued = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    assert queued.returncode == 0, queued.stderr
    listed = run(["notices"], env, cwd=tmp_path).stdout
    assert "1 message(s) waiting" in listed
    assert "adviser_summary" in listed
    assert "Canary" not in listed


# --- Known failures are explained, never a traceback (issue 8.10) --------------------------

STAFF_ADD = ["staff", "add", "--role", "adviser", "--telegram-id", "42", "--name", "Robin Canary"]


def assert_explained(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    """Exit code 2, no traceback, and the message says what is wrong and how to fix it."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "How to fix" in result.stderr
    for text in expected:
        assert text in result.stderr


@pytest.fixture(params=ENGINES)
async def any_engine_env(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[dict[str, str]]:
    """Settings for an empty database the CLI can reach: a new SQLite path, or a new
    PostgreSQL database (the CLI takes a URL, so a schema of the test database will not do)."""
    keys = {
        "USS_DATA_KEYS": f"k1:{new_key_material()}",
        "USS_INDEX_KEY": new_key_material(),
        "USS_AUDIT_KEY": new_key_material(),
    }
    if request.param == "sqlite":
        yield {**keys, "USS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/cli.db"}
        return
    if not await _postgres_answers():
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required but {POSTGRES_URL} does not answer")
        pytest.skip("no PostgreSQL server answers; set USS_TEST_POSTGRES_URL")
    name = "cli_" + secrets.token_hex(6)
    server = make_url(POSTGRES_URL)
    admin = await asyncpg.connect(server.set(drivername="postgresql").render_as_string(False))
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = server.set(database=name).render_as_string(hide_password=False)
        yield {**keys, "USS_DATABASE_URL": url}
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


def test_a_wrong_data_key_is_explained_without_personal_data(
    any_engine_env: dict[str, str], tmp_path: Path
) -> None:
    env = any_engine_env
    assert run(["migrate"], env, cwd=tmp_path).returncode == 0
    assert run(STAFF_ADD, env, cwd=tmp_path).returncode == 0
    other_key = new_key_material()
    for wrong in (f"k1:{other_key}", f"k9:{other_key}"):  # the same id, and another id
        for command in (["staff", "list"], ["keys", "rotate"]):
            result = run(command, {**env, "USS_DATA_KEYS": wrong}, cwd=tmp_path)
            assert_explained(result, "USS_DATA_KEYS", "cannot decrypt")
            printed = result.stdout + result.stderr
            assert "Canary" not in printed
            assert other_key not in printed
            assert env["USS_DATA_KEYS"].split(":", 1)[1] not in printed


def test_a_database_without_the_schema_is_explained(
    any_engine_env: dict[str, str], tmp_path: Path
) -> None:
    env = any_engine_env
    if env["USS_DATABASE_URL"].startswith("sqlite"):
        Path(env["USS_DATABASE_URL"].split("///", 1)[1]).touch()  # exists, but empty
    for command in (["staff", "list"], STAFF_ADD, ["audit", "verify"], ["notices"]):
        assert_explained(run(command, env, cwd=tmp_path), "no schema yet", "python -m bot migrate")


async def test_a_database_at_an_older_revision_is_explained(
    env: dict[str, str], tmp_path: Path
) -> None:
    engine = make_engine(env["USS_DATABASE_URL"])
    await upgrade(engine, "0001")
    await engine.dispose()
    result = run(["staff", "list"], env, cwd=tmp_path)
    assert_explained(
        result, "at revision 0001", f"needs {head_revision()}", "python -m bot migrate"
    )


@pytest.mark.parametrize(
    "command",
    [
        ["staff", "list"],
        STAFF_ADD,
        ["audit", "verify"],
        ["notices"],
        ["keys", "rotate"],
        ["availability", "import", "term.csv"],
    ],
)
def test_a_missing_sqlite_database_is_explained_and_not_created(
    command: list[str], env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "term.csv").write_text("adviser_telegram_id,weekday,start,end,mode\n")
    database = Path(env["USS_DATABASE_URL"].split("///", 1)[1])
    result = run(command, env, cwd=tmp_path)
    assert_explained(result, f"no database at {database}", "python -m bot migrate")
    assert not database.exists()


@pytest.mark.parametrize("command", [["migrate"], ["staff", "list"], ["run"]])
def test_an_unreachable_postgresql_server_is_explained_without_the_password(
    command: list[str], env: dict[str, str], tmp_path: Path
) -> None:
    password = "Never-Shown-" + secrets.token_hex(4)
    unreachable = {
        **env,
        "USS_DATABASE_URL": f"postgresql+asyncpg://uss:{password}@127.0.0.1:1/uss",
        "USS_BOT_TOKEN": "123456:" + "A" * 35,
    }
    result = run(command, unreachable, cwd=tmp_path)
    assert_explained(result, "cannot reach the database server", "127.0.0.1:1")
    assert password not in result.stdout + result.stderr


# --- The bot token is never printed (issue 8.4) ---------------------------------------------

RUN_WITH_LOCAL_TELEGRAM = """
import sys
from bot import app as composition, cli
from bot.transport import LocalBotApi, LocalRequest
api = LocalBotApi()
api.refuse_token({status})
build = composition.build_application
def against_local_telegram(settings, **kwargs):
    # The real token, presented to a local Bot API that refuses it as Telegram does.
    return build(settings, request=LocalRequest(api), token=settings.token(), **kwargs)
composition.build_application = against_local_telegram
sys.exit(cli.main(["run"]))
"""


@pytest.mark.parametrize(
    ("status", "base_url"),
    [(401, None), (404, None), (404, "http://127.0.0.1:8081/not-a-bot-api")],
)
def test_a_rejected_token_is_explained_and_never_printed(
    status: int, base_url: str | None, env: dict[str, str], tmp_path: Path
) -> None:
    secret_half = "AAH" + secrets.token_urlsafe(24)
    token = f"7012345678:{secret_half}"
    run_env = {**env, "USS_BOT_TOKEN": token, "USS_LOG_LEVEL": "DEBUG"}
    if base_url:
        run_env["USS_BOT_API_BASE_URL"] = base_url
    assert run(["migrate"], run_env, cwd=tmp_path).returncode == 0
    result = subprocess.run(
        [sys.executable, "-c", RUN_WITH_LOCAL_TELEGRAM.format(status=status)],
        env={**os.environ, "PYTHONPATH": str(ROOT), **run_env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert_explained(result, "rejected the bot token in USS_BOT_TOKEN", "@BotFather")
    assert "USS_BOT_API_BASE_URL" in result.stderr
    if base_url:
        assert base_url in result.stderr
    printed = result.stdout + result.stderr
    assert secret_half not in printed
    assert secret_half[:12] not in printed


UNFORESEEN = """
import sys
from bot import admin, cli
async def broken(settings):
    raise RuntimeError("Robin Canary, 210012345, USS_DATA_KEYS=" + settings.data_keys.get_secret_value())
admin.list_staff = broken
sys.exit(cli.main(["staff", "list"]))
"""


def test_an_unforeseen_failure_prints_its_type_and_place_never_its_text(
    env: dict[str, str], tmp_path: Path
) -> None:
    assert run(["migrate"], env, cwd=tmp_path).returncode == 0
    result = subprocess.run(
        [sys.executable, "-c", UNFORESEEN],
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 1
    assert "Unexpected error E-" in result.stderr
    assert "RuntimeError" in result.stderr
    assert "in main" in result.stderr  # where it happened, for whoever fixes it
    assert "Canary" not in result.stderr
    assert "210012345" not in result.stderr
    assert env["USS_DATA_KEYS"].split(":", 1)[1] not in result.stderr


@pytest.mark.parametrize("base_url", ["127.0.0.1:8081", "http://[::1", "http://127.0.0.1:99999"])
def test_a_malformed_bot_api_base_url_is_named_before_anything_is_sent(
    base_url: str, env: dict[str, str], tmp_path: Path
) -> None:
    token = f"7012345678:AAH{secrets.token_urlsafe(24)}"
    result = run(["run"], {**env, "USS_BOT_TOKEN": token, "USS_BOT_API_BASE_URL": base_url})
    assert_explained(result, "USS_BOT_API_BASE_URL is malformed", "http://127.0.0.1:8081")
    assert token.split(":", 1)[1] not in result.stdout + result.stderr


def test_missing_or_reused_audit_key_stops_start_up_naming_the_variable(
    env: dict[str, str], tmp_path: Path
) -> None:
    assert run(["migrate"], env, cwd=tmp_path).returncode == 0
    without = {k: v for k, v in env.items() if k != "USS_AUDIT_KEY"}
    result = run(["staff", "list"], without, cwd=tmp_path)
    assert result.returncode == 2
    assert "USS_AUDIT_KEY is not set" in result.stderr
    assert "python -m bot keygen" in result.stderr
    reused = run(["staff", "list"], {**env, "USS_AUDIT_KEY": env["USS_INDEX_KEY"]}, cwd=tmp_path)
    assert reused.returncode == 2
    assert "USS_AUDIT_KEY is malformed" in reused.stderr
    assert "key of its own" in reused.stderr
    short = run(["staff", "list"], {**env, "USS_AUDIT_KEY": "c2hvcnQ"}, cwd=tmp_path)
    assert short.returncode == 2
    assert "USS_AUDIT_KEY is malformed" in short.stderr


def test_audit_head_is_kept_and_verify_against_it_catches_removed_entries(
    env: dict[str, str], tmp_path: Path
) -> None:
    run(["migrate"], env, cwd=tmp_path)
    for telegram_id in ("42", "43", "44"):
        run(
            ["staff", "add", "--role", "adviser", "--telegram-id", telegram_id, "--name", "Bo"],
            env,
            cwd=tmp_path,
        )
    printed = run(["audit", "head"], env, cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    head = printed.stdout.strip()
    assert head.startswith("3:") and len(head) == 2 + 64
    assert f"audit verify --head {head}" in printed.stderr
    plain = run(["audit", "verify"], env, cwd=tmp_path)
    assert plain.returncode == 0
    assert "Audit chain intact: 3 entries verified" in plain.stdout
    assert "Not proven" in plain.stdout and "--head" in plain.stdout
    assert run(["audit", "verify", "--head", head], env, cwd=tmp_path).returncode == 0

    # Remove the newest entry, and move audit_head back to match: only the head shows it.
    db = sqlite3.connect(env["USS_DATABASE_URL"].split("///", 1)[1])
    db.execute("DROP TRIGGER audit_log_no_delete")
    db.execute("DELETE FROM audit_log WHERE seq = 3")
    db.execute("UPDATE audit_head SET seq = 2, mac = (SELECT mac FROM audit_log WHERE seq = 2)")
    db.commit()
    db.close()
    assert run(["audit", "verify"], env, cwd=tmp_path).returncode == 0
    caught = run(["audit", "verify", "--head", head], env, cwd=tmp_path)
    assert caught.returncode == 1
    assert "BROKEN at entry 3" in caught.stderr
    assert "before the published head" in caught.stderr
    malformed = run(["audit", "verify", "--head", "3:abc"], env, cwd=tmp_path)
    assert malformed.returncode == 2
    assert "64 hex digits" in malformed.stderr


# --- Retention from the command line (issue 12) -------------------------------------------


def cli_deps(env: dict[str, str]) -> tuple[Deps, AsyncEngine]:
    """Services over the command line's database and keys (dispose of the engine after)."""
    from bot.clock import FixedClock
    from storage.crypto import FieldCipher, parse_key_spec
    from storage.engine import make_sessions

    engine = make_engine(env["USS_DATABASE_URL"])
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=env["USS_DATABASE_URL"],
        email_domains=("city.ac.uk",),
    )
    deps = Deps(
        make_sessions(engine),
        FieldCipher(KeyRing(parse_key_spec(env["USS_DATA_KEYS"]))),
        BlindIndex.from_spec(env["USS_INDEX_KEY"]),
        FixedClock(datetime.now(UTC)),
        settings,
        AuditKey.from_spec(env["USS_AUDIT_KEY"]),
    )
    return deps, engine


async def an_old_case(env: dict[str, str], years_ago: int) -> str:
    """A case with notes, a document and a disclosure, its last activity `years_ago` years
    ago (and its student's); returns that month, as the dry run prints it."""
    from sqlalchemy import update

    from storage.models import Case, Student
    from tests.integration.test_case_records_at_rest import fill_a_case

    deps, engine = cli_deps(env)
    old = datetime.now(UTC) - timedelta(days=365 * years_ago + 2)
    try:
        await fill_a_case(deps)
        async with deps.uow() as uow:
            await uow.session.execute(update(Case).values(last_activity_at=old))
            await uow.session.execute(update(Student).values(last_activity_at=old))
            await uow.commit()
    finally:
        await engine.dispose()
    return old.astimezone(deps.settings.zone).strftime("%Y-%m")


async def test_purge_dry_run_lists_counts_then_purge_deletes(
    env: dict[str, str], tmp_path: Path
) -> None:
    assert run(["migrate"], env, cwd=tmp_path).returncode == 0
    empty = run(["purge", "--dry-run"], env, cwd=tmp_path)
    assert empty.returncode == 0, empty.stderr
    assert "nothing would go" in empty.stdout
    month = await an_old_case(env, years_ago=6)
    dry = run(["purge", "--dry-run"], env, cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    line = next(x for x in dry.stdout.splitlines() if x.startswith(month))
    assert line.split() == [month, "1", "2", "1", "1"]
    assert "Nothing was changed" in dry.stdout
    done = run(["purge"], env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Deleted 1 case(s) with 2 note(s), 1 document(s) and 1 disclosure(s)" in done.stdout
    assert "1 student(s)" in done.stdout
    assert "Deleting" in done.stderr  # the progress bar
    for output in (dry, done):
        assert "Canary" not in output.stdout + output.stderr
    assert "nothing would go" in run(["purge", "--dry-run"], env, cwd=tmp_path).stdout


# --- The policy cycle on the command line: publish, and the signature register -------------

SIGNERS = {
    "42": "Siân Llŷr",
    "43": "ليلى حداد",
    "44": "王小明 🌈",
    "45": "=cmd|' /C calc'!A0",
}


def _acknowledge(env: dict[str, str], tmp_path: Path, telegram_ids: list[str]) -> None:
    """Each staff member presses "I have read it" under the current version (as in the bot)."""
    script = (
        "import asyncio, sys\n"
        "from bot.app import build_deps\n"
        "from bot.clock import SystemClock\n"
        "from bot.services.staff import staff\n"
        "from bot.services.staff.policy import current_policy\n"
        "from bot.settings import load_settings\n"
        "from storage.engine import make_engine\n"
        "async def main():\n"
        "    s = load_settings(); e = make_engine(s.database_url)\n"
        "    d = build_deps(s, clock=SystemClock(), keys=s.key_ring(), index=s.blind_index(),\n"
        "                   engine=e, audit_key=s.audit_chain_key())\n"
        "    for telegram_id in sys.argv[1:]:\n"
        "        async with d.uow() as uow:\n"
        "            shown = (await current_policy(uow)).short_digest\n"
        "            await staff.acknowledge_policy(uow, d, int(telegram_id), shown)\n"
        "    await e.dispose()\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *telegram_ids],
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_policy_publish_and_the_signature_register_on_the_command_line(
    any_engine_env: dict[str, str], tmp_path: Path
) -> None:
    env = any_engine_env
    assert run(["migrate"], env, cwd=tmp_path).returncode == 0
    for telegram_id, name in SIGNERS.items():
        added = run(
            ["staff", "add", "--role", "adviser", "--telegram-id", telegram_id, "--name", name],
            env,
            cwd=tmp_path,
        )
        assert added.returncode == 0, added.stderr
    _acknowledge(env, tmp_path, ["42", "43"])  # the bundled statement

    bundled = (ROOT / "bot" / "policy" / "uss-confidentiality-statement.txt").read_text("utf-8")
    new_text = bundled + "\nReviewed by the Board of Trustees.\n"
    statement = tmp_path / "statement-2027.txt"
    statement.write_text(new_text, encoding="utf-8")
    approved = (datetime.now(UTC) - timedelta(days=30)).date()
    published = run(
        ["policy", "publish", str(statement), "--approved", approved.isoformat()],
        env,
        cwd=tmp_path,
    )
    assert published.returncode == 0, published.stderr
    version = f"{approved.year}.2" if approved.year == 2026 else f"{approved.year}.1"
    digest = hashlib.sha256(new_text.encode("utf-8")).hexdigest()
    assert f"Published version {version}" in published.stdout
    assert digest in published.stdout

    # The same text again, a name already used, a date to come, a file that is not text.
    other = tmp_path / "other.txt"
    other.write_text(new_text + "More.\n", encoding="utf-8")
    future = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    not_text = tmp_path / "statement.docx"
    not_text.write_bytes(b"PK\x03\x04")
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("Café".encode("latin-1"))
    for args, reason in (
        ([str(statement), "--approved", approved.isoformat()], "nothing new"),
        ([str(other), "--approved", approved.isoformat(), "--version", version], "already used"),
        ([str(other), "--approved", future], "in the future"),
        ([str(other), "--approved", "30th November"], "such as 2026-11-30"),
        ([str(other), "--approved", approved.isoformat(), "--version", "v 2!"], "letters"),
        ([str(not_text), "--approved", approved.isoformat()], "not a .txt file"),
        ([str(latin), "--approved", approved.isoformat()], "not UTF-8"),
        ([str(tmp_path / "missing.txt"), "--approved", approved.isoformat()], "Cannot read"),
    ):
        refused = run(["policy", "publish", *args], env, cwd=tmp_path)
        assert refused.returncode == 1, (args, refused.stdout)
        assert reason in refused.stderr, (args, refused.stderr)
        assert "Traceback" not in refused.stderr

    _acknowledge(env, tmp_path, ["42", "44", "45"])  # the new version

    listed = run(["policy", "signatures"], env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert f"Current version {version}, SHA-256 {digest}" in listed.stdout
    assert "Not yet signed the current version (1):" in listed.stdout
    assert listed.stdout.rstrip().endswith("ليلى حداد")

    printed = run(["policy", "signatures", "--csv"], env, cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    output = tmp_path / "office-copy.csv"
    written = run(["policy", "signatures", "--csv", "--output", str(output)], env, cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    assert "Wrote 5 signature(s)" in written.stdout
    assert output.stat().st_mode & 0o777 == 0o600
    raw = output.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert printed.stdout == raw.decode("utf-8").replace("\r\n", "\n")
    with output.open(encoding="utf-8-sig", newline="") as opened:
        rows = list(csv.reader(opened))
    assert rows[0][:4] == ["Name", "Role", "Policy version", "SHA-256 of the text acknowledged"]
    signed = [(r[0], r[2], r[3]) for r in rows[1:]]
    old = hashlib.sha256(bundled.encode("utf-8")).hexdigest()
    assert sorted(signed) == sorted(
        [
            ("Siân Llŷr", "2026.1", old),
            ("ليلى حداد", "2026.1", old),
            ("Siân Llŷr", version, digest),
            ("王小明 🌈", version, digest),
            ("'=cmd|' /C calc'!A0", version, digest),
        ]
    )


# --- Data keys from the command line (issue 12, crypto-shredding) ---------------------------


async def records_from_before_data_keys(env: dict[str, str], *, new_case: bool) -> int:
    """A case whose records are all under the key ring, as before data keys; returns how many
    records (rows) that is."""
    from tests.integration.test_case_records_at_rest import fill_a_case
    from tests.integration.test_key_split import as_before_data_keys

    deps, engine = cli_deps(env)
    try:
        if new_case:
            await fill_a_case(deps)
        return await as_before_data_keys(deps)
    finally:
        await engine.dispose()


async def test_keys_split_and_migrate_move_earlier_records_to_their_own_keys_once(
    env: dict[str, str], tmp_path: Path
) -> None:
    assert run(["migrate"], env, cwd=tmp_path).returncode == 0
    earlier = await records_from_before_data_keys(env, new_case=True)
    split = run(["keys", "split"], env, cwd=tmp_path)
    assert split.returncode == 0, split.stderr
    assert f"of {earlier} record(s) to their cases' and students' own keys" in split.stdout
    assert "Moving to data keys" in split.stderr  # the progress bar
    again = run(["keys", "split"], env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "already under their own keys" in again.stdout
    # `migrate` does it too, for whoever upgrades without knowing about `keys split`.
    assert await records_from_before_data_keys(env, new_case=False) == earlier
    migrated = run(["migrate"], env, cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    assert f"of {earlier} earlier record(s) to their cases' and students' own keys" in (
        migrated.stdout
    )
    deps, engine = cli_deps(env)
    try:
        async with deps.uow() as uow:
            splits = [
                e.detail
                async for e in audit_entries(
                    uow.session, deps.cipher, action=AuditAction.KEYS_SPLIT.value
                )
            ]
    finally:
        await engine.dispose()
    assert [d["records"] for d in splits] == [earlier, earlier]
