"""The update processor: a few updates at once, each chat's one at a time in the order received."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

# How many updates the processor holds at once, running or waiting their turn (what
# python-telegram-bot calls max_concurrent_updates); more wait at its door, in the order
# handed over. The Application keeps a task for every update it hands over in any case, so
# this bounds nothing that matters; it is large so that the order of a chat's updates is
# always fixed inside the processor (see ChatOrderedProcessor).
HELD = 10_000


def order_key(update: object) -> int | None:
    """Whose updates must not overtake one another: the chat's, or without a chat the user's.

    A private chat's id is its user's id, so a person's updates without a chat (a press on an
    inline message, an inline query) queue with their private chat. Anything else has no order.
    """
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    if update.effective_user is not None:
        return update.effective_user.id
    return None


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Runs at most `at_once` updates together; one chat's updates run one at a time, in order.

    An update first waits for the earlier updates of its chat to finish, then for one of the
    `at_once` places, so an update waiting behind its own chat never takes a place (or a
    database connection) from another chat. Its place in its chat's line is taken the moment
    it is handed over: `process_update` enters `do_process_update` without yielding to the
    event loop while fewer than `held` updates are in the processor.
    """

    __slots__ = ("_at_once", "_last", "_places")

    def __init__(self, at_once: int, *, held: int = HELD) -> None:
        if not 1 <= at_once <= held:
            raise ValueError(f"at_once must be from 1 to {held}, not {at_once}")
        super().__init__(held)
        self._at_once = at_once
        self._places = asyncio.Semaphore(at_once)
        # Per chat, the turn of the latest update handed over: done once it has finished.
        self._last: dict[int, asyncio.Future[None]] = {}

    @property
    def at_once(self) -> int:
        """How many updates may run together."""
        return self._at_once

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = order_key(update)
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        earlier = None
        if key is not None:
            earlier = self._last.get(key)
            self._last[key] = turn
        started = False
        try:
            if earlier is not None:
                # Shielded: cancelling this wait must not cancel the earlier update's turn.
                await asyncio.shield(earlier)
            async with self._places:
                started = True
                await coroutine
        finally:
            if not started and inspect.iscoroutine(coroutine):
                coroutine.close()  # cancelled while waiting: it will never run
            self._end_turn(key, turn, earlier)

    def _end_turn(
        self, key: int | None, turn: asyncio.Future[None], earlier: asyncio.Future[None] | None
    ) -> None:
        """Let the chat's next update go, but never before the one ahead of this one ended."""
        if earlier is not None and not earlier.done():
            # Only when this update was cancelled while it waited for the one ahead.
            earlier.add_done_callback(lambda _: self._end_turn(key, turn, None))
            return
        turn.set_result(None)
        if key is not None and self._last.get(key) is turn:
            del self._last[key]

    async def initialize(self) -> None:
        """Nothing to set up: the places and lines live in memory."""

    async def shutdown(self) -> None:
        """Nothing to free: python-telegram-bot awaits the updates still in hand before this."""
