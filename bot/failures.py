"""What the command line says when a known failure stops it: what is wrong, how to fix it.

The one place that turns failures into messages (bot/cli.py's error boundary calls it).
Messages never carry personal data or a secret: the database URL is shown without its
password, and what Telegram answered with the token removed.
"""

from __future__ import annotations

import socket
import sqlite3
import traceback
from collections.abc import Iterator

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from telegram.error import InvalidToken, NetworkError

from bot.logs import redact
from bot.settings import Settings, SettingsError
from storage.crypto import DecryptionError
from storage.engine import is_sqlite, sqlite_file

MIGRATE = "run `python -m bot migrate`"
# PostgreSQL's SQLSTATE codes for the failures people meet when setting up.
_NO_SUCH_DATABASE = "3D000"
_LOGIN_REFUSED = ("28000", "28P01")
_NO_SUCH_TABLE = "42P01"


class DatabaseNotReady(SettingsError):
    """The database at USS_DATABASE_URL is missing or not at the code's schema revision."""


def explain(problem: BaseException, settings: Settings | None) -> str | None:
    """The message for a known failure, or None for one nobody foresaw."""
    for cause in _causes(problem):
        if isinstance(cause, SettingsError):
            return f"Cannot start: {cause}"
        if isinstance(cause, DecryptionError):
            return _wrong_key(cause)
        if isinstance(cause, InvalidToken):
            return _token_rejected(problem, settings)
        if isinstance(cause, NetworkError):
            return _bot_api_unreachable(cause, settings)
    if settings is not None:
        return _database_problem(problem, settings.database_url)
    return None


def unexpected(problem: BaseException, reference: str) -> str:
    """An unforeseen failure: its type and where it happened, never its message.

    An exception's text can quote data or a secret; its type and the code's frames cannot.
    """
    frames = traceback.extract_tb(problem.__traceback__)
    where = [f"  {frame.filename}:{frame.lineno} in {frame.name}" for frame in frames[-8:]]
    return "\n".join(
        [
            f"Unexpected error {reference} ({type(problem).__name__}). Nothing was printed about "
            "the data; the code it stopped in (innermost last):",
            *where,
        ]
    )


def _causes(problem: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = problem
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _wrong_key(problem: DecryptionError) -> str:
    return (
        f"Cannot read the database with the keys in USS_DATA_KEYS: {problem}. "
        "How to fix: USS_DATA_KEYS must list every key this database was written with "
        "(the newest first): put back any key removed before `python -m bot keys rotate` "
        "finished, from your backup of .env; and check USS_DATABASE_URL names the right "
        "database."
    )


def _token_rejected(problem: BaseException, settings: Settings | None) -> str:
    answer = next(
        (str(c) for c in reversed(list(_causes(problem))) if isinstance(c, InvalidToken)), ""
    )
    base = settings.bot_api_base_url if settings else None
    where = (
        f"the Bot API server at USS_BOT_API_BASE_URL ({_without_userinfo(base)})"
        if base
        else "Telegram"
    )
    check_base = (
        "check that USS_BOT_API_BASE_URL is the address of a Bot API server "
        "(for example http://127.0.0.1:8081, without /bot…), or leave it empty for Telegram's own"
        if base
        else "if you run your own Bot API server, set USS_BOT_API_BASE_URL to its address"
    )
    return (
        f"Cannot start: {where} rejected the bot token in USS_BOT_TOKEN "
        f"(it answered: {redact(answer) or 'no reason given'}). "
        "How to fix: copy the token again from @BotFather (/mybots, your bot, API Token; a "
        f"token made before a /revoke no longer works) into USS_BOT_TOKEN; {check_base}."
    )


def _bot_api_unreachable(problem: NetworkError, settings: Settings | None) -> str:
    base = settings.bot_api_base_url if settings else None
    where = _without_userinfo(base) if base else "https://api.telegram.org"
    return (
        f"Cannot start: no answer from the Bot API at {where} ({redact(str(problem))}). "
        "How to fix: check this machine's network connection, proxy and firewall"
        + (", and that USS_BOT_API_BASE_URL is right and its server is running." if base else ".")
    )


def _database_problem(problem: BaseException, url: str) -> str | None:
    shown = _safe_url(url)
    for cause in _causes(problem):
        state = str(getattr(cause, "sqlstate", "") or "")
        if state == _NO_SUCH_DATABASE:
            return (
                f"Cannot start: the database named in USS_DATABASE_URL ({shown}) does not exist "
                "on that server. How to fix: create it (for example `createdb` with that name), "
                f"then {MIGRATE}."
            )
        if state in _LOGIN_REFUSED:
            return (
                f"Cannot start: the database server refused the user or password in "
                f"USS_DATABASE_URL ({shown}). How to fix: check both, and that the server "
                "allows this user to connect from this machine (pg_hba.conf)."
            )
        if state == _NO_SUCH_TABLE or (
            isinstance(cause, sqlite3.OperationalError) and "no such table" in str(cause)
        ):
            return _not_migrated(shown)
        if isinstance(cause, sqlite3.DatabaseError) and "not a database" in str(cause):
            return (
                f"Cannot start: USS_DATABASE_URL ({shown}) names a file that is not a SQLite "
                "database. How to fix: point USS_DATABASE_URL at the bot's database, or at a "
                f"new file and {MIGRATE}."
            )
        if isinstance(cause, sqlite3.OperationalError) and "unable to open" in str(cause):
            return _cannot_open_file(shown, "SQLite cannot open it")
        if isinstance(cause, OSError) and cause.filename is not None:
            return _cannot_open_file(shown, cause.strerror or type(cause).__name__)
        if isinstance(cause, OSError) and not is_sqlite(url):
            return _server_unreachable(cause, url, shown)
    return None


def not_migrated_problem(url: str, current: str | None, head: str | None) -> DatabaseNotReady:
    shown = _safe_url(url)
    if current is None:
        return DatabaseNotReady(_not_migrated(shown).removeprefix("Cannot start: "))
    return DatabaseNotReady(
        f"the database at USS_DATABASE_URL ({shown}) is at revision {current}, the code needs "
        f"{head}. How to fix: {MIGRATE}"
    )


def missing_file_problem(url: str) -> DatabaseNotReady:
    path = sqlite_file(url)
    return DatabaseNotReady(
        f"there is no database at {path.absolute() if path else url} (USS_DATABASE_URL). "
        f"How to fix: {MIGRATE} to create it, or point USS_DATABASE_URL at the existing one"
    )


def _not_migrated(shown: str) -> str:
    return (
        f"Cannot start: the database at USS_DATABASE_URL ({shown}) has no schema yet, or not "
        f"all of it. How to fix: {MIGRATE}."
    )


def _cannot_open_file(shown: str, reason: str) -> str:
    return (
        f"Cannot start: cannot open the SQLite database {shown} ({reason}). How to fix: check "
        "the path in USS_DATABASE_URL and that this user may write to it and its folder."
    )


def _server_unreachable(problem: OSError, url: str, shown: str) -> str:
    parsed = make_url(url)
    where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
    if isinstance(problem, socket.gaierror):
        reason = f"the host name {parsed.host!r} is not known"
    elif isinstance(problem, ConnectionRefusedError):
        reason = f"nothing accepts connections at {where}"
    elif isinstance(problem, TimeoutError):
        reason = f"no answer from {where}"
    else:
        reason = f"{problem.strerror or type(problem).__name__} at {where}"
    return (
        f"Cannot start: cannot reach the database server of USS_DATABASE_URL ({shown}): "
        f"{reason}. How to fix: check that the server is running, and the host and port in "
        "USS_DATABASE_URL."
    )


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "a URL that cannot be parsed"


def _without_userinfo(url: str | None) -> str:
    """A URL as it may be shown: no user name or password, nothing secret."""
    if not url:
        return ""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return redact(url)
    authority, slash, path = rest.partition("/")
    return redact(f"{scheme}://{authority.rpartition('@')[2]}{slash}{path}")
