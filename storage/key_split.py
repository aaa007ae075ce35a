"""Moving fields sealed under the key ring (before data keys existed) to their owners' data
keys, so that destroying a case's or a student's key makes them unreadable too.

Batch by batch, each batch one transaction: a crash loses at most the batch in hand, and the
next run goes on where this one stopped, since a field already under its data key is
recognised by its token (`sealed_under_data_key`) and never touched again. Rows of no owner
(messages to staff, requests of a student who is gone) stay under the key ring.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.types import LargeBinary

from storage import data_keys
from storage.audit import rekey_permit
from storage.crypto import DATA_KEY_PREFIX, FieldCipher
from storage.models import SEALED_COLUMNS, Base

BATCH = 200


def owned_models() -> list[type[Base]]:
    """The models whose rows belong to a case or a student, in a fixed order."""
    return [m for m in SEALED_COLUMNS if getattr(m, "SEALED_UNDER", None) is not None]


def sealed_under_the_ring(model: type[Base]) -> ColumnElement[bool]:
    """Rows with at least one field sealed under the key ring (told apart in SQL by the
    first bytes of each token: a data-key token starts with DATA_KEY_PREFIX)."""
    table = cast(Table, model.__table__)
    prefix = literal(DATA_KEY_PREFIX, LargeBinary)
    return or_(
        *(
            and_(
                table.c[column].is_not(None),
                func.substr(table.c[column], 1, len(DATA_KEY_PREFIX)) != prefix,
            )
            for column in SEALED_COLUMNS[model]
        )
    )


def _waiting(model: type[Base]) -> ColumnElement[bool]:
    """Rows with an owner and at least one field still sealed under the key ring."""
    _, owner_column = model.SEALED_UNDER  # type: ignore[attr-defined]
    return and_(
        cast(Table, model.__table__).c[owner_column].is_not(None), sealed_under_the_ring(model)
    )


async def count_waiting(session: AsyncSession) -> int:
    """How many rows `split` has still to move (for a progress bar)."""
    total = 0
    for model in owned_models():
        total += int(
            await session.scalar(
                select(func.count()).select_from(model.__table__).where(_waiting(model))
            )
            or 0
        )
    return total


@dataclass
class SplitReport:
    rows: int = 0
    fields: int = 0


async def _split_batch(
    session: AsyncSession, cipher: FieldCipher, model: type[Base]
) -> SplitReport:
    """Up to BATCH rows of `model` moved (the caller commits)."""
    table = cast(Table, model.__table__)
    columns = SEALED_COLUMNS[model]
    keep = [c for c in ("case_id", "student_id") if c in table.c]
    found = (
        await session.execute(
            select(table.c.id, *(table.c[c] for c in {*keep, *columns}))
            .where(_waiting(model))
            .order_by(table.c.id)
            .limit(BATCH)
            .with_for_update()
        )
    ).all()
    report = SplitReport()
    if not found:
        return report
    # Stand-ins of the rows, never added to the session: enough for owner and context.
    places: list[tuple[Any, Any]] = [
        (model(id=r.id, **{c: getattr(r, c) for c in keep}), r) for r in found
    ]
    await data_keys.bind(session, *(place for place, _ in places))
    for place, row in places:
        moved: dict[str, bytes] = {}
        for column in columns:
            token = getattr(row, column)
            if token is not None and not bytes(token).startswith(DATA_KEY_PREFIX):
                moved[column] = cipher.to_owner_key(place, column, bytes(token))
        await session.execute(update(table).where(table.c.id == row.id).values(moved))
        report.rows += 1
        report.fields += len(moved)
    return report


async def split(
    sessions: async_sessionmaker[AsyncSession],
    cipher: FieldCipher,
    *,
    progress: Callable[[int], None] | None = None,
) -> SplitReport:
    """Move every owned field still under the key ring to its owner's data key, one committed
    batch at a time; `progress` is told how many rows each batch moved."""
    total = SplitReport()
    for model in owned_models():
        while True:
            # Case notes and disclosures are kept as written: their triggers let only a
            # re-encryption through, and only while the rotation's permit row exists.
            async with sessions() as session, session.begin(), rekey_permit(session):
                done = await _split_batch(session, cipher, model)
            if not done.rows:
                break
            total.rows += done.rows
            total.fields += done.fields
            if progress is not None:
                progress(done.rows)
    return total
