"""The append-only, hash-chained audit log: append, and verify the chain."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry, AuditHead

GENESIS = "0" * 64
HEAD_ID = 1


def entry_hash(
    *,
    seq: int,
    at: datetime,
    action: str,
    actor: str,
    subject: str | None,
    detail: str,
    prev_hash: str,
) -> str:
    canonical = json.dumps(
        [seq, at.isoformat(), action, actor, subject, detail, prev_hash],
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


async def append(
    session: AsyncSession,
    *,
    at: datetime,
    action: str,
    actor: str,
    subject: str | None = None,
    detail: Mapping[str, str | int | bool | None] | None = None,
) -> AuditEntry:
    """Add one entry after the current head, inside the caller's transaction."""
    head = await session.get(AuditHead, HEAD_ID, with_for_update=True)
    if head is None:
        raise RuntimeError("audit head row is missing: run `python -m bot migrate`")
    detail_text = json.dumps(dict(detail or {}), sort_keys=True, separators=(",", ":"))
    seq = head.seq + 1
    digest = entry_hash(
        seq=seq,
        at=at,
        action=action,
        actor=actor,
        subject=subject,
        detail=detail_text,
        prev_hash=head.hash,
    )
    entry = AuditEntry(
        seq=seq,
        at=at,
        action=action,
        actor=actor,
        subject=subject,
        detail=detail_text,
        prev_hash=head.hash,
        hash=digest,
    )
    session.add(entry)
    head.seq, head.hash = seq, digest
    await session.flush()
    return entry


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    broken_at: int | None = None
    reason: str = ""


async def verify(session: AsyncSession) -> ChainReport:
    """Walk the chain from the start; report the first entry whose link does not hold."""
    prev, expected_seq, checked = GENESIS, 1, 0
    result = await session.stream_scalars(select(AuditEntry).order_by(AuditEntry.seq))
    async for entry in result:
        if entry.seq != expected_seq:
            return ChainReport(False, checked, expected_seq, "an entry is missing")
        if entry.prev_hash != prev:
            return ChainReport(False, checked, entry.seq, "it does not link to the entry before")
        recomputed = entry_hash(
            seq=entry.seq,
            at=entry.at,
            action=entry.action,
            actor=entry.actor,
            subject=entry.subject,
            detail=entry.detail,
            prev_hash=entry.prev_hash,
        )
        if recomputed != entry.hash:
            return ChainReport(False, checked, entry.seq, "its contents were changed")
        prev, expected_seq, checked = entry.hash, expected_seq + 1, checked + 1
    head = await session.get(AuditHead, HEAD_ID)
    if head is None or head.hash != prev or head.seq != checked:
        return ChainReport(False, checked, checked + 1, "entries after it were removed")
    return ChainReport(True, checked)
