"""Each case's and each student's own data key, wrapped by the key ring (crypto-shredding).

A case's fields (episodes, notes, documents, disclosures, grants, consent requests, drafts) are
sealed under the case's data key; a student's (the student row, sheets, consent ledger,
appointments, messages to them, their subject requests) under the student's. The wrapped
keys live in `data_keys`, one row per owner. Deleting a case or a student deletes its row in
the same transaction, so whatever ciphertext of theirs survives elsewhere (a backup, a copied
database file) can no longer be opened, by anyone.

`FieldCipher.seal` and `open` stay synchronous: a session looks each owner's key up once and
keeps it (`OwnerKeys`, in `Session.info`). Loading a row that belongs to an owner looks the
owner's key up there and then (an ORM `load` event, run inside SQLAlchemy's greenlet, so a
plain query works on both engines); a new row is bound to its owner's key by the service
that creates it (`bind`), before its fields are sealed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryContext, Session

from storage.crypto import KeyRing, Owner, OwnerKeys, OwnerKind, owner_of
from storage.models import Base, DataKey

# Where a session keeps the data keys it has looked up. Kept across its commits (a key does
# not change), dropped on a rollback (a key made in the transaction may be gone with it).
SESSION_KEYS = "data_keys"
# Owners looked up in one query at most (a bound parameter each).
_CHUNK = 500


def owner_keys(session: Session | AsyncSession) -> OwnerKeys:
    """The data keys this session has looked up so far."""
    keys = session.info.get(SESSION_KEYS)
    if not isinstance(keys, OwnerKeys):
        keys = session.info[SESSION_KEYS] = OwnerKeys()
    return keys


def _lookup(owners: Sequence[Owner]) -> list[Any]:
    """The statements that find these owners' wrapped keys (one per kind and chunk)."""
    statements: list[Any] = []
    for kind in OwnerKind:
        ids = sorted({o.id for o in owners if o.kind is kind})
        for start in range(0, len(ids), _CHUNK):
            statements.append(
                select(DataKey.owner_kind, DataKey.owner_id, DataKey.wrapped).where(
                    DataKey.owner_kind == kind.value,
                    DataKey.owner_id.in_(ids[start : start + _CHUNK]),
                )
            )
    return statements


def _record(keys: OwnerKeys, owners: Iterable[Owner], rows: Iterable[Any]) -> None:
    found = {Owner(OwnerKind(r.owner_kind), r.owner_id): bytes(r.wrapped) for r in rows}
    for owner in owners:
        keys.found(owner, found.get(owner))


def _fetch_on_load(row: object, context: QueryContext) -> None:
    """A row that belongs to a case or student was loaded: its owner's key is looked up (once
    per session) and the row carries the session's keys.

    Runs inside SQLAlchemy's greenlet, so the synchronous query below is the async session's
    own connection and transaction (Core, so nothing is flushed half-way through a load).
    """
    owner = owner_of(row)
    session = context.session
    keys = owner_keys(session)
    if owner is not None and not keys.knows(owner):
        connection: Connection = session.connection()
        (statement,) = _lookup([owner])
        _record(keys, [owner], connection.execute(statement))
    keys.attach(row)


def _listen() -> None:
    for mapper in Base.registry.mappers:
        model = mapper.class_
        if getattr(model, "SEALED_UNDER", None) is not None and not event.contains(
            model, "load", _fetch_on_load
        ):
            event.listen(model, "load", _fetch_on_load)


# Every session sees owned rows arrive with their keys, however it was made (the composition
# root, a test, a command): the listeners belong to the models, not to an engine.
_listen()


async def fetch(session: AsyncSession, owners: Iterable[Owner]) -> None:
    """Look up these owners' keys in one query per kind (those not looked up already)."""
    keys = owner_keys(session)
    wanted = [o for o in dict.fromkeys(owners) if not keys.knows(o)]
    if not wanted:
        return
    # Through the connection, not the session: a pending row must not be flushed half-made.
    connection = await session.connection()
    rows = [row for s in _lookup(wanted) for row in (await connection.execute(s)).all()]
    _record(keys, wanted, rows)


async def bind(session: AsyncSession, *rows: object) -> None:
    """Make new rows ready to be sealed: their owners' keys looked up, the rows carrying them.

    Call it once a row names its owner (its `case_id` or `student_id`), before sealing any of
    its fields, and again if the owner changes.
    """
    await fetch(session, (o for o in map(owner_of, rows) if o is not None))
    keys = owner_keys(session)
    for row in rows:
        keys.attach(row)


def create(session: AsyncSession, ring: KeyRing, owner: Owner, now: datetime) -> None:
    """Give a new case or student its data key (inserted with the caller's transaction)."""
    wrapped = ring.new_data_key(owner)
    session.add(
        DataKey(owner_kind=owner.kind.value, owner_id=owner.id, wrapped=wrapped, created_at=now)
    )
    owner_keys(session).found(owner, wrapped)


async def destroy(session: AsyncSession, kind: OwnerKind, ids: Sequence[str]) -> int:
    """Delete these owners' keys (in the caller's transaction, with their records)."""
    deleted = 0
    for start in range(0, len(ids), _CHUNK):
        chunk = list(ids[start : start + _CHUNK])
        result = await session.execute(
            delete(DataKey).where(DataKey.owner_kind == kind.value, DataKey.owner_id.in_(chunk))
        )
        deleted += int(getattr(result, "rowcount", 0) or 0)
    keys = owner_keys(session)
    for owner_id in ids:
        keys.gone(Owner(kind, owner_id))
    return deleted
