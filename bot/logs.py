"""Logging that never carries personal data, whatever level an operator chooses."""

from __future__ import annotations

import logging

# Loggers of libraries that write message contents or secrets at low levels:
# python-telegram-bot logs every Bot API call with its parameters (the message text) at
# DEBUG, and httpx logs request URLs (which contain the bot token) at INFO.
_PINNED = {
    "telegram": logging.INFO,
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "apscheduler": logging.WARNING,
    "alembic": logging.WARNING,
    "aiosqlite": logging.INFO,
    "sqlalchemy.engine": logging.WARNING,
}


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
