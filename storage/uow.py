"""The unit of work: one session and one transaction per update or job."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from types import TracebackType

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import ProcessedUpdate


class DuplicateUpdate(Exception):
    """This Telegram update was handled before (redelivered, or fed twice)."""


class UnitOfWork:
    """Opens a session; commits only when told to, rolls back whatever is left on exit.

    Given an update id, the first statement of the transaction inserts that update's
    processed marker: if the update was handled before, the primary key refuses it and
    DuplicateUpdate is raised before anything else runs (on PostgreSQL a concurrent copy waits
    for the first to commit or roll back, then is refused or goes ahead). The marker commits
    with the update's effects; a unit of work that never commits leaves no marker behind.
    """

    session: AsyncSession

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        now: Callable[[], datetime],
        *,
        update_id: int | None = None,
        on_marked: Callable[[int], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._now = now
        self._update_id = update_id
        self._on_marked = on_marked
        self._after_commit: list[Callable[[], None]] = []
        # Whether this transaction already holds the marker's INSERT (false again after a rollback).
        self._marker_inserted = False

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._sessions()
        if self._update_id is not None:
            try:
                await self._insert_marker(self._update_id)
            except DuplicateUpdate:
                await self.session.close()
                raise
        return self

    async def _insert_marker(self, update_id: int) -> None:
        # Alone in the session when this runs, so an integrity error can only be the marker's.
        self.session.add(ProcessedUpdate(update_id=update_id, processed_at=self._now()))
        try:
            await self.session.flush()
        except IntegrityError:
            await self.session.rollback()
            raise DuplicateUpdate(str(update_id)) from None
        self._marker_inserted = True

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() rolls back anything uncommitted and detaches rows without expiring them,
        # so values already read stay readable after the unit of work ends.
        await self.session.close()

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run `action` once the transaction commits (once, however often it is asked for)."""
        if action not in self._after_commit:
            self._after_commit.append(action)

    async def commit(self) -> None:
        """Commit, marking the update processed in the same transaction as its effects."""
        marked = self._update_id
        if marked is not None and not self._marker_inserted:
            # Rolled back since the unit of work began: the marker goes in with this commit.
            self.session.add(ProcessedUpdate(update_id=marked, processed_at=self._now()))
        await self.session.commit()
        self._update_id = None
        self._marker_inserted = False
        if marked is not None and self._on_marked is not None:
            self._on_marked(marked)
        actions, self._after_commit = self._after_commit, []
        for action in actions:
            action()

    async def rollback(self) -> None:
        self._after_commit = []
        # The marker goes with the rest; a later commit of this unit of work inserts it again.
        self._marker_inserted = False
        await self.session.rollback()


async def forget_processed_updates(session: AsyncSession, before: datetime) -> int:
    """Drop markers older than Telegram keeps updates for (24 hours), so the table stays small."""
    result = await session.execute(
        delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < before)
    )
    return int(getattr(result, "rowcount", 0) or 0)
