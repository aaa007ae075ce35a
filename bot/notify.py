"""The outbox's Telegram side: deliver one message, and translate Telegram's failures."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.message_parts import split_message
from bot.services.notices.outbox import DeliveryFailed

# 400s about the message itself: the same request is refused however often it is retried.
_REFUSES_THE_MESSAGE = (
    "message is too long",
    "can't parse entities",
    "message text is empty",
    "message_too_long",
    "entities_too_long",
    "button_data_invalid",
)
_TOO_LONG = "message is too long"


class TelegramSender:
    """Sends outbox messages with the application's bot."""

    def __init__(self, bot: Any) -> None:
        self._bot = bot

    async def send(self, chat_id: int, html: str) -> None:
        """Send `html`; if Telegram finds it too long after all, send it again in parts."""
        await self._send_split(chat_id, html, protect=True)

    async def send_copyable(self, chat_id: int, html: str) -> None:
        """A message meant to be kept elsewhere (the audit head): it may be copied, forwarded."""
        await self._send_split(chat_id, html, protect=False)

    async def send_with_buttons(
        self, chat_id: int, html: str, buttons: Sequence[tuple[str, str]]
    ) -> None:
        """A message with buttons under it, one per row (a consent request to a student)."""
        markup = InlineKeyboardMarkup(
            [[InlineKeyboardButton(label, callback_data=data)] for label, data in buttons]
        )
        parts = split_message(html)
        for part in parts[:-1]:
            await self._send(chat_id, part, protect=True)
        await self._send(chat_id, parts[-1], protect=True, markup=markup)

    async def _send_split(self, chat_id: int, html: str, *, protect: bool) -> None:
        try:
            await self._send(chat_id, html, protect=protect)
        except DeliveryFailed as failure:
            parts = split_message(html)
            if not (failure.refused and _TOO_LONG in failure.reason.lower() and len(parts) > 1):
                raise
            for part in parts:
                await self._send(chat_id, part, protect=protect)

    async def _send(
        self, chat_id: int, html: str, *, protect: bool, markup: InlineKeyboardMarkup | None = None
    ) -> None:
        try:
            await self._bot.send_message(
                chat_id,
                html,
                parse_mode=ParseMode.HTML,
                protect_content=protect,
                reply_markup=markup,
            )
        except RetryAfter as wait:
            seconds = wait.retry_after
            delay = seconds.total_seconds() if isinstance(seconds, timedelta) else float(seconds)
            raise DeliveryFailed("RetryAfter", retry_after=delay) from None
        except Forbidden:
            raise DeliveryFailed("Forbidden", permanent=True) from None
        except BadRequest as refused:
            reason = f"BadRequest: {refused.message[:40]}"
            if any(words in refused.message.lower() for words in _REFUSES_THE_MESSAGE):
                raise DeliveryFailed(reason, refused=True) from None
            # "chat not found" and friends: retrying the same request will not help soon.
            raise DeliveryFailed(reason, permanent=True) from None
        except (TimedOut, NetworkError) as failure:
            raise DeliveryFailed(type(failure).__name__) from None
