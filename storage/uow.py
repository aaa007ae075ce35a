"""The unit of work: one session and one transaction per update or job."""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable, Hashable
from datetime import datetime
from types import TracebackType
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError, InvalidRequestError
from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction, async_sessionmaker

from storage.data_keys import SESSION_KEYS
from storage.models import ProcessedUpdate
from storage.sqlite_driver import READ_ONLY

NOT_ASKED = object()  # what `UnitOfWork.known` returns for a question not asked yet


class DuplicateUpdate(Exception):
    """This Telegram update was handled before (redelivered, or fed twice)."""


class UnitOfWork:
    """Opens a session; commits only when told to, rolls back whatever is left on exit.

    Given an update id, the first statement of the transaction inserts that update's
    processed marker: if the update was handled before, the primary key refuses it and
    DuplicateUpdate is raised before anything else runs (on PostgreSQL a concurrent copy waits
    for the first to commit or roll back, then is refused or goes ahead). The marker commits
    with the update's effects.

    With `read_only`, a transaction that only reads: on SQLite it neither waits for a writer
    nor holds one up. Writing in it is a mistake SQLite may refuse.

    With `one_transaction`, the unit of work of a whole update (bot/handlers/scope.py), which
    commits once: `commit()` marks a point (a SAVEPOINT) that a later `rollback()` goes back
    to, and `finish()` commits everything done so far. Code that must not keep what it did
    raises, and the handler's block rolls it back; `abandon()` gives up everything, marker
    included.
    """

    session: AsyncSession

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        now: Callable[[], datetime],
        *,
        update_id: int | None = None,
        one_transaction: bool = False,
        read_only: bool = False,
    ) -> None:
        self._sessions = sessions
        self._now = now
        self._update_id = update_id
        self._read_only = read_only
        self._one_transaction = one_transaction
        self._after_commit: list[Callable[[], None]] = []
        # Whether this transaction already holds the marker's INSERT (false again after a rollback).
        self._marker_inserted = False
        # one_transaction: the SAVEPOINT of the last commit(), and whether there was one
        # since the transaction began.
        self._point: AsyncSessionTransaction | None = None
        self.kept_work = False
        # Rows found by a lookup already asked in this unit of work (see `known`).
        self._known: dict[Hashable, Any] = {}

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._sessions()
        try:
            if self._read_only:
                # On SQLite, a snapshot that takes no write lock (see storage/sqlite_driver.py).
                await self.session.connection(execution_options={READ_ONLY: True})
            if self._update_id is not None:
                await self._insert_marker(self._update_id)
        except BaseException:
            await self.session.close()  # whatever failed, the connection goes back
            raise
        return self

    async def _insert_marker(self, update_id: int) -> None:
        # Alone in the session when this runs, so an integrity error can only be the marker's.
        try:
            await self._mark(update_id)
        except IntegrityError:
            await self.session.rollback()
            raise DuplicateUpdate(str(update_id)) from None
        self._marker_inserted = True

    async def _mark(self, update_id: int) -> None:
        # A plain INSERT: the ORM's flush machinery costs more than the statement here.
        await self.session.execute(
            insert(ProcessedUpdate).values(update_id=update_id, processed_at=self._now())
        )

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() rolls back anything uncommitted and detaches rows without expiring them,
        # so values already read stay readable after the unit of work ends.
        await self.session.close()

    def known(self, question: Hashable) -> Any:
        """What an earlier lookup of this unit of work found for `question` (None included),
        or NOT_ASKED.

        Lookups that run more than once per update (who is this staff member? have they
        signed the policy?) ask the database once. Code that creates or changes what a
        question would find keeps the new answer; a rollback or a commit forgets them all.
        """
        return self._known.get(question, NOT_ASKED)

    def keep(self, question: Hashable, found: Any) -> None:
        self._known[question] = found

    def _forget(self, *, committed: bool) -> None:
        self._known.clear()
        # What a transaction kept there (a row it locked) ends too; the data keys it looked
        # up stay after a commit (storage/data_keys.py).
        keys = self.session.info.get(SESSION_KEYS)
        self.session.info.clear()
        if committed and keys is not None:
            self.session.info[SESSION_KEYS] = keys

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run `action` once the transaction commits (once, however often it is asked for)."""
        if action not in self._after_commit:
            self._after_commit.append(action)

    async def commit(self) -> None:
        """Commit, marking the update processed in the same transaction as its effects.

        In one_transaction mode, keep what is done so far instead (`finish()` commits it); a
        flush that fails goes back to the last kept point before the error is raised.
        """
        if not self._one_transaction:
            await self._commit_now()
            return
        try:
            await self.session.flush()
        except BaseException:
            await self.rollback()
            raise
        self._point = await self.session.begin_nested()
        self.kept_work = True

    async def finish(self) -> None:
        """Commit everything done so far, at once (what one_transaction mode defers)."""
        await self._commit_now()

    async def _commit_now(self) -> None:
        if self._update_id is not None and not self._marker_inserted:
            # Rolled back since the unit of work began: the marker goes in with this commit.
            await self._mark(self._update_id)
        await self._end(self.session.commit(), committed=True)
        self._update_id = None
        actions, self._after_commit = self._after_commit, []
        for action in actions:
            # In a context of its own: a task it starts must not inherit this update's.
            contextvars.Context().run(action)

    async def _end(self, ending: Awaitable[None], *, committed: bool = False) -> None:
        """Commit or roll back the whole transaction, and forget what it held."""
        await ending
        self._forget(committed=committed)
        self._point = None
        self.kept_work = False
        self._marker_inserted = False

    async def rollback(self) -> None:
        """Undo what was done since the last commit (in one_transaction mode, the last point)."""
        point = self._point
        if point is not None:
            self._known.clear()
            self.session.info.clear()
            try:
                # Also after a failed flush, which has already deactivated the savepoint.
                await point.rollback()
            except InvalidRequestError:
                pass  # the whole transaction is gone (its connection failed): start again
            else:
                self._point = await self.session.begin_nested()
                return
        self._after_commit = []
        # The marker goes with the rest; a later commit of this unit of work inserts it again.
        await self._end(self.session.rollback())

    async def abandon(self) -> None:
        """Give up the whole transaction, the marker with it: nothing of this is committed."""
        self._after_commit = []
        self._update_id = None
        await self._end(self.session.rollback())


async def forget_processed_updates(session: AsyncSession, before: datetime) -> int:
    """Drop markers older than Telegram keeps updates for (24 hours), so the table stays small."""
    result = await session.execute(
        delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < before)
    )
    return int(getattr(result, "rowcount", 0) or 0)
