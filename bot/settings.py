"""Settings from the environment and `.env`, validated once at start-up."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
from datetime import time
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from storage.crypto import AuditKey, BlindIndex, CryptoError, KeyRing, key_material, parse_key_spec
from storage.engine import is_sqlite

DEFAULT_CATEGORIES = (
    "Academic appeal",
    "Academic misconduct",
    "Complaint",
    "Extenuating circumstances",
    "Fitness to practise / disciplinary",
    "Finance",
    "Housing",
    "Other",
)

# What a closed case came to; the coordinator may change the list (USS_CASE_OUTCOMES).
DEFAULT_CASE_OUTCOMES = (
    "Advice given",
    "Resolved in the student's favour",
    "Not resolved in the student's favour",
    "Referred elsewhere",
    "Withdrawn by the student",
    "No further contact",
)

ENV_PREFIX = "USS_"

# How to fix each setting, shown when it is missing or malformed.
FIXES: dict[str, str] = {
    "bot_token": "ask @BotFather on Telegram for a token (/newbot), or try `python -m bot demo`",
    "data_keys": "run `python -m bot keygen --write .env` (never on a database that already "
    "has data: only the keys it was written with read it)",
    "index_key": "run `python -m bot keygen --write .env` (never on a database that already "
    "has data: lookups would stop matching)",
    "audit_key": "run `python -m bot keygen` and copy only its USS_AUDIT_KEY line into .env "
    "(keep the data and index keys you have)",
    "database_url": "use sqlite:///./var/uss.db or postgresql+asyncpg://user@host/db",
    "timezone": "use an IANA zone name such as Europe/London",
    "retention_years": "use a whole number of years from 1 to 5 (the policy's maximum)",
    "student_number_pattern": "use a regular expression, e.g. ^\\d{9}$",
    "bot_api_base_url": "use your Bot API server's address, e.g. http://127.0.0.1:8081, or "
    "leave it empty for Telegram's own",
    "staff_session_hours": "use a whole number of hours from 1 to 24",
    "stats_granularity": "use month, term or year, and keep the one first used (figures "
    "published for two kinds of period can be subtracted)",
    "concurrent_updates": "use a whole number from 1 to 100, or leave it empty for the "
    "database's default",
}

# Updates run at once when USS_CONCURRENT_UPDATES is empty. A running update holds at most
# one pooled connection, and the jobs together at most 11 (a delivery run of the outbox holds
# two, and three may run at once), so with these the pools of storage/engine.py (SQLite
# 5 + 10, PostgreSQL 10 + 20) never run dry. SQLite runs one write transaction at a time, so
# more would only queue inside it; PostgreSQL can take more on a bigger machine, with the pool.
UPDATES_AT_ONCE_SQLITE = 2
UPDATES_AT_ONCE_POSTGRESQL = 10


class SettingsError(Exception):
    """Start-up cannot go on: the message names the variable and how to fix it."""


class Settings(BaseSettings):
    """Everything the service is configured with (documented in .env.example)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    bot_token: SecretStr | None = None
    bot_api_base_url: str | None = None
    database_url: str = "sqlite:///./var/uss.db"
    data_keys: SecretStr | None = None
    index_key: SecretStr | None = None
    audit_key: SecretStr | None = None
    timezone: str = "Europe/London"
    service_name: str = "Union Support Service"
    office_details: str = "USS office, Students' Union building, ground floor"
    retention_years: int = Field(default=5, ge=1, le=5)
    # The one period every statistic is published for, chosen once (see .env.example).
    stats_granularity: Literal["month", "term", "year"] = "term"
    student_number_pattern: str = r"^\d{9}$"
    student_number_hint: str = "9 digits, for example 210012345"
    email_domains: Annotated[tuple[str, ...], NoDecode] = ("city.ac.uk",)
    categories: Annotated[tuple[str, ...], NoDecode] = DEFAULT_CATEGORIES
    description_max_chars: int = Field(default=1000, ge=100, le=2500)
    case_outcomes: Annotated[tuple[str, ...], NoDecode] = DEFAULT_CASE_OUTCOMES
    invite_ttl_hours: int = Field(default=72, ge=1, le=24 * 14)
    # How long a staff session unlocked with the second factor lasts (a working day at most).
    staff_session_hours: int = Field(default=8, ge=1, le=24)
    security_chat_ids: Annotated[tuple[int, ...], NoDecode] = ()
    security_digest: bool = True
    security_digest_at: time = time(17, 0)
    slot_minutes: int = Field(default=45, ge=10, le=240)
    buffer_minutes: int = Field(default=15, ge=0, le=120)
    min_notice_minutes: int = Field(default=120, ge=0, le=60 * 24 * 14)
    booking_horizon_days: int = Field(default=28, ge=1, le=180)
    max_upcoming_appointments: int = Field(default=1, ge=1, le=10)
    notice_escalate_minutes: int = Field(default=15, ge=1, le=24 * 60)
    reminder_offsets_minutes: Annotated[tuple[int, ...], NoDecode] = (24 * 60, 120)
    concurrent_updates: int | None = Field(default=None, ge=1, le=100)
    log_level: str = "INFO"
    # For containers whose secrets come from the environment and whose files hold none.
    allow_readable_secrets: bool = False

    @field_validator("email_domains", "categories", "case_outcomes", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(p.strip() for p in value.split(",") if p.strip())
        return value

    @field_validator("security_chat_ids", "reminder_offsets_minutes", mode="before")
    @classmethod
    def _split_ints(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(int(p) for p in value.split(",") if p.strip())
        return value

    @field_validator("concurrent_updates", mode="before")
    @classmethod
    def _blank_is_default(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("security_digest_at", mode="before")
    @classmethod
    def _clock_time(cls, value: object) -> object:
        if isinstance(value, str):
            match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", value)
            if not match or int(match[1]) > 23 or int(match[2]) > 59:
                raise ValueError(f"{value!r} is not a time of day like 17:00")
            return time(int(match[1]), int(match[2]))
        return value

    @field_validator("bot_api_base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if not value or not value.strip():
            return None
        value = value.strip()
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 (parsing it is the check)
        except ValueError as exc:
            raise ValueError(f"not a URL ({exc})") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("it should look like http://127.0.0.1:8081")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("student_number_pattern")
    @classmethod
    def _valid_regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from exc
        return value

    @field_validator("categories")
    @classmethod
    def _some_categories(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one category is needed")
        if any(len(v) > 64 for v in value):  # the statistics column holds 64
            raise ValueError("at most 64 characters each")
        return value

    @field_validator("case_outcomes")
    @classmethod
    def _some_outcomes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one case outcome is needed")
        if len(value) > 20 or any(len(v) > 60 for v in value):
            raise ValueError("at most 20 outcomes of at most 60 characters each")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def updates_at_once(self) -> int:
        """How many updates run together: the setting, or the default for the database."""
        if self.concurrent_updates is not None:
            return self.concurrent_updates
        if is_sqlite(self.database_url):
            return UPDATES_AT_ONCE_SQLITE
        return UPDATES_AT_ONCE_POSTGRESQL

    def key_ring(self) -> KeyRing:
        """The data key ring, or a SettingsError that says how to make one."""
        if self.data_keys is None or not self.data_keys.get_secret_value().strip():
            raise SettingsError(_missing("data_keys"))
        try:
            return KeyRing.from_spec(self.data_keys.get_secret_value())
        except CryptoError as exc:
            raise SettingsError(_malformed("data_keys", str(exc))) from exc

    def blind_index(self) -> BlindIndex:
        if self.index_key is None or not self.index_key.get_secret_value().strip():
            raise SettingsError(_missing("index_key"))
        try:
            return BlindIndex.from_spec(self.index_key.get_secret_value())
        except CryptoError as exc:
            raise SettingsError(_malformed("index_key", str(exc))) from exc

    def audit_chain_key(self) -> AuditKey:
        """The audit chain's MAC key, refused if it repeats a data key or the index key."""
        if self.audit_key is None or not self.audit_key.get_secret_value().strip():
            raise SettingsError(_missing("audit_key"))
        try:
            key = AuditKey.from_spec(self.audit_key.get_secret_value())
        except CryptoError as exc:
            raise SettingsError(_malformed("audit_key", str(exc))) from exc
        if any(key.is_material(other) for other in self._other_keys()):
            raise SettingsError(
                _malformed(
                    "audit_key",
                    "it repeats a data key or the index key, and the audit chain needs a key "
                    "of its own",
                )
            )
        return key

    def _other_keys(self) -> list[bytes]:
        """The raw data and index keys, where they parse (their own checks report them)."""
        found: list[bytes] = []
        if self.data_keys is not None:
            with contextlib.suppress(CryptoError):
                found += [m for _, m in parse_key_spec(self.data_keys.get_secret_value())]
        if self.index_key is not None:
            with contextlib.suppress(CryptoError):
                found.append(key_material(self.index_key.get_secret_value()))
        return found

    def token(self) -> str:
        if self.bot_token is None or not self.bot_token.get_secret_value().strip():
            raise SettingsError(_missing("bot_token"))
        value = self.bot_token.get_secret_value().strip()
        if not re.fullmatch(r"\d+:[A-Za-z0-9_-]{20,}", value):
            raise SettingsError(_malformed("bot_token", "it should look like 123456:ABC-DEF..."))
        return value

    def secret_values(self) -> list[str]:
        """Every secret setting's value and its parts: each key of a ring, a token's secret half.

        The database URL's password counts too. What logging and error reports must never show.
        """
        values: list[str] = []
        for name in type(self).model_fields:
            setting = getattr(self, name)
            if isinstance(setting, SecretStr):
                raw = setting.get_secret_value()
                values.append(raw)
                for item in raw.split(","):
                    values.extend((item, item.partition(":")[2]))
        try:
            password = make_url(self.database_url).password
        except ArgumentError:
            password = None
        if password:
            values.append(str(password))
        return [v.strip() for v in values if v.strip()]

    def require_private(self, path: Path, holds: str) -> None:
        """Refuse a file holding secrets that other users of this machine can open."""
        if self.allow_readable_secrets or os.name != "posix":
            return
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            place = path.absolute()
            raise SettingsError(
                f"{place} {holds}, and other users of this machine can open it "
                f"(mode {mode:04o}). How to fix: chmod 600 {shlex.quote(str(place))} "
                "(or, in a container whose secrets come from the environment, "
                "set USS_ALLOW_READABLE_SECRETS=true)."
            )


def _variable(field: str) -> str:
    return ENV_PREFIX + field.upper()


def _missing(field: str) -> str:
    return f"{_variable(field)} is not set. How to fix: {FIXES[field]}."


def _malformed(field: str, reason: str) -> str:
    fix = FIXES.get(field, "see .env.example")
    return f"{_variable(field)} is malformed: {reason}. How to fix: {fix}."


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning validation errors into one readable SettingsError."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            lines.append(_malformed(field, str(error["msg"])))
        raise SettingsError("\n".join(lines)) from None
    for env_file in _env_files(overrides.get("_env_file", Settings.model_config.get("env_file"))):
        if env_file.is_file():
            settings.require_private(env_file, "holds the bot's settings (its token and keys)")
    return settings


def _env_files(value: object) -> list[Path]:
    if value is None:
        return []
    if isinstance(value, str | os.PathLike):
        return [Path(value)]
    if isinstance(value, list | tuple):
        return [Path(v) for v in value]
    return []
