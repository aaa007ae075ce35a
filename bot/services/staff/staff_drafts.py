"""What a staff member is in the middle of typing: a note, a reason, consent details.

One draft per staff member, kept sealed in the database so a restart resumes it; starting
another replaces it; `/cancel` drops it; after a day untouched it lapses. The handler for its
purpose (bot/handlers/staff_input.py) decides what each typed message means.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import delete, select

from bot.services.deps import Deps
from bot.vocabulary import DraftPurpose
from storage import data_keys
from storage.models import STAFF_DRAFT_BLOCK, StaffDraft
from storage.uow import NOT_ASKED, UnitOfWork

# A draft nobody touched for this long is dropped rather than resumed by surprise.
DRAFT_LIFETIME = timedelta(hours=24)


@dataclass(frozen=True)
class Draft:
    purpose: DraftPurpose
    case_id: str | None
    step: str
    content: dict[str, Any] = field(default_factory=dict)


def _seal(deps: Deps, row: StaffDraft, content: dict[str, Any]) -> None:
    row.content_enc = deps.cipher.seal_json(row, "content_enc", content, pad_to=STAFF_DRAFT_BLOCK)


def _question(staff_id: str) -> tuple[str, str]:
    return ("staff_draft", staff_id)


async def _row(uow: UnitOfWork, staff_id: str) -> StaffDraft | None:
    """The draft row, read once per unit of work (the router and the journey both ask)."""
    known = uow.known(_question(staff_id))
    if known is not NOT_ASKED:
        return cast(StaffDraft | None, known)
    row = await uow.session.scalar(select(StaffDraft).where(StaffDraft.staff_id == staff_id))
    uow.keep(_question(staff_id), row)
    return row


async def begin(
    uow: UnitOfWork,
    deps: Deps,
    staff_id: str,
    purpose: DraftPurpose,
    *,
    case_id: str | None = None,
    step: str = "",
    content: dict[str, Any] | None = None,
) -> Draft:
    """Start a draft, replacing whatever this staff member was typing before (the caller
    commits)."""
    row = await _row(uow, staff_id)
    if row is None:
        row = StaffDraft(staff_id=staff_id)
        uow.session.add(row)
        uow.keep(_question(staff_id), row)
    row.purpose = purpose.value
    row.case_id = case_id
    row.step = step
    row.updated_at = deps.clock.now()
    await data_keys.bind(uow.session, row)  # sealed under its case's key, if it has a case
    _seal(deps, row, content or {})
    return Draft(purpose, case_id, step, dict(content or {}))


async def current(uow: UnitOfWork, deps: Deps, staff_id: str) -> Draft | None:
    """The staff member's draft, or None (a lapsed one is dropped)."""
    row = await _row(uow, staff_id)
    if row is None:
        return None
    if row.updated_at < deps.clock.now() - DRAFT_LIFETIME:
        await uow.session.delete(row)
        await uow.session.flush()  # gone before a new draft of this staff member is added
        uow.keep(_question(staff_id), None)
        return None
    return Draft(
        DraftPurpose(row.purpose),
        row.case_id,
        row.step,
        deps.cipher.open_json(row, "content_enc", row.content_enc),
    )


async def save(
    uow: UnitOfWork, deps: Deps, staff_id: str, *, step: str, content: dict[str, Any]
) -> Draft:
    """Move the draft to `step` with `content` (the caller commits); LookupError if none."""
    row = await _row(uow, staff_id)
    if row is None:
        raise LookupError("no draft")
    row.step = step
    row.updated_at = deps.clock.now()
    _seal(deps, row, content)
    return Draft(DraftPurpose(row.purpose), row.case_id, step, dict(content))


async def finish(uow: UnitOfWork, staff_id: str) -> bool:
    """Drop the draft (done or cancelled); whether there was one."""
    result = await uow.session.execute(delete(StaffDraft).where(StaffDraft.staff_id == staff_id))
    uow.keep(_question(staff_id), None)
    return bool(getattr(result, "rowcount", 0))
