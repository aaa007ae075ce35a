"""Bring everything the key ring seals under its current key: the data keys (rewrapped, one
row per case or student), the fields still sealed under the ring (staff, messages to no
student, and whatever `keys split` has not moved yet), and the audit log's sealed entries.

Fields sealed under a data key are not read at all: the ring never sealed them, and their
key is the same after its wrapping changes. So a rotation costs one small row per owner,
however many notes and documents they have.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.audit import rekey_entries, rekey_permit
from storage.crypto import FieldCipher, Owner, OwnerKind, SealedRow, sealed_under_data_key
from storage.key_split import sealed_under_the_ring
from storage.models import SEALED_COLUMNS, Base, DataKey

BATCH = 500


@dataclass(frozen=True)
class RotationReport:
    # Fields sealed under the key ring itself.
    examined: int
    rotated: int
    # The audit log's sealed entries, counted apart (they go through the sanctioned path).
    audit_examined: int = 0
    audit_rotated: int = 0
    # The cases' and students' data keys, rewrapped under the current key.
    data_keys_examined: int = 0
    data_keys_rewrapped: int = 0


async def rotate_all(session: AsyncSession, cipher: FieldCipher) -> RotationReport:
    """Rewrite everything not already under the current key (the caller commits).

    The whole rotation holds the rekey permit: the records kept as written (case notes,
    disclosures) refuse any update without it, as the audit log does.

    What is already under the current key is opened too: a wrong key with the current key's
    id must stop the rotation (DecryptionError), not report success and invite removing the
    old keys.
    """
    async with rekey_permit(session):
        keys_examined, rewrapped = await _rewrap_data_keys(session, cipher)
        examined = rotated = 0
        for model in SEALED_COLUMNS:
            seen, changed = await _rotate_ring_fields(session, cipher, model)
            examined, rotated = examined + seen, rotated + changed
        audit = await rekey_entries(session, cipher)
    return RotationReport(
        examined, rotated, audit.examined, audit.rotated, keys_examined, rewrapped
    )


async def _rewrap_data_keys(session: AsyncSession, cipher: FieldCipher) -> tuple[int, int]:
    table = cast(Table, DataKey.__table__)
    examined = rewrapped = 0
    after: tuple[str, str] = ("", "")
    while True:
        rows = (
            await session.execute(
                select(table.c.owner_kind, table.c.owner_id, table.c.wrapped)
                .where(
                    or_(
                        table.c.owner_kind > after[0],
                        and_(table.c.owner_kind == after[0], table.c.owner_id > after[1]),
                    )
                )
                .order_by(table.c.owner_kind, table.c.owner_id)
                .limit(BATCH)
            )
        ).all()
        if not rows:
            return examined, rewrapped
        changed: list[dict[str, Any]] = []
        for kind, owner_id, wrapped in rows:
            context = Owner(OwnerKind(kind), owner_id).wrap_context()
            if cipher.keys.needs_rotation(bytes(wrapped)):
                new = cipher.keys.rotate(bytes(wrapped), context)
                changed.append({"b_kind": kind, "b_id": owner_id, "wrapped": new})
            else:
                cipher.keys.decrypt(bytes(wrapped), context)
        if changed:
            await session.execute(
                update(table)
                .where(
                    table.c.owner_kind == bindparam("b_kind"),
                    table.c.owner_id == bindparam("b_id"),
                )
                .values(wrapped=bindparam("wrapped")),
                changed,
            )
        examined += len(rows)
        rewrapped += len(changed)
        after = (rows[-1].owner_kind, rows[-1].owner_id)


async def _rotate_ring_fields(
    session: AsyncSession, cipher: FieldCipher, model: type[Base]
) -> tuple[int, int]:
    """The fields of `model` sealed under the key ring, brought under its current key."""
    table = cast(Table, model.__table__)
    columns = SEALED_COLUMNS[model]
    keep = [c for c in ("case_id",) if c in table.c]
    waiting: ColumnElement[bool] = sealed_under_the_ring(model)
    examined = rotated = 0
    after = ""
    while True:
        rows = (
            await session.execute(
                select(table.c.id, *(table.c[c] for c in {*keep, *columns}))
                .where(waiting, table.c.id > after)
                .order_by(table.c.id)
                .limit(BATCH)
            )
        ).all()
        if not rows:
            return examined, rotated
        for row in rows:
            # A stand-in, never added to the session: enough for the context.
            place = cast(SealedRow, model(id=row.id, **{c: getattr(row, c) for c in keep}))
            moved: dict[str, bytes] = {}
            for column in columns:
                token = getattr(row, column)
                if token is None or sealed_under_data_key(bytes(token)):
                    continue
                examined += 1
                context = cipher.context(place, column)
                if cipher.keys.needs_rotation(bytes(token)):
                    moved[column] = cipher.keys.rotate(bytes(token), context)
                else:
                    cipher.keys.decrypt(bytes(token), context)
            if moved:
                await session.execute(update(table).where(table.c.id == row.id).values(moved))
                rotated += len(moved)
        after = rows[-1].id
