"""Cases: opened by a submitted sheet, closed with an outcome, reopened with a reason.

A case's reference is random, short and easy to read aloud (no 0/O, no 1/I/L), so it tells
neither how many cases there are nor in what order they came. The 8-character references
staff used before cases existed name a student (a prefix of their id) and still find that
student's latest case. Each open stretch is an episode, kept, so durations stay true after a
reopen; the last activity is what retention counts from.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import func, select

from bot import case_texts
from bot.services import audit
from bot.services.deps import Deps
from bot.services.errors import CaseStateWrong, UnknownCase, UnknownStaff
from bot.services.intake.sheet_store import read_answers
from bot.services.notices import outbox
from bot.services.notices.staff_directory import staff_chat_id
from bot.services.statistics import events as statistics
from bot.vocabulary import ADVISING_ROLES, AuditAction, CaseStatus, Role, SheetField
from storage import data_keys
from storage.crypto import Owner, OwnerKind
from storage.models import (
    CASE_EPISODE_BYTES,
    Case,
    CaseEpisode,
    InformationSheet,
    StaffMember,
    Student,
)
from storage.uow import NOT_ASKED, UnitOfWork

REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
REFERENCE_LENGTH = 6
LEGACY_LENGTH = 8
_HEX = frozenset("0123456789abcdef")
REASON_MAX = 500


def new_reference() -> str:
    return "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))


def legacy_reference(student_id: str) -> str:
    """The reference staff used before cases existed: a prefix of the student's id."""
    return student_id[:LEGACY_LENGTH].upper()


def normalise_reference(typed: str) -> str | None:
    """A reference as staff may type it (any case, spaces or dashes), or None if it cannot be
    one. New references come back upper-case, old ones lower-case hex."""
    compact = "".join(c for c in typed if c not in " -").upper()
    if len(compact) == REFERENCE_LENGTH and all(c in REFERENCE_ALPHABET for c in compact):
        return compact
    lowered = compact.lower()
    if len(lowered) == LEGACY_LENGTH and all(c in _HEX for c in lowered):
        return lowered
    return None


async def case_by_reference(uow: UnitOfWork, typed: str) -> Case:
    """The case with this reference (new or old style), or UnknownCase."""
    reference = normalise_reference(typed)
    if reference is None:
        raise UnknownCase
    if len(reference) == REFERENCE_LENGTH:
        case = await uow.session.scalar(select(Case).where(Case.reference == reference))
        if case is None:
            raise UnknownCase
        return case
    students = list(
        (
            await uow.session.execute(
                select(Student.id).where(Student.id.startswith(reference, autoescape=True))
            )
        ).scalars()
    )
    case = await current_case(uow, students[0]) if len(students) == 1 else None
    if case is None:
        raise UnknownCase
    return case


async def student_by_case(uow: UnitOfWork, typed: str) -> Student:
    """The student whose case has this reference, or UnknownCase."""
    case = await case_by_reference(uow, typed)
    student = await uow.session.get(Student, case.student_id)
    if student is None:
        raise UnknownCase
    return student


async def current_case(uow: UnitOfWork, student_id: str) -> Case | None:
    """The student's latest case (an open one, if any is)."""
    question = ("case", student_id)
    known = uow.known(question)
    if known is not NOT_ASKED:
        return cast(Case | None, known)
    case = await uow.session.scalar(
        select(Case)
        .where(Case.student_id == student_id)
        .order_by((Case.status == CaseStatus.OPEN.value).desc(), Case.opened_at.desc())
        .limit(1)
    )
    uow.keep(question, case)
    return case


async def reference_for_student(uow: UnitOfWork, student_id: str) -> str:
    """The reference staff are shown for a student's current case."""
    case = await current_case(uow, student_id)
    return case.reference if case is not None else legacy_reference(student_id)


@dataclass(frozen=True)
class Episode:
    position: int
    opened_at: datetime
    closed_at: datetime | None
    outcome: str | None
    reopen_reason: str | None


def _seal_episode(
    deps: Deps, episode: CaseEpisode, outcome: str | None, reopen_reason: str | None
) -> None:
    episode.details_enc = deps.cipher.seal_json(
        episode,
        "details_enc",
        {"outcome": outcome, "reopen_reason": reopen_reason},
        pad_to=CASE_EPISODE_BYTES,
    )


def _episode_view(deps: Deps, episode: CaseEpisode) -> Episode:
    details = deps.cipher.open_json(episode, "details_enc", episode.details_enc)
    return Episode(
        episode.position,
        episode.opened_at,
        episode.closed_at,
        details.get("outcome"),
        details.get("reopen_reason"),
    )


def episode_outcome(deps: Deps, episode: CaseEpisode) -> str | None:
    """The outcome a closed episode was closed with."""
    return _episode_view(deps, episode).outcome


async def lock(uow: UnitOfWork, case_id: str) -> None:
    """Hold the case's row until the transaction ends, so two writers numbering its episodes or
    notes take turns (PostgreSQL; SQLite's writers already do, one at a time)."""
    await uow.session.execute(select(Case.id).where(Case.id == case_id).with_for_update())


async def _new_episode(
    uow: UnitOfWork, deps: Deps, case: Case, *, actor: str, reopen_reason: str | None
) -> CaseEpisode:
    await lock(uow, case.id)
    last = await uow.session.scalar(
        select(func.max(CaseEpisode.position)).where(CaseEpisode.case_id == case.id)
    )
    episode = CaseEpisode(
        case_id=case.id, position=(last or 0) + 1, opened_at=deps.clock.now(), opened_by=actor
    )
    await data_keys.bind(uow.session, episode)
    _seal_episode(deps, episode, None, reopen_reason)
    uow.session.add(episode)
    return episode


async def open_for_sheet(
    uow: UnitOfWork, deps: Deps, student: Student, sheet: InformationSheet
) -> Case:
    """A submitted sheet belongs to the student's open case, or opens a new one."""
    case = before = await current_case(uow, student.id)
    now = deps.clock.now()
    actor = audit.student_actor(student.id)
    if case is not None and case.status == CaseStatus.OPEN.value:
        case.sheet_id = sheet.id
        case.last_activity_at = now
        return case
    while True:
        reference = new_reference()
        taken = await uow.session.scalar(select(Case.id).where(Case.reference == reference))
        if taken is None:
            break
    case = Case(
        student_id=student.id,
        reference=reference,
        sheet_id=sheet.id,
        status=CaseStatus.OPEN.value,
        opened_at=now,
        last_activity_at=now,
    )
    uow.session.add(case)
    data_keys.create(uow.session, deps.cipher.keys, Owner(OwnerKind.CASE, case.id), now)
    await uow.session.flush()
    await _new_episode(uow, deps, case, actor=actor, reopen_reason=None)
    uow.keep(("case", student.id), case)
    await audit.record(uow, deps, AuditAction.CASE_OPENED, actor, case.id)
    said = read_answers(deps, sheet)
    await statistics.case_opened(
        uow,
        deps,
        now,
        category=said.get(SheetField.CATEGORY),
        year=said.get(SheetField.YEAR),
        mode=said.get(SheetField.MODE),
        returning=before is not None,
    )
    return case


async def touch(uow: UnitOfWork, deps: Deps, student_id: str) -> None:
    """Something happened on the student's open case: its last activity is now (a closed
    case is not kept longer by what the student does before their next sheet opens one)."""
    case = await current_case(uow, student_id)
    if case is not None and case.status == CaseStatus.OPEN.value:
        case.last_activity_at = deps.clock.now()


async def assign_first_adviser(uow: UnitOfWork, deps: Deps, student_id: str, staff_id: str) -> None:
    """The adviser of a case's first booking is the case's adviser."""
    case = await current_case(uow, student_id)
    if case is None:
        return
    case.last_activity_at = deps.clock.now()
    if case.assigned_staff_id is None:
        case.assigned_staff_id = staff_id


async def episodes(uow: UnitOfWork, deps: Deps, case: Case) -> list[Episode]:
    rows = await uow.session.execute(
        select(CaseEpisode).where(CaseEpisode.case_id == case.id).order_by(CaseEpisode.position)
    )
    return [_episode_view(deps, e) for e in rows.scalars()]


async def _open_episode(uow: UnitOfWork, case: Case) -> CaseEpisode | None:
    return await uow.session.scalar(
        select(CaseEpisode)
        .where(CaseEpisode.case_id == case.id, CaseEpisode.closed_at.is_(None))
        .order_by(CaseEpisode.position.desc())
        .limit(1)
    )


def outcome_named(deps: Deps, index: int) -> str:
    """The configured outcome at `index` (buttons carry the index), or CaseStateWrong."""
    outcomes = deps.settings.case_outcomes
    if not 0 <= index < len(outcomes):
        raise CaseStateWrong(CaseStatus.OPEN)
    return outcomes[index]


async def close(
    uow: UnitOfWork, deps: Deps, me: StaffMember, case: Case, outcome_index: int
) -> str:
    """Close an open case with one of the configured outcomes; returns the outcome."""
    if case.status != CaseStatus.OPEN.value:
        raise CaseStateWrong(CaseStatus(case.status))
    outcome = outcome_named(deps, outcome_index)
    episode = await _open_episode(uow, case)
    now = deps.clock.now()
    actor = audit.staff_actor(me.id)
    if episode is not None:
        details = _episode_view(deps, episode)
        episode.closed_at = now
        episode.closed_by = actor
        _seal_episode(deps, episode, outcome, details.reopen_reason)
    case.status = CaseStatus.CLOSED.value
    case.last_activity_at = now
    await audit.record(uow, deps, AuditAction.CASE_CLOSED, actor, case.id)
    sheet = await uow.session.get(InformationSheet, case.sheet_id) if case.sheet_id else None
    await statistics.case_closed(
        uow,
        deps,
        now,
        category=read_answers(deps, sheet).get(SheetField.CATEGORY) if sheet else None,
        outcome=outcome,
        opened_at=episode.opened_at if episode is not None else case.opened_at,
    )
    return outcome


async def reopen(uow: UnitOfWork, deps: Deps, me: StaffMember, case: Case, reason: str) -> None:
    """Reopen a closed case, with the reason; a new episode starts (and retention's clock)."""
    reason = " ".join(reason.split())
    if not reason or len(reason) > REASON_MAX:
        raise ValueError("a reason of 1 to 500 characters is needed")
    if case.status != CaseStatus.CLOSED.value:
        raise CaseStateWrong(CaseStatus(case.status))
    actor = audit.staff_actor(me.id)
    await _new_episode(uow, deps, case, actor=actor, reopen_reason=reason)
    case.status = CaseStatus.OPEN.value
    case.last_activity_at = deps.clock.now()
    await audit.record(uow, deps, AuditAction.CASE_REOPENED, actor, case.id)


async def assign(
    uow: UnitOfWork, deps: Deps, coordinator: StaffMember, case: Case, staff_id: str
) -> StaffMember:
    """The coordinator gives a case to another adviser, who is told the reference only."""
    if Role(coordinator.role) is not Role.COORDINATOR:
        raise UnknownStaff
    adviser = await uow.session.get(StaffMember, staff_id)
    if adviser is None or not adviser.active or Role(adviser.role) not in ADVISING_ROLES:
        raise UnknownStaff
    before = case.assigned_staff_id
    case.assigned_staff_id = adviser.id
    case.last_activity_at = deps.clock.now()
    await audit.record(
        uow,
        deps,
        AuditAction.CASE_ASSIGNED,
        audit.staff_actor(coordinator.id),
        case.id,
        to=adviser.id,
        before=before,
    )
    if before != adviser.id and adviser.id != coordinator.id:
        await outbox.enqueue(
            uow,
            deps,
            kind=outbox.CASE_NOTICE,
            chat_id=staff_chat_id(deps, adviser),
            html=case_texts.case_assigned_to_you(case.reference),
            dedupe_key=f"case-assigned:{case.id}:{adviser.id}:{deps.clock.now().isoformat()}",
        )
    return adviser
