"""One unit of work per update: opened before the first guard, shared by every handler.

The update's transaction begins with its processed marker (so a redelivered update is refused
before anything runs), resolves the sender's role once, carries the handler's work, and
commits at the latest just before the bot first calls Telegram for this update: no
transaction is ever open during a Bot API call, and an update costs one transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from types import TracebackType
from typing import Any

from telegram import Update
from telegram.ext import Application, BaseRateLimiter

from bot.services.deps import Deps
from bot.services.staff import staff
from bot.vocabulary import Role
from storage.uow import DuplicateUpdate, UnitOfWork

log = logging.getLogger("bot.handlers")


class UpdateScope:
    """The unit of work of one update, and what it learnt about the sender."""

    def __init__(self, deps: Deps, update: Update) -> None:
        self._deps = deps
        self._user_id = update.effective_user.id if update.effective_user else None
        self.uow: UnitOfWork = deps.uow(update.update_id, one_transaction=True)
        self._role: Role | None = None
        self._lent = 0  # handlers' `async with` blocks open on the unit of work right now
        self._broken = False  # a rollback failed: nothing more is committed
        self._owner = asyncio.current_task()

    async def open(self) -> None:
        """Begin the transaction with the update's marker; DuplicateUpdate if seen before."""
        await self.uow.__aenter__()

    async def role(self) -> Role:
        """The sender's role, read once per update."""
        if self._role is None:
            assert self._user_id is not None
            self._role = await staff.role_of(self.uow, self._deps, self._user_id)
        return self._role

    def lend(self) -> Lent:
        """The unit of work for a handler's `async with` block."""
        return Lent(self)

    def owns_this_task(self) -> bool:
        return asyncio.current_task() is self._owner

    async def settle(self) -> None:
        """Commit what the update has kept so far, before the bot speaks to Telegram."""
        if self._lent:
            raise RuntimeError("Telegram was called inside a unit of work: reply after it")
        if not self._broken and self.uow.session.in_transaction():
            await self.uow.finish()

    async def fail(self) -> None:
        """After an unexpected error: keep what services committed, drop the rest; with
        nothing committed, drop the marker too, so a redelivery gets another chance."""
        try:
            await self.uow.rollback()
            if not self.uow.kept_work:
                await self.uow.abandon()
        except Exception as exc:  # the database itself failed: commit nothing more
            self._broken = True
            log.warning("could not roll back update work: %s", type(exc).__name__)

    async def close(self) -> None:
        try:
            if not self._lent:
                await self.settle()
        finally:
            await self.uow.__aexit__(None, None, None)


class Lent:
    """A handler's block on the update's unit of work: an error in it rolls the work back."""

    def __init__(self, scope: UpdateScope) -> None:
        self._scope = scope

    async def __aenter__(self) -> UnitOfWork:
        self._scope._lent += 1
        return self._scope.uow

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._scope._lent -= 1
        if exc_type is not None:
            await self._scope.uow.rollback()


_current: ContextVar[UpdateScope | None] = ContextVar("update_scope", default=None)


def current_scope() -> UpdateScope | None:
    """The scope of the update this task is handling, if any (never another task's)."""
    scope = _current.get()
    return scope if scope is not None and scope.owns_this_task() else None


class ScopedApplication(Application[Any, Any, Any, Any, Any, Any]):
    """An Application that gives each update its one unit of work."""

    async def process_update(self, update: object) -> None:
        if not isinstance(update, Update):
            await super().process_update(update)
            return
        scope = UpdateScope(self.bot_data.deps, update)
        try:
            await scope.open()
        except DuplicateUpdate:
            log.info("update %s was already handled; skipped", update.update_id)
            return
        token = _current.set(scope)
        try:
            await super().process_update(update)
        finally:
            _current.reset(token)
            await scope.close()


class SettleFirst(BaseRateLimiter[Any]):
    """Before every Bot API call, commit the calling update's work; then let `inner` (the
    production rate limiter, if any) pace the call.

    It sits where python-telegram-bot passes every call, ahead of the rate limiter, so not
    even a wait for the rate limit (or a RetryAfter it sleeps out) happens in a transaction.
    """

    def __init__(self, inner: BaseRateLimiter[Any] | None = None) -> None:
        self._inner = inner

    async def initialize(self) -> None:
        if self._inner is not None:
            await self._inner.initialize()

    async def shutdown(self) -> None:
        if self._inner is not None:
            await self._inner.shutdown()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Any | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        scope = current_scope()
        if scope is not None:
            await scope.settle()
        if self._inner is None:
            return await callback(*args, **kwargs)
        return await self._inner.process_request(
            callback, args, kwargs, endpoint, data, rate_limit_args
        )
