"""Logging that never carries personal data or a secret, whatever level an operator chooses."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote

# Loggers of libraries that write message contents or secrets at low levels:
# python-telegram-bot logs every Bot API call with its parameters (the message text) at
# DEBUG, and httpx logs request URLs (which contain the bot token) at INFO.
_PINNED = {
    "telegram": logging.INFO,
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "apscheduler": logging.WARNING,
    "alembic": logging.WARNING,
    "sqlalchemy.engine": logging.WARNING,
}

# Shorter strings are not worth hiding (a key id, a bot's numeric id) and would mangle text.
_SHORTEST_SECRET = 8
REDACTED = "[secret]"

_secrets: set[str] = set()
_plain_factory: Callable[..., logging.LogRecord] = logging.LogRecord


def protect_logs() -> None:
    """Keep those loggers above the levels at which they would write personal data."""
    for name, floor in _PINNED.items():
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level < floor:
            logger.setLevel(floor)


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    protect_logs()


def keep_out_of_logs(values: Iterable[str]) -> None:
    """Never let these strings (the bot token, key material) reach a log line or traceback.

    Libraries put secrets into their own messages (python-telegram-bot's InvalidToken quotes
    the whole token), so every log record is cleaned as it is made, before any handler sees it.
    """
    for value in values:
        value = value.strip()
        if len(value) >= _SHORTEST_SECRET:
            _secrets.update({value, quote(value, safe="")})
    global _plain_factory
    current = logging.getLogRecordFactory()
    if _secrets and current is not _clean_record:
        _plain_factory = current
        logging.setLogRecordFactory(_clean_record)


def redact(text: str) -> str:
    """The text with every secret registered by keep_out_of_logs replaced."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _clean_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _plain_factory(*args, **kwargs)
    if not _secrets:
        return record
    try:
        message = record.getMessage()
    except Exception:  # a malformed call: let logging report it as it would
        return record
    record.msg, record.args = redact(message), None
    if record.exc_info and record.exc_info[0] is not None:
        # Format the traceback now, cleaned; the raw exception (whose text may hold the
        # secret) is dropped so no handler can format it again.
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        record.exc_info = None
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record
