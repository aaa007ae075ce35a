"""Secrets never reach a log line or a logged traceback (issue 8.4)."""

from __future__ import annotations

import io
import logging
import secrets
from collections.abc import Iterator

import pytest
from telegram import Bot
from telegram.error import InvalidToken

from bot import logs
from bot.settings import Settings
from bot.transport import LocalBotApi, LocalRequest


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger writing to a string, and a registry of secrets of this test's own."""
    monkeypatch.setattr(logs, "_secrets", set())
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("telegram.ext.test_log_secrets")
    logger.addHandler(handler)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


async def test_a_logged_invalid_token_traceback_never_shows_the_token(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    token = f"7012345678:AAH{secrets.token_urlsafe(24)}"
    settings = Settings(_env_file=None, bot_token=token)  # type: ignore[call-arg, arg-type]
    logs.keep_out_of_logs(settings.secret_values())
    api = LocalBotApi()
    api.refuse_token(401)
    bot = Bot(token, request=LocalRequest(api), get_updates_request=LocalRequest(api))
    with pytest.raises(InvalidToken) as rejected:
        await bot.initialize()
    assert token in str(rejected.value)  # python-telegram-bot quotes the whole token

    try:
        raise RuntimeError("wrapped") from rejected.value
    except RuntimeError:
        logger.exception("Invalid token %s. Aborting retry loop.", token)
    logger.error("token in the arguments: %r", {"url": f"https://x/bot{token}/getMe"})

    written = stream.getvalue()
    assert "InvalidToken" in written  # the traceback is still there, without the secret
    assert "Aborting retry loop" in written
    assert token not in written
    assert token.split(":", 1)[1] not in written
    assert logs.REDACTED in written


def test_key_material_and_the_database_password_are_kept_out_too(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    data_key, index_key, password = (secrets.token_urlsafe(32) for _ in range(3))
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_keys=f"k2:{data_key},k1:{secrets.token_urlsafe(32)}",  # type: ignore[arg-type]
        index_key=index_key,  # type: ignore[arg-type]
        database_url=f"postgresql+asyncpg://uss:{password}@db/uss",
    )
    logs.keep_out_of_logs(settings.secret_values())
    logger.warning("%s %s %s under key k2", data_key, index_key, password)
    written = stream.getvalue()
    for secret in (data_key, index_key, password):
        assert secret not in written
    assert "under key k2" in written  # key ids are not secrets and stay readable
