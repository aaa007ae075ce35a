"""A claim on outbox messages: a lease of seconds, kept alive while its holder sends.

A crashed deliverer holds a message up only for CLAIM_FOR (a Security notice is
time-critical). A live holder renews its lease every RENEW_EVERY, so no other instance takes a
message whose send is in flight; a holder that cannot renew in time (its database stopped
answering) cancels that send before the lease can lapse. The claim's token says whose a row
is: only the holder loads, sends and records it, so an overtaken deliverer changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from sqlalchemy import update

from bot.services.deps import Deps
from storage.models import OutboxMessage

log = logging.getLogger("bot.outbox")

CLAIM_FOR = timedelta(seconds=10)
RENEW_EVERY = timedelta(seconds=3)


class ClaimLost(Exception):
    """The lease on a message could not be renewed in time: its send was given up."""


class Claim:
    """The messages one delivery round leased, under one token."""

    def __init__(self, deps: Deps, token: str, ids: list[str], until: datetime) -> None:
        self.deps = deps
        self.token = token
        self.ids = ids
        self._held = set(ids)
        self._until = until  # the lease is known to be ours up to here
        self._sending: str | None = None
        self._deadline: asyncio.Timeout | None = None
        self._lost = False

    def release(self, message_id: str) -> None:
        """This message's outcome is recorded (or it is gone): stop renewing it."""
        self._held.discard(message_id)

    @contextlib.asynccontextmanager
    async def kept_alive(self) -> AsyncIterator[None]:
        """Renew the lease in the background for as long as the block runs."""
        keeper = asyncio.ensure_future(self._keep_alive())
        try:
            yield
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper

    @contextlib.asynccontextmanager
    async def sending(self, message_id: str) -> AsyncIterator[None]:
        """Run a send while the lease holds; ClaimLost if it was cancelled to keep that true."""
        self._sending, self._lost = message_id, False
        try:
            async with asyncio.timeout(None) as self._deadline:
                yield
        except TimeoutError:
            if self._lost:
                raise ClaimLost(message_id) from None
            raise
        finally:
            self._sending = self._deadline = None

    async def _keep_alive(self) -> None:
        while True:
            await self.deps.clock.sleep(RENEW_EVERY)
            try:
                await self._renew()
            except Exception as exc:  # the database did not answer: the lease runs down
                log.warning("outbox lease not renewed: %s", type(exc).__name__)
            if self.deps.clock.now() + RENEW_EVERY >= self._until:
                self._give_up_send()

    async def _renew(self) -> None:
        now = self.deps.clock.now()
        ours = OutboxMessage.claim_token == self.token
        sending = self._sending
        async with self.deps.uow() as uow:
            if sending is not None:
                renewed = await uow.session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == sending, ours)
                    .values(claimed_until=now + CLAIM_FOR)
                    .execution_options(synchronize_session=False)
                )
                if getattr(renewed, "rowcount", 0) != 1:
                    self._give_up_send()
            waiting = self._held - {sending}
            if waiting:
                await uow.session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(waiting), ours)
                    .values(claimed_until=now + CLAIM_FOR)
                    .execution_options(synchronize_session=False)
                )
            await uow.commit()
        self._until = now + CLAIM_FOR

    def _give_up_send(self) -> None:
        if self._deadline is not None and not self._lost:
            self._lost = True
            self._deadline.reschedule(asyncio.get_running_loop().time())
