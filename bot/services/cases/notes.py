"""Case notes: typed by an adviser (in one message or several), kind chosen, saved sealed.

A note is never edited or deleted (the database refuses it): a correction is a new note that
names the one it corrects and says why. While a note is being typed it lives in the staff
member's sealed draft (bot/services/staff/staff_drafts.py), never in memory, so a restart resumes
it. Every step goes through `case_access.open_case`, so least privilege and the break-glass
hold at each one, not only at the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select

from bot.services import audit
from bot.services.cases import case_access, cases
from bot.services.deps import Deps
from bot.services.errors import DomainError, StaleAction
from bot.services.staff import staff, staff_drafts
from bot.services.staff.staff_drafts import Draft
from bot.vocabulary import AuditAction, DraftPurpose, NoteKind
from storage import data_keys
from storage.models import Case, CaseNote, StaffMember
from storage.uow import UnitOfWork

NOTE_MAX = 20_000
REASON_MAX = 500
# Messages typed one after another are joined as lines of one note.
PART_SEPARATOR = "\n"


class NoteStep(StrEnum):
    """Where a note (or a correction) is in its draft."""

    TYPING = "typing"  # a note: each message is added
    KIND = "kind"  # a note: choosing its kind
    CORRECTED_TEXT = "corrected_text"  # a correction: its text
    REASON = "reason"  # a correction: why
    PREVIEW = "preview"  # either: shown, waiting for Save or Cancel


class NoteTooLong(DomainError):
    """The note (or a correction's reason) would be longer than allowed."""

    def __init__(self, limit: int, length: int) -> None:
        super().__init__(f"over {limit}")
        self.limit = limit
        self.length = length  # what the draft holds now


class NothingTyped(DomainError):
    """Done was pressed before any text was typed."""


class UnknownNote(DomainError):
    """The case has no note with that number."""

    def __init__(self, reference: str, number: int) -> None:
        super().__init__("no such note")
        self.reference = reference
        self.number = number


@dataclass(frozen=True)
class NoteDraft:
    """What a staff member has typed so far, for the screens that show it."""

    reference: str
    step: NoteStep
    text: str
    kind: NoteKind | None = None
    corrects: int | None = None  # the number of the note a correction corrects
    reason: str | None = None


@dataclass(frozen=True)
class SavedNote:
    reference: str
    number: int
    corrects: int | None


@dataclass(frozen=True)
class ReadNote:
    """A saved note, opened (for the case view and for tests)."""

    number: int
    kind: NoteKind
    text: str
    author_staff_id: str
    corrects_note_id: str | None
    reason: str | None


def _text(content: dict[str, Any]) -> str:
    return PART_SEPARATOR.join(content.get("parts", []))


def _view(case: Case, draft: Draft) -> NoteDraft:
    content = draft.content
    kind = content.get("kind")
    return NoteDraft(
        case.reference,
        NoteStep(draft.step),
        _text(content),
        NoteKind(kind) if kind else None,
        content.get("number"),
        content.get("reason"),
    )


async def _open(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, reference: str, command: str
) -> tuple[StaffMember, Case]:
    return await case_access.open_case(uow, deps, telegram_user_id, reference, command=command)


async def _current(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, reference: str | None
) -> tuple[StaffMember, Case, Draft]:
    """The caller's note or correction draft (for the case pressed, if a press names one)
    and its case, which they must still be allowed to open; StaleAction otherwise."""
    me = await staff.find_staff(uow, deps, telegram_user_id)
    draft = await staff_drafts.current(uow, deps, me.id) if me is not None else None
    if (
        draft is None
        or draft.purpose not in (DraftPurpose.NOTE, DraftPurpose.CORRECTION)
        or draft.case_id is None
    ):
        raise StaleAction
    case = await uow.session.get(Case, draft.case_id)
    if case is None or (reference is not None and case.reference != reference):
        raise StaleAction
    me, case = await _open(uow, deps, telegram_user_id, case.reference, draft.purpose.value)
    return me, case, draft


def _within(limit: int, text: str, held: int) -> None:
    if len(text) > limit:
        raise NoteTooLong(limit, held)


async def start(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, reference: str, text: str | None = None
) -> NoteDraft:
    """Begin a note for a case; with `text` (the whole note in one go), go straight to its
    kind (the caller commits)."""
    me, case = await _open(uow, deps, telegram_user_id, reference, "note")
    parts = [text] if text and text.strip() else []
    _within(NOTE_MAX, _text({"parts": parts}), 0)
    draft = await staff_drafts.begin(
        uow,
        deps,
        me.id,
        DraftPurpose.NOTE,
        case_id=case.id,
        step=NoteStep.KIND if parts else NoteStep.TYPING,
        content={"parts": parts},
    )
    return _view(case, draft)


async def start_correction(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, reference: str, number: int
) -> NoteDraft:
    """Begin correcting note `number` of a case (the caller commits); UnknownNote if the case
    has none with that number."""
    me, case = await _open(uow, deps, telegram_user_id, reference, "correct")
    original = await _note(uow, case, number)
    draft = await staff_drafts.begin(
        uow,
        deps,
        me.id,
        DraftPurpose.CORRECTION,
        case_id=case.id,
        step=NoteStep.CORRECTED_TEXT,
        content={"parts": [], "corrects": original.id, "number": number, "kind": original.kind},
    )
    return _view(case, draft)


async def _note(uow: UnitOfWork, case: Case, number: int) -> CaseNote:
    note = await uow.session.scalar(
        select(CaseNote).where(CaseNote.case_id == case.id, CaseNote.position == number)
    )
    if note is None:
        raise UnknownNote(case.reference, number)
    return note


async def add_text(uow: UnitOfWork, deps: Deps, telegram_user_id: int, text: str) -> NoteDraft:
    """A typed message: more of the note, a correction's text, or its reason (the caller
    commits). NoteTooLong leaves the draft as it was."""
    me, case, draft = await _current(uow, deps, telegram_user_id, None)
    content = dict(draft.content)
    step = NoteStep(draft.step)
    if draft.purpose is DraftPurpose.CORRECTION and step is not NoteStep.CORRECTED_TEXT:
        reason = " ".join(text.split())
        _within(REASON_MAX, reason, len(content.get("reason") or ""))
        if reason:
            content["reason"] = reason
        step = NoteStep.PREVIEW if content.get("reason") else NoteStep.REASON
    else:
        parts = [*content.get("parts", []), text]
        _within(NOTE_MAX, _text({"parts": parts}), len(_text(content)))
        content["parts"] = parts
        if draft.purpose is DraftPurpose.CORRECTION:
            step = NoteStep.REASON
        else:
            step = NoteStep.TYPING
            content.pop("kind", None)  # more text: the kind is asked again at Done
    saved = await staff_drafts.save(uow, deps, me.id, step=step, content=content)
    return _view(case, saved)


async def done_typing(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, reference: str
) -> NoteDraft:
    """Done: the note's kind comes next (the caller commits)."""
    me, case, draft = await _current(uow, deps, telegram_user_id, reference)
    if draft.purpose is not DraftPurpose.NOTE:
        raise StaleAction
    if not _text(draft.content).strip():
        raise NothingTyped
    saved = await staff_drafts.save(uow, deps, me.id, step=NoteStep.KIND, content=draft.content)
    return _view(case, saved)


async def choose_kind(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, reference: str, kind: NoteKind
) -> NoteDraft:
    """The note's kind: the preview comes next (the caller commits)."""
    me, case, draft = await _current(uow, deps, telegram_user_id, reference)
    if draft.purpose is not DraftPurpose.NOTE or NoteStep(draft.step) is not NoteStep.KIND:
        raise StaleAction
    content = {**draft.content, "kind": kind.value}
    saved = await staff_drafts.save(uow, deps, me.id, step=NoteStep.PREVIEW, content=content)
    return _view(case, saved)


async def save(uow: UnitOfWork, deps: Deps, telegram_user_id: int, reference: str) -> SavedNote:
    """Save the previewed note or correction to its case, sealed (the caller commits)."""
    me, case, draft = await _current(uow, deps, telegram_user_id, reference)
    content = draft.content
    text = _text(content)
    if NoteStep(draft.step) is not NoteStep.PREVIEW or not text.strip() or "kind" not in content:
        raise StaleAction
    corrects: CaseNote | None = None
    if draft.purpose is DraftPurpose.CORRECTION:
        corrects = await uow.session.get(CaseNote, content.get("corrects"))
        if corrects is None or corrects.case_id != case.id or not content.get("reason"):
            raise StaleAction
    now = deps.clock.now()
    await cases.lock(uow, case.id)  # two advisers saving at once take turns for the number
    last = await uow.session.scalar(
        select(func.max(CaseNote.position)).where(CaseNote.case_id == case.id)
    )
    note = CaseNote(
        case_id=case.id,
        position=(last or 0) + 1,
        kind=NoteKind(content["kind"]).value,
        author_staff_id=me.id,
        created_at=now,
        corrects_note_id=corrects.id if corrects is not None else None,
    )
    await data_keys.bind(uow.session, note)
    body = deps.cipher.seal(note, "body_enc", text)
    assert body is not None
    note.body_enc = body
    if corrects is not None:
        note.reason_enc = deps.cipher.seal(note, "reason_enc", content["reason"])
    uow.session.add(note)
    case.last_activity_at = now
    detail = {"note": note.id, "corrects": corrects.id if corrects is not None else None}
    await audit.record(
        uow, deps, AuditAction.NOTE_ADDED, audit.staff_actor(me.id), case.id, **detail
    )
    await staff_drafts.finish(uow, me.id)
    return SavedNote(case.reference, note.position, corrects.position if corrects else None)


async def discard(uow: UnitOfWork, deps: Deps, telegram_user_id: int, reference: str) -> None:
    """Cancel on the preview: nothing is saved (the caller commits)."""
    me, _, _ = await _current(uow, deps, telegram_user_id, reference)
    await staff_drafts.finish(uow, me.id)


async def read_notes(uow: UnitOfWork, deps: Deps, case_id: str) -> list[ReadNote]:
    """A case's notes, opened, oldest first (callers audit the read)."""
    rows = (
        await uow.session.execute(
            select(CaseNote).where(CaseNote.case_id == case_id).order_by(CaseNote.position)
        )
    ).scalars()
    return [
        ReadNote(
            n.position,
            NoteKind(n.kind),
            deps.cipher.open(n, "body_enc", n.body_enc) or "",
            n.author_staff_id,
            n.corrects_note_id,
            deps.cipher.open(n, "reason_enc", n.reason_enc),
        )
        for n in rows
    ]
