"""The append-only audit log: sealed entries chained by a keyed MAC, and verifying the chain.

Each entry's action, actor, subject and detail are sealed together with the data key ring
(AES-GCM, bound to the entry's seq), padded to one fixed length; only seq, time and MAC are
in the clear. The MAC is HMAC-SHA-256 under the audit key (its own key) over the entry's
seq, time, content and the MAC before it, so nobody without that key can append, edit or
rewrite an entry that verifies. The head (last seq and MAC) is published outside the
database; verifying against a published head also catches truncation, and any rewrite of
what came before it even by someone holding the key.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.crypto import AuditKey, DecryptionError, FieldCipher, FieldContext
from storage.models import AuditEntry, AuditHead, AuditRekeyPermit

GENESIS = "0" * 64
HEAD_ID = 1
TABLE, COLUMN = "audit_log", "sealed"
# Every entry's content is padded to this many bytes before sealing (the longest today is
# under 300), so the ciphertext's length says nothing about the action or its detail.
SEALED_BYTES = 512
_MAC_PREFIX = b"uss-intake/audit/v1\x00"
_HEAD = re.compile(r"^\s*(\d+):([0-9a-fA-F]{64})\s*$")


class AuditContentTooLong(ValueError):
    """An entry's content does not fit the fixed sealed length (a programming error)."""


@dataclass(frozen=True)
class Head:
    """A point in the chain: the last entry's seq and MAC, as published (`42:ab12…`)."""

    seq: int
    mac: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.mac}"

    @classmethod
    def parse(cls, text: str) -> Head:
        match = _HEAD.match(text)
        if match is None:
            raise ValueError("a head looks like 42:ab12… (seq, a colon, 64 hex digits)")
        return cls(int(match[1]), match[2].lower())


@dataclass(frozen=True)
class Entry:
    """One audit entry, opened."""

    seq: int
    at: datetime
    action: str
    actor: str
    subject: str | None
    detail: dict[str, Any]


def _context(seq: int) -> FieldContext:
    return FieldContext(TABLE, COLUMN, str(seq))


def entry_content(action: str, actor: str, subject: str | None, detail: Mapping[str, Any]) -> bytes:
    return json.dumps(
        [action, actor, subject, dict(detail)],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    ).encode()


def seal_content(cipher: FieldCipher, seq: int, content: bytes) -> bytes:
    """Pad `content` to SEALED_BYTES (JSON never holds a NUL byte) and seal it to `seq`."""
    if len(content) > SEALED_BYTES:
        raise AuditContentTooLong(f"{len(content)} bytes, more than {SEALED_BYTES}")
    return cipher.keys.encrypt(content.ljust(SEALED_BYTES, b"\x00"), _context(seq))


def open_content(cipher: FieldCipher, seq: int, token: bytes) -> bytes:
    return cipher.keys.decrypt(token, _context(seq)).rstrip(b"\x00")


def entry_mac(key: AuditKey, *, seq: int, at: datetime, content: bytes, prev_mac: str) -> str:
    moment = at.astimezone(UTC).isoformat(timespec="microseconds")
    return key.mac(_MAC_PREFIX + f"{seq}\x00{moment}\x00{prev_mac}\x00".encode() + content)


def _entry(seq: int, at: datetime, content: bytes) -> Entry:
    action, actor, subject, detail = json.loads(content)
    return Entry(seq, at, action, actor, subject, detail)


async def append(
    session: AsyncSession,
    cipher: FieldCipher,
    key: AuditKey,
    *,
    at: datetime,
    action: str,
    actor: str,
    subject: str | None = None,
    detail: Mapping[str, str | int | bool | None] | None = None,
) -> AuditEntry:
    """Add one entry after the current head, inside the caller's transaction."""
    head = await _locked_head(session)
    seq = head.seq + 1
    content = entry_content(action, actor, subject, detail or {})
    mac = entry_mac(key, seq=seq, at=at, content=content, prev_mac=head.mac)
    entry = AuditEntry(seq=seq, at=at, sealed=seal_content(cipher, seq, content), mac=mac)
    session.add(entry)
    head.seq, head.mac = seq, mac
    await session.flush()
    return entry


# Where a transaction keeps the head row it has locked (in Session.info, which the unit of
# work clears on every rollback: a rollback to a savepoint may release the lock).
LOCKED_HEAD = "audit.locked_head"


async def _locked_head(session: AsyncSession) -> AuditHead:
    """The head row, locked for this transaction: read once, however many entries follow."""
    transaction = session.sync_session.get_transaction()
    locked = session.info.get(LOCKED_HEAD)
    if locked is not None and locked[0] is transaction:
        return cast(AuditHead, locked[1])
    head = await session.get(AuditHead, HEAD_ID, with_for_update=True)
    if head is None:
        raise RuntimeError("audit head row is missing: run `python -m bot migrate`")
    session.info[LOCKED_HEAD] = (transaction, head)
    return head


async def entries(
    session: AsyncSession, cipher: FieldCipher, *, action: str | None = None
) -> AsyncIterator[Entry]:
    """Every entry in order, opened (only those of `action`, if given): the one reader."""
    result = await session.stream_scalars(select(AuditEntry).order_by(AuditEntry.seq))
    async for row in result:
        entry = _entry(row.seq, row.at, open_content(cipher, row.seq, row.sealed))
        if action is None or entry.action == action:
            yield entry


async def head(session: AsyncSession) -> Head:
    """The last entry's seq and MAC, read from the log itself (seq 0 when it is empty)."""
    row = (
        await session.execute(
            select(AuditEntry.seq, AuditEntry.mac).order_by(AuditEntry.seq.desc()).limit(1)
        )
    ).first()
    return Head(0, GENESIS) if row is None else Head(row.seq, row.mac)


MISSING = "an entry is missing"
UNREADABLE = "its sealed content does not open"
FORGED = "its MAC does not match: it was altered, or written without the audit key"
REWRITTEN = "it is not the entry of the published head: the log was rewritten"
TRUNCATED = "the log ends before the published head: entries after it were removed"
HEAD_ROW = "audit_head does not match the last entry: entries after it were removed"


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    broken_at: int | None = None
    reason: str = ""
    # The last entry verified, and the published head checked against (if one was given).
    head: Head = Head(0, GENESIS)
    published: Head | None = None


async def verify(
    session: AsyncSession,
    cipher: FieldCipher,
    key: AuditKey,
    *,
    published: Head | None = None,
) -> ChainReport:
    """Walk the chain from the start; report the first entry whose link does not hold.

    With `published`, the entry at that seq must carry that MAC, and the log must reach it.
    """
    prev, expected, checked = GENESIS, 1, 0

    def broken(at: int, reason: str) -> ChainReport:
        return ChainReport(False, checked, at, reason, Head(checked, prev), published)

    result = await session.stream_scalars(select(AuditEntry).order_by(AuditEntry.seq))
    async for row in result:
        if row.seq != expected:
            return broken(expected, MISSING)
        try:
            content = open_content(cipher, row.seq, row.sealed)
        except DecryptionError as problem:
            return broken(row.seq, f"{UNREADABLE} ({problem})")
        mac = entry_mac(key, seq=row.seq, at=row.at, content=content, prev_mac=prev)
        if not hmac.compare_digest(mac, row.mac):
            return broken(row.seq, FORGED)
        if _differs_from(published, row.seq, row.mac):
            return broken(row.seq, REWRITTEN)
        prev, expected, checked = row.mac, expected + 1, checked + 1
    if published is not None and checked < published.seq:
        return broken(checked + 1, TRUNCATED)
    if published is not None and published.seq == 0 and published.mac != GENESIS:
        return broken(0, REWRITTEN)
    row_head = await session.get(AuditHead, HEAD_ID)
    if row_head is None or row_head.mac != prev or row_head.seq != checked:
        return broken(checked + 1, HEAD_ROW)
    return ChainReport(True, checked, head=Head(checked, prev), published=published)


def _differs_from(published: Head | None, seq: int, mac: str) -> bool:
    """Whether this entry is the published head's seq but not its MAC."""
    return (
        published is not None
        and seq == published.seq
        and not hmac.compare_digest(mac, published.mac)
    )


@dataclass(frozen=True)
class RekeyReport:
    examined: int
    rotated: int


@asynccontextmanager
async def rekey_permit(session: AsyncSession) -> AsyncIterator[None]:
    """Hold the rotation's permit row for the block: the triggers of the audit log and of the
    records kept as written (case notes, disclosures) let sealed columns be re-encrypted only
    while it exists. It is removed at the end of the block; if the block fails, the caller's
    rollback removes it with everything else, so no other transaction ever sees it."""
    session.add(AuditRekeyPermit(id=1))
    await session.flush()
    yield
    await session.execute(delete(AuditRekeyPermit))


async def rekey(session: AsyncSession, cipher: FieldCipher) -> RekeyReport:
    """Re-encrypt every entry's sealed content under the key ring's current key.

    The MACs are over the content, not the ciphertext, so the chain and every published head
    stay valid. The append-only triggers allow this update only while the permit row exists,
    which it does only inside this transaction (the caller commits).
    """
    async with rekey_permit(session):
        return await rekey_entries(session, cipher)


async def rekey_entries(session: AsyncSession, cipher: FieldCipher) -> RekeyReport:
    """`rekey`'s work, for a caller already holding the permit (see `rekey_permit`)."""
    examined = rotated = 0
    for row in (await session.execute(select(AuditEntry).order_by(AuditEntry.seq))).scalars():
        examined += 1
        if cipher.keys.needs_rotation(row.sealed):
            row.sealed = cipher.keys.rotate(row.sealed, _context(row.seq))
            rotated += 1
    await session.flush()
    return RekeyReport(examined, rotated)
