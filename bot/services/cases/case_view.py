"""Reading a case, part by part: typed values for the case screen, never HTML.

Every function here goes through `case_access.open_case`, so each read is allowed by the same
rule (least privilege, break-glass) and audited with the part read. A welfare disclosure's
recipient and content are shown to its author alone, as the policy's exception says.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import defer

from bot.services import audit
from bot.services.cases import case_access, cases
from bot.services.cases.cases import Episode
from bot.services.deps import Deps
from bot.services.errors import StaleAction
from bot.services.intake import consent
from bot.services.intake.consent import ConsentState
from bot.services.intake.sheet_store import Answers, read_answers
from bot.services.staff import staff
from bot.vocabulary import (
    AppointmentStatus,
    AuditAction,
    CasePart,
    CaseStatus,
    ConsentChannel,
    ConsentScope,
    DisclosureBasis,
    LegalDuty,
    NoteKind,
    RecipientKind,
    Role,
)
from storage.models import (
    Appointment,
    Case,
    CaseDocument,
    CaseNote,
    ConsentEntry,
    Disclosure,
    InformationSheet,
    StaffMember,
)
from storage.uow import UnitOfWork

COMMAND = "case"
STAFF_PREFIX = "staff:"


@dataclass(frozen=True)
class Viewer:
    """Who is reading, as the screen needs it: their own id, whether they coordinate, and
    whether they may decide the case (close or reopen it: its adviser and the coordinator)."""

    staff_id: str
    coordinator: bool
    decides: bool = False


@dataclass(frozen=True)
class Summary:
    reference: str
    status: CaseStatus
    adviser: str | None
    opened_at: datetime
    episodes: list[Episode]
    last_activity_at: datetime
    notes: int
    documents: int
    disclosures: int


@dataclass(frozen=True)
class SheetPart:
    answers: Answers | None
    submitted_at: datetime | None


@dataclass(frozen=True)
class ConsentLine:
    """One ledger entry; `recorded_by` is a staff name, or None for the student's own choice."""

    scope: ConsentScope
    granted: bool
    channel: ConsentChannel
    recorded_by: str | None
    recorded_at: datetime
    wording_version: str
    nature: str | None = None
    email_date: date | None = None
    email_reference: str | None = None
    limitation: str | None = None
    purpose: str | None = None


@dataclass(frozen=True)
class ConsentPart:
    current: dict[ConsentScope, ConsentState]
    history: list[ConsentLine]  # newest first


@dataclass(frozen=True)
class AppointmentLine:
    starts_at: datetime
    ends_at: datetime
    mode: str
    status: AppointmentStatus
    moved: bool
    adviser: str


@dataclass(frozen=True)
class NoteLine:
    position: int
    kind: NoteKind
    author: str
    created_at: datetime
    body: str
    corrects: int | None  # the position of the note this one corrects
    reason: str | None  # why, for a correction
    corrected_by: list[NoteLine]  # later notes correcting this one, oldest first


@dataclass(frozen=True)
class DocumentLine:
    document_id: str
    name: str
    media_type: str
    size: int
    created_at: datetime
    added_by: str | None  # a staff name, or None for the student


@dataclass(frozen=True)
class DisclosureLine:
    """A disclosure; for a welfare one read by anyone but its author, only date, adviser and
    basis are filled in (`withheld` says so)."""

    made_at: datetime
    adviser: str
    basis: DisclosureBasis
    withheld: bool = False
    recipient_kind: RecipientKind | None = None
    recipient: str | None = None
    content: str | None = None
    statute: LegalDuty | None = None
    statute_text: str | None = None
    scope: ConsentScope | None = None
    limitation: str | None = None


PartValue = (
    Summary
    | SheetPart
    | ConsentPart
    | list[AppointmentLine]
    | list[NoteLine]
    | list[DocumentLine]
    | list[DisclosureLine]
)


@dataclass(frozen=True)
class Shown:
    """A part of a case as its reader may see it."""

    viewer: Viewer
    reference: str
    part: CasePart
    value: PartValue


async def _names(uow: UnitOfWork, deps: Deps, ids: Iterable[str | None]) -> dict[str, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    members = await uow.session.execute(select(StaffMember).where(StaffMember.id.in_(wanted)))
    return {m.id: staff.staff_name(deps, m) for m in members.scalars()}


async def _count(
    uow: UnitOfWork, model: type[CaseNote | CaseDocument | Disclosure], case: Case
) -> int:
    found = await uow.session.scalar(
        select(func.count()).select_from(model).where(model.case_id == case.id)
    )
    return int(found or 0)


async def summary(uow: UnitOfWork, deps: Deps, case: Case) -> Summary:
    names = await _names(uow, deps, [case.assigned_staff_id])
    return Summary(
        reference=case.reference,
        status=CaseStatus(case.status),
        adviser=names.get(case.assigned_staff_id or ""),
        opened_at=case.opened_at,
        episodes=await cases.episodes(uow, deps, case),
        last_activity_at=case.last_activity_at,
        notes=await _count(uow, CaseNote, case),
        documents=await _count(uow, CaseDocument, case),
        disclosures=await _count(uow, Disclosure, case),
    )


async def sheet(uow: UnitOfWork, deps: Deps, case: Case) -> SheetPart:
    row = await uow.session.get(InformationSheet, case.sheet_id) if case.sheet_id else None
    if row is None:
        return SheetPart(None, None)
    return SheetPart(read_answers(deps, row), row.submitted_at)


def _consent_line(deps: Deps, entry: ConsentEntry, names: dict[str, str]) -> ConsentLine:
    details = (
        deps.cipher.open_json(entry, "details_enc", entry.details_enc)
        if entry.details_enc is not None
        else {}
    )
    email_date = details.get("email_date")
    by = entry.recorded_by_staff_id
    return ConsentLine(
        scope=ConsentScope(entry.scope),
        granted=consent.decision_of(deps, entry),
        channel=ConsentChannel(entry.channel),
        recorded_by=names.get(by, "") if by else None,
        recorded_at=entry.recorded_at,
        wording_version=entry.wording_version,
        nature=deps.cipher.open(entry, "note_enc", entry.note_enc),
        email_date=date.fromisoformat(email_date) if email_date else None,
        email_reference=details.get("email_reference"),
        limitation=details.get("limitation"),
        purpose=details.get("purpose"),
    )


async def consents(uow: UnitOfWork, deps: Deps, case: Case) -> ConsentPart:
    entries = await consent.ledger(uow, case.student_id)
    names = await _names(uow, deps, (e.recorded_by_staff_id for e in entries))
    return ConsentPart(
        current=await consent.current_consents(uow, deps, case.student_id),
        history=[_consent_line(deps, e, names) for e in reversed(entries)],
    )


async def appointments(uow: UnitOfWork, deps: Deps, case: Case) -> list[AppointmentLine]:
    rows = list(
        (
            await uow.session.execute(
                select(Appointment)
                .where(Appointment.student_id == case.student_id)
                .order_by(Appointment.starts_at.desc())
            )
        ).scalars()
    )
    names = await _names(uow, deps, (a.staff_id for a in rows))
    return [
        AppointmentLine(
            a.starts_at,
            a.ends_at,
            a.mode,
            AppointmentStatus(a.status),
            a.sequence > 0,
            names.get(a.staff_id, ""),
        )
        for a in rows
    ]


async def notes(uow: UnitOfWork, deps: Deps, case: Case) -> list[NoteLine]:
    """Newest first; a corrected note carries its corrections, and each correction names the
    note it corrects."""
    rows = list(
        (
            await uow.session.execute(
                select(CaseNote).where(CaseNote.case_id == case.id).order_by(CaseNote.position)
            )
        ).scalars()
    )
    names = await _names(uow, deps, (n.author_staff_id for n in rows))
    position_of = {n.id: n.position for n in rows}
    corrections: dict[str, list[NoteLine]] = {}
    lines: list[NoteLine] = []
    for row in rows:
        line = NoteLine(
            position=row.position,
            kind=NoteKind(row.kind),
            author=names.get(row.author_staff_id, ""),
            created_at=row.created_at,
            body=deps.cipher.open(row, "body_enc", row.body_enc) or "",
            corrects=position_of.get(row.corrects_note_id) if row.corrects_note_id else None,
            reason=deps.cipher.open(row, "reason_enc", row.reason_enc),
            corrected_by=corrections.setdefault(row.id, []),
        )
        if row.corrects_note_id is not None:
            corrections.setdefault(row.corrects_note_id, []).append(line)
        lines.append(line)
    return list(reversed(lines))


def _added_by(actor: str, names: dict[str, str]) -> str | None:
    if actor.startswith(STAFF_PREFIX):
        return names.get(actor.removeprefix(STAFF_PREFIX), "")
    return None


async def documents(uow: UnitOfWork, deps: Deps, case: Case) -> list[DocumentLine]:
    rows = list(
        (
            await uow.session.execute(
                select(CaseDocument)
                .options(defer(CaseDocument.content_enc))  # the bytes only when sent back
                .where(CaseDocument.case_id == case.id)
                .order_by(CaseDocument.created_at.desc(), CaseDocument.id)
            )
        ).scalars()
    )
    names = await _names(
        uow, deps, (d.added_by.removeprefix(STAFF_PREFIX) for d in rows if d.added_by)
    )
    lines = []
    for row in rows:
        meta = deps.cipher.open_json(row, "meta_enc", row.meta_enc)
        lines.append(
            DocumentLine(
                row.id,
                str(meta.get("name") or ""),
                str(meta.get("media_type") or ""),
                row.size,
                row.created_at,
                _added_by(row.added_by, names),
            )
        )
    return lines


_E = TypeVar("_E", ConsentScope, LegalDuty, RecipientKind)


def _maybe(kind: type[_E], value: object) -> _E | None:
    text = _text(value)
    return kind(text) if text is not None else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


async def disclosures(
    uow: UnitOfWork, deps: Deps, me: StaffMember, case: Case
) -> list[DisclosureLine]:
    rows = list(
        (
            await uow.session.execute(
                select(Disclosure)
                .where(Disclosure.case_id == case.id)
                .order_by(Disclosure.made_at.desc(), Disclosure.id)
            )
        ).scalars()
    )
    names = await _names(uow, deps, (d.staff_id for d in rows))
    lines = []
    for row in rows:
        details = deps.cipher.open_json(row, "details_enc", row.details_enc)
        basis = DisclosureBasis(details["basis"])
        adviser = names.get(row.staff_id, "")
        if basis is DisclosureBasis.WELFARE and row.staff_id != me.id:
            lines.append(DisclosureLine(row.made_at, adviser, basis, withheld=True))
            continue
        lines.append(
            DisclosureLine(
                row.made_at,
                adviser,
                basis,
                recipient_kind=_maybe(RecipientKind, details.get("recipient_kind")),
                recipient=details.get("recipient"),
                content=details.get("content"),
                statute=_maybe(LegalDuty, details.get("statute")),
                statute_text=details.get("statute_text"),
                scope=_maybe(ConsentScope, details.get("scope")),
                limitation=details.get("limitation"),
            )
        )
    return lines


async def _value(
    uow: UnitOfWork, deps: Deps, me: StaffMember, case: Case, part: CasePart
) -> PartValue:
    if part is CasePart.SUMMARY:
        return await summary(uow, deps, case)
    if part is CasePart.SHEET:
        return await sheet(uow, deps, case)
    if part is CasePart.CONSENT:
        return await consents(uow, deps, case)
    if part is CasePart.APPOINTMENTS:
        return await appointments(uow, deps, case)
    if part is CasePart.NOTES:
        return await notes(uow, deps, case)
    if part is CasePart.DOCUMENTS:
        return await documents(uow, deps, case)
    return await disclosures(uow, deps, me, case)


def viewer_of(me: StaffMember, case: Case | None = None) -> Viewer:
    coordinator = Role(me.role) is Role.COORDINATOR
    decides = coordinator or (case is not None and case.assigned_staff_id == me.id)
    return Viewer(me.id, coordinator, decides)


async def show(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, reference: str, part: CasePart
) -> Shown:
    """One part of a case, if the caller may open it (the read is audited; committed here)."""
    me, case = await case_access.open_case(
        uow, deps, telegram_user_id, reference, command=COMMAND, part=part
    )
    value = await _value(uow, deps, me, case, part)
    await uow.commit()
    return Shown(viewer_of(me, case), case.reference, part, value)


@dataclass(frozen=True)
class DocumentCopy:
    name: str
    media_type: str
    data: bytes


async def document(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, reference: str, document_id: str
) -> DocumentCopy:
    """A document of the case, to send back to the reader (audited as a read; committed)."""
    me, case = await case_access.open_case(uow, deps, telegram_user_id, reference, command=COMMAND)
    row = await uow.session.get(CaseDocument, document_id)
    if row is None or row.case_id != case.id:
        raise StaleAction
    meta = deps.cipher.open_json(row, "meta_enc", row.meta_enc)
    data = deps.cipher.open_bytes(row, "content_enc", row.content_enc)
    await audit.record(
        uow, deps, AuditAction.DOCUMENT_READ, audit.staff_actor(me.id), case.id, document=row.id
    )
    await uow.commit()
    return DocumentCopy(
        str(meta.get("name") or "document"), str(meta.get("media_type") or ""), data
    )
