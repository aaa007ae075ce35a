"""Bring everything the key ring seals under its current key: the data keys (rewrapped),
the fields still sealed under the ring, and the audit log's sealed entries. Fields sealed
under a data key are left as they are: the ring never touched them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.audit import rekey_entries, rekey_permit
from storage.crypto import FieldCipher, Owner, OwnerKind, sealed_under_data_key
from storage.models import SEALED_COLUMNS, DataKey


@dataclass(frozen=True)
class RotationReport:
    examined: int
    rotated: int
    # The audit log's sealed entries, counted apart (they go through the sanctioned path).
    audit_examined: int = 0
    audit_rotated: int = 0
    # Data keys rewrapped under the current key, of those there are.
    data_keys_examined: int = 0
    data_keys_rewrapped: int = 0


async def rotate_all(session: AsyncSession, cipher: FieldCipher) -> RotationReport:
    """Rewrite every token not already under the current key (the caller commits).

    The whole rotation holds the rekey permit: the records kept as written (case notes,
    disclosures) refuse any update without it, as the audit log does.

    Tokens already under it are opened too: a wrong key with the current key's id must stop
    the rotation (DecryptionError), not report success and invite removing the old keys.
    """
    async with rekey_permit(session):
        keys_examined, rewrapped = await _rewrap_data_keys(session, cipher)
        examined, rotated = await _rotate_sealed_columns(session, cipher)
        audit = await rekey_entries(session, cipher)
    return RotationReport(
        examined, rotated, audit.examined, audit.rotated, keys_examined, rewrapped
    )


async def _rewrap_data_keys(session: AsyncSession, cipher: FieldCipher) -> tuple[int, int]:
    examined = rewrapped = 0
    for row in (await session.execute(select(DataKey))).scalars():
        examined += 1
        context = Owner(OwnerKind(row.owner_kind), row.owner_id).wrap_context()
        if cipher.keys.needs_rotation(row.wrapped):
            row.wrapped = cipher.keys.rotate(row.wrapped, context)
            rewrapped += 1
        else:
            cipher.keys.decrypt(row.wrapped, context)
    await session.flush()
    return examined, rewrapped


async def _rotate_sealed_columns(session: AsyncSession, cipher: FieldCipher) -> tuple[int, int]:
    examined = rotated = 0
    for model, columns in SEALED_COLUMNS.items():
        rows = (await session.execute(select(model))).scalars()
        for row in rows:
            for column in columns:
                token = getattr(row, column)
                if token is None or sealed_under_data_key(token):
                    continue
                examined += 1
                context = cipher.context(row, column)  # type: ignore[arg-type]
                if cipher.keys.needs_rotation(token):
                    setattr(row, column, cipher.keys.rotate(token, context))
                    rotated += 1
                else:
                    cipher.keys.decrypt(token, context)
    await session.flush()
    return examined, rotated
