"""The consent ledger: append-only choices per scope; a scope's state is its latest entry."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from bot import texts
from bot.services import audit, cases
from bot.services.deps import Deps
from bot.services.errors import ConsentMissing, NoSheet
from bot.services.sheet_store import latest_submitted_sheet
from bot.services.students import find_student
from bot.vocabulary import AuditAction, ConsentChannel, ConsentDecision, ConsentScope
from storage.models import CONSENT_DECISION_BYTES, ConsentEntry
from storage.uow import UnitOfWork

SCOPES: tuple[ConsentScope, ...] = tuple(ConsentScope)


def wording_sha256(scope: ConsentScope) -> str:
    """The digest of the exact words shown for a scope, kept with every choice."""
    return hashlib.sha256(texts.CONSENT_WORDING[scope].encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ConsentState:
    scope: ConsentScope
    granted: bool | None
    recorded_at: datetime | None = None
    channel: ConsentChannel | None = None


@dataclass(frozen=True)
class ConsentChange:
    scope: ConsentScope
    before: bool | None
    after: bool


async def ledger(uow: UnitOfWork, student_id: str) -> list[ConsentEntry]:
    result = await uow.session.execute(
        select(ConsentEntry)
        .where(ConsentEntry.student_id == student_id)
        .order_by(ConsentEntry.position)
    )
    return list(result.scalars())


def _seal_decision(deps: Deps, entry: ConsentEntry, granted: bool) -> None:
    """The choice itself is sealed (and padded), like every other personal field."""
    decision = ConsentDecision.GRANTED if granted else ConsentDecision.REFUSED
    entry.decision_enc = deps.cipher.seal_padded(
        entry, "decision_enc", decision.value, CONSENT_DECISION_BYTES
    )


def decision_of(deps: Deps, entry: ConsentEntry) -> bool:
    """Whether this ledger entry grants its scope."""
    value = deps.cipher.open_padded(entry, "decision_enc", entry.decision_enc)
    return ConsentDecision(value) is ConsentDecision.GRANTED


async def current_consents(
    uow: UnitOfWork, deps: Deps, student_id: str
) -> dict[ConsentScope, ConsentState]:
    """Every scope's present state (its latest entry); a scope never asked is None (never
    assumed)."""
    states = {scope: ConsentState(scope, None) for scope in SCOPES}
    for entry in await ledger(uow, student_id):
        scope = ConsentScope(entry.scope)
        states[scope] = ConsentState(
            scope, decision_of(deps, entry), entry.recorded_at, ConsentChannel(entry.channel)
        )
    return states


async def record_consent(
    uow: UnitOfWork,
    deps: Deps,
    *,
    student_id: str,
    scope: ConsentScope,
    granted: bool,
    channel: ConsentChannel,
    actor: str,
    recorded_by_staff_id: str | None = None,
    note: str | None = None,
) -> ConsentEntry:
    """Append one choice to the ledger and audit it (the caller commits)."""
    last = await uow.session.scalar(
        select(func.max(ConsentEntry.position)).where(ConsentEntry.student_id == student_id)
    )
    entry = ConsentEntry(
        student_id=student_id,
        position=(last or 0) + 1,
        scope=scope.value,
        wording_version=texts.CONSENT_WORDING_VERSION,
        wording_sha256=wording_sha256(scope),
        channel=channel.value,
        recorded_by_staff_id=recorded_by_staff_id,
        recorded_at=deps.clock.now(),
    )
    _seal_decision(deps, entry, granted)
    entry.note_enc = deps.cipher.seal(entry, "note_enc", note)
    uow.session.add(entry)
    await audit.record(
        uow,
        deps,
        AuditAction.CONSENT_RECORDED,
        actor,
        subject=audit.student_actor(student_id),
        entry=entry.id,
        scope=scope.value,
        channel=channel.value,
    )
    await cases.touch(uow, deps, student_id)
    return entry


async def require_consent(
    uow: UnitOfWork, deps: Deps, student_id: str, scope: ConsentScope
) -> None:
    """Refuse an action on a student's behalf unless the matching scope is granted now."""
    state = (await current_consents(uow, deps, student_id))[scope]
    if state.granted is not True:
        raise ConsentMissing(scope)


async def my_consents(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int
) -> dict[ConsentScope, ConsentState]:
    """A student's own current choices (they must have submitted a sheet)."""
    student = await find_student(uow, deps, telegram_user_id)
    if student is None or await latest_submitted_sheet(uow, student.id) is None:
        raise NoSheet
    return await current_consents(uow, deps, student.id)


async def change_my_consent(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, scope: ConsentScope, granted: bool
) -> ConsentChange:
    """A student changes one choice from the bot; a new ledger entry, even if unchanged."""
    student = await find_student(uow, deps, telegram_user_id)
    if student is None or await latest_submitted_sheet(uow, student.id) is None:
        raise NoSheet
    before = (await current_consents(uow, deps, student.id))[scope].granted
    await record_consent(
        uow,
        deps,
        student_id=student.id,
        scope=scope,
        granted=granted,
        channel=ConsentChannel.BOT,
        actor=audit.student_actor(student.id),
    )
    student.last_activity_at = deps.clock.now()
    await uow.commit()
    return ConsentChange(scope, before, granted)
