"""The consent ledger: append-only choices per scope; a scope's state is its latest entry."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select

from bot import texts
from bot.services import audit
from bot.services.cases import cases
from bot.services.deps import Deps
from bot.services.errors import NoSheet
from bot.services.intake.sheet_store import latest_submitted_sheet
from bot.services.intake.students import find_student
from bot.vocabulary import AuditAction, ConsentChannel, ConsentDecision, ConsentScope
from storage import data_keys
from storage.models import CONSENT_DECISION_BYTES, CONSENT_DETAILS_BLOCK, ConsentEntry, Student
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


@dataclass(frozen=True)
class StaffDetails:
    """What staff record with a consent besides the choice: how it was given, and any limit.

    Email consent names the email (its date, and its subject or a reference); a request the
    student answered in the chat names the request and its purpose.
    """

    email_date: date | None = None
    email_reference: str | None = None
    limitation: str | None = None
    purpose: str | None = None
    request: str | None = None

    def sealed_form(self) -> dict[str, Any]:
        return {
            "email_date": self.email_date.isoformat() if self.email_date else None,
            "email_reference": self.email_reference,
            "limitation": self.limitation,
            "purpose": self.purpose,
            "request": self.request,
        }


@dataclass(frozen=True)
class ScopeEntry:
    """One ledger line of a scope, opened: what the consent gate weighs."""

    granted: bool
    recorded_at: datetime
    channel: ConsentChannel
    limitation: str | None


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


def details_of(deps: Deps, entry: ConsentEntry) -> StaffDetails | None:
    """What staff recorded with an entry (None for the student's own choices)."""
    if entry.details_enc is None:
        return None
    raw = deps.cipher.open_json(entry, "details_enc", entry.details_enc)
    return StaffDetails(
        email_date=date.fromisoformat(raw["email_date"]) if raw.get("email_date") else None,
        email_reference=raw.get("email_reference"),
        limitation=raw.get("limitation"),
        purpose=raw.get("purpose"),
        request=raw.get("request"),
    )


async def scope_history(
    uow: UnitOfWork, deps: Deps, student_id: str, scope: ConsentScope
) -> list[ScopeEntry]:
    """Every choice recorded for one scope, oldest first; the last is the scope's state."""
    result = await uow.session.execute(
        select(ConsentEntry)
        .where(ConsentEntry.student_id == student_id, ConsentEntry.scope == scope.value)
        .order_by(ConsentEntry.position)
    )
    history = []
    for entry in result.scalars():
        details = details_of(deps, entry)
        history.append(
            ScopeEntry(
                decision_of(deps, entry),
                entry.recorded_at,
                ConsentChannel(entry.channel),
                details.limitation if details else None,
            )
        )
    return history


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
    details: StaffDetails | None = None,
) -> ConsentEntry:
    """Append one choice to the ledger and audit it (the caller commits).

    `note` is a verbal consent's nature in the adviser's own words; `details` what staff
    recorded with it (both sealed).
    """
    # The student's row is held until the transaction ends, so two entries recorded at once
    # (the student and an adviser) take turns for the position.
    await uow.session.execute(select(Student.id).where(Student.id == student_id).with_for_update())
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
    await data_keys.bind(uow.session, entry)
    _seal_decision(deps, entry, granted)
    entry.note_enc = deps.cipher.seal(entry, "note_enc", note)
    if details is not None:
        entry.details_enc = deps.cipher.seal_json(
            entry, "details_enc", details.sealed_form(), pad_to=CONSENT_DETAILS_BLOCK
        )
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
