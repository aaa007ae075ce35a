"""The words of case records (cases, notes, documents, consent recorded by staff,
disclosures): the texts catalogue's second module, kept apart so each stays one idea.

Like bot/texts.py, HTML is escaped here, where messages are built, and only here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from html import escape
from typing import TYPE_CHECKING, cast
from zoneinfo import ZoneInfo

from bot import texts
from bot.message_parts import read_length, split_message
from bot.texts import CONSENT_SHORT, CONSENT_WORDING
from bot.vocabulary import (
    AppointmentStatus,
    BreakGlassReason,
    CasePart,
    CaseStatus,
    ConsentChannel,
    ConsentScope,
    DetailProblem,
    DisclosureBasis,
    GateRefusal,
    LegalDuty,
    NoteKind,
    RecipientKind,
    SheetField,
)

if TYPE_CHECKING:
    from bot.services.cases.case_view import (
        AppointmentLine,
        ConsentLine,
        ConsentPart,
        DisclosureLine,
        DocumentLine,
        NoteLine,
        SheetPart,
        Shown,
        Summary,
    )
    from bot.services.cases.cases import Episode


def case_assigned_to_you(reference: str) -> str:
    """To an adviser given a case: its reference, and nothing about the student."""
    return (
        f"The coordinator has given you case <b>{escape(reference)}</b>. "
        f"Open it with /case {escape(reference)}."
    )


DRAFT_DROPPED = "Cancelled. Nothing you were typing was saved."


# ---------------------------------------------------------------- access
BREAK_GLASS_LABELS: Mapping[BreakGlassReason, str] = {
    BreakGlassReason.COVERING: "Covering for the adviser",
    BreakGlassReason.STUDENT_CONTACTED_ME: "The student contacted me",
    BreakGlassReason.URGENT_DEADLINE: "An urgent deadline",
    BreakGlassReason.SUPERVISION: "Supervision or review",
    BreakGlassReason.OTHER: "Other (type it)",
}


def break_glass_reported(reference: str, adviser: str, reason: str) -> str:
    """To the coordinator: who opened which case that was not theirs, and the kind of reason."""
    return (
        f"{escape(adviser)} opened case <b>{escape(reference)}</b>, which is not assigned to "
        f"them. Reason given: {escape(reason)}."
    )


# ---------------------------------------------------------------- reading a case
CASE_USAGE = "Usage: /case REFERENCE (the six characters on the intake summary)."
FIND_USAGE = "Usage: /find followed by the student's exact student number or exact full name."
# One reply for every search that finds nothing: it never tells whether the student ever
# used the service.
FIND_NONE = (
    "No case matches that exactly. Searches match the whole student number or the whole "
    "name as the student wrote it (capitals and spacing do not matter)."
)
PAGE_BODY_LIMIT = 3600  # of the 4,096 units a message may hold: room for title and footer

PART_LABELS: Mapping[CasePart, str] = {
    CasePart.SUMMARY: "Summary",
    CasePart.SHEET: "Sheet",
    CasePart.CONSENT: "Consent",
    CasePart.APPOINTMENTS: "Appointments",
    CasePart.NOTES: "Notes",
    CasePart.DOCUMENTS: "Documents",
    CasePart.DISCLOSURES: "Disclosures",
}
BTN_PREVIOUS = "‹ Previous"
BTN_NEXT = "Next ›"
BTN_CLEAR = "Clear from chat"
BTN_CLOSE_CASE = "Close the case"
BTN_REOPEN_CASE = "Reopen the case"
BTN_ASSIGN = "Give to another adviser"
# What the summary offers besides: the same journeys as /note, /attach, /consentfor, /disclose.
BTN_CASE_NOTE = "Add a note"
BTN_CASE_ATTACH = "Attach a document"
BTN_CASE_CONSENT = "Record consent"
BTN_CASE_DISCLOSE = "Record an action"
DOCUMENT_BUTTON_MAX = 40
CLEAR_TOO_OLD = (
    "Telegram lets me delete my own messages for 48 hours only, and that one is older. "
    "Please delete it yourself: press and hold it (or right-click it) and choose Delete."
)
CLEARED = "Cleared."

STATUS_NAMES: Mapping[CaseStatus, str] = {CaseStatus.OPEN: "open", CaseStatus.CLOSED: "closed"}
CHANNEL_NAMES: Mapping[ConsentChannel, str] = {
    ConsentChannel.INFORMATION_SHEET: "on the information sheet",
    ConsentChannel.BOT: "in the bot",
    ConsentChannel.BOT_REQUESTED: "in the bot (asked by an adviser)",
    ConsentChannel.EMAIL: "by email",
    ConsentChannel.VERBAL: "verbally",
}
APPOINTMENT_STATUS_NAMES: Mapping[AppointmentStatus, str] = {
    AppointmentStatus.BOOKED: "booked",
    AppointmentStatus.CANCELLED: "cancelled",
    AppointmentStatus.CANCELLED_BY_SERVICE: "cancelled by the service",
    AppointmentStatus.ATTENDED: "attended",
    AppointmentStatus.NO_SHOW: "no-show",
}
NOTE_KIND_NAMES: Mapping[NoteKind, str] = {
    NoteKind.APPOINTMENT: "appointment",
    NoteKind.PHONE_CALL: "phone call",
    NoteKind.EMAIL: "email",
    NoteKind.MEETING: "meeting",
    NoteKind.ACTION: "action taken",
    NoteKind.OTHER: "other",
}
BASIS_NAMES: Mapping[DisclosureBasis, str] = {
    DisclosureBasis.CONSENT: "the student's consent",
    DisclosureBasis.WELFARE: "welfare concern",
    DisclosureBasis.LEGAL_OBLIGATION: "obligation in law",
    DisclosureBasis.SECURITY_TIMES: "Security: appointment times only",
}
RECIPIENT_NAMES: Mapping[RecipientKind, str] = {
    RecipientKind.SCHOOL: "academic school or department",
    RecipientKind.UNIVERSITY: "another University department",
    RecipientKind.EXTERNAL: "an organisation outside the University",
    RecipientKind.HEALTH_CENTRE: "Student Health Centre",
    RecipientKind.LEARNING_SUCCESS: "Learning Success",
    RecipientKind.AUTHORITY: "an authority under a legal duty",
    RecipientKind.SECURITY: "University Security",
}
DUTY_NAMES: Mapping[LegalDuty, str] = {
    LegalDuty.CHILDREN_ACT: "Children Act 1989",
    LegalDuty.TERRORISM_ACT: "Terrorism Act 2000",
    LegalDuty.COURT_ORDER: "a court order",
    LegalDuty.OTHER: "other",
}


@dataclass(frozen=True)
class CasePage:
    """One message of a case part; `items` are the positions (in the part's list) of the
    entries it shows, so the screen can offer a button for each (a document to send)."""

    text: str
    items: tuple[int, ...] = ()


def _moment(moment: datetime, zone: ZoneInfo) -> str:
    return escape(texts.format_moment(moment, zone))


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def _paginate(title: str, blocks: Sequence[tuple[str, int | None]], empty: str) -> list[CasePage]:
    """Pack blocks (HTML, and the item each shows) into pages; a block too long for one page
    is cut cleanly between tags and entities (bot/message_parts.py) across several."""
    pieces = [
        (piece, item) for block, item in blocks for piece in split_message(block, PAGE_BODY_LIMIT)
    ]
    bodies: list[tuple[list[str], list[int]]] = []
    used = PAGE_BODY_LIMIT + 1
    for piece, item in pieces:
        units = read_length(piece)
        if used + 2 + units > PAGE_BODY_LIMIT:
            bodies.append(([], []))
            used = -2
        bodies[-1][0].append(piece)
        if item is not None and item not in bodies[-1][1]:
            bodies[-1][1].append(item)
        used += 2 + units
    if not bodies:
        return [CasePage(f"{title}\n\n<i>{escape(empty)}</i>")]
    total = len(bodies)
    return [
        CasePage(
            f"{title}\n\n"
            + "\n\n".join(text)
            + (f"\n\n<i>Page {n} of {total}</i>" if total > 1 else ""),
            tuple(items),
        )
        for n, (text, items) in enumerate(bodies, start=1)
    ]


def _title(reference: str, part: CasePart) -> str:
    return f"<b>CONFIDENTIAL · Case {escape(reference)}</b> · {PART_LABELS[part]}"


def _episode_lines(episodes: Sequence[Episode], zone: ZoneInfo) -> list[str]:
    lines = []
    for e in episodes:
        opened = "Opened" if e.reopen_reason is None else "Reopened"
        line = f"{e.position}. {opened} {_moment(e.opened_at, zone)}"
        if e.reopen_reason is not None:
            line += f" (reason: {escape(e.reopen_reason)})"
        if e.closed_at is not None:
            line += f"; closed {_moment(e.closed_at, zone)}"
            if e.outcome:
                line += f": <b>{escape(e.outcome)}</b>"
        else:
            line += "; open now"
        lines.append(line)
    return lines


def _summary_blocks(s: Summary, zone: ZoneInfo) -> list[tuple[str, int | None]]:
    adviser = escape(s.adviser) if s.adviser else "<i>not assigned yet</i>"
    head = "\n".join(
        [
            f"Reference: <b>{escape(s.reference)}</b>",
            f"Status: <b>{STATUS_NAMES[s.status]}</b>",
            f"Adviser: {adviser}",
            f"Opened: {_moment(s.opened_at, zone)}",
            f"Last activity: {_moment(s.last_activity_at, zone)}",
            f"Notes: {s.notes} · Documents: {s.documents} · Disclosures: {s.disclosures}",
        ]
    )
    episodes = "<b>Episodes</b>\n" + "\n".join(_episode_lines(s.episodes, zone))
    return [(head, None), (episodes, None)]


def _sheet_blocks(s: SheetPart, zone: ZoneInfo) -> list[tuple[str, int | None]]:
    if s.answers is None:
        return []
    blocks: list[tuple[str, int | None]] = []
    if s.submitted_at is not None:
        blocks.append((f"Submitted {_moment(s.submitted_at, zone)}", None))
    blocks.extend(
        (f"<b>{escape(texts.FIELD_LABELS[f])}</b>: {texts.answer_text(f, s.answers.get(f))}", None)
        for f in SheetField
        if f in s.answers
    )
    return blocks


def _consent_entry(line: ConsentLine, zone: ZoneInfo) -> str:
    who = (
        f"recorded by {escape(line.recorded_by)}"
        if line.recorded_by is not None
        else "by the student"
    )
    parts = [
        f"<b>{_moment(line.recorded_at, zone)}</b>: {escape(texts.CONSENT_SHORT[line.scope])}: "
        f"<b>{texts.consent_state(line.granted)}</b>",
        f"{CHANNEL_NAMES[line.channel]}, {who} · wording {escape(line.wording_version)}",
    ]
    if line.email_date is not None or line.email_reference:
        day = escape(texts.format_date(line.email_date)) if line.email_date else "no date"
        parts.append(f"Email of {day}; reference: {escape(line.email_reference or '')}")
    if line.nature:
        parts.append(f"Nature of the permission: {escape(line.nature)}")
    if line.limitation:
        parts.append(f"Limited to: {escape(line.limitation)}")
    if line.purpose:
        parts.append(f"Asked for: {escape(line.purpose)}")
    return "\n".join(parts)


def _consent_blocks(c: ConsentPart, zone: ZoneInfo) -> list[tuple[str, int | None]]:
    now = "<b>Now</b>\n" + "\n".join(
        f"• {escape(texts.CONSENT_SHORT[scope])}: <b>{texts.consent_state(state.granted)}</b>"
        for scope, state in c.current.items()
    )
    history = [(_consent_entry(line, zone), None) for line in c.history]
    if history:
        history[0] = ("<b>History, newest first</b>\n" + history[0][0], None)
    return [(now, None), *history]


def _appointment_blocks(
    items: Sequence[AppointmentLine], zone: ZoneInfo
) -> list[tuple[str, int | None]]:
    blocks: list[tuple[str, int | None]] = []
    for a in items:
        status = APPOINTMENT_STATUS_NAMES[a.status]
        if a.moved:
            status += " (moved)"
        blocks.append(
            (
                f"{texts.appointment_line(a.starts_at, a.ends_at, a.mode, zone)}\n"
                f"with {escape(a.adviser)} · <b>{status}</b>",
                None,
            )
        )
    return blocks


def _note_head(note: NoteLine, zone: ZoneInfo) -> str:
    return (
        f"<b>Note {note.position}</b> · {NOTE_KIND_NAMES[note.kind]} · {escape(note.author)} · "
        f"{_moment(note.created_at, zone)}"
    )


def _note_block(note: NoteLine, zone: ZoneInfo) -> str:
    lines = [_note_head(note, zone)]
    if note.corrects is not None:
        reason = f" (why: {escape(note.reason)})" if note.reason else ""
        lines.append(f"<i>Corrects note {note.corrects}</i>{reason}")
    lines.append(escape(note.body))
    for fix in note.corrected_by:
        reason = f" (why: {escape(fix.reason)})" if fix.reason else ""
        lines.append(
            f"⚠ <b>Corrected by note {fix.position}</b>{reason}, {_moment(fix.created_at, zone)}:"
            f"\n<i>{escape(fix.body)}</i>"
        )
    return "\n".join(lines)


def _document_blocks(items: Sequence[DocumentLine], zone: ZoneInfo) -> list[tuple[str, int | None]]:
    return [
        (
            f"<b>{escape(d.name)}</b>\n{escape(d.media_type)} · {_size(d.size)} · "
            f"{_moment(d.created_at, zone)} · added by "
            f"{escape(d.added_by) if d.added_by is not None else 'the student'}",
            i,
        )
        for i, d in enumerate(items)
    ]


def _disclosure_block(d: DisclosureLine, zone: ZoneInfo) -> str:
    lines = [
        f"<b>{_moment(d.made_at, zone)}</b> · {escape(d.adviser)} · basis: {BASIS_NAMES[d.basis]}"
    ]
    if d.withheld:
        lines.append(
            "<i>A welfare disclosure: whom it went to and what was said are known only to the "
            "adviser who made it.</i>"
        )
        return "\n".join(lines)
    if d.recipient_kind is not None or d.recipient:
        kind = RECIPIENT_NAMES[d.recipient_kind] if d.recipient_kind else ""
        lines.append(f"To: {escape(kind)}: {escape(d.recipient or '')}")
    if d.scope is not None:
        lines.append(f"Consent: {escape(texts.CONSENT_SHORT[d.scope])}")
    if d.limitation:
        lines.append(f"Limited to: {escape(d.limitation)}")
    if d.statute is not None:
        statute = DUTY_NAMES[d.statute]
        if d.statute_text:
            statute = f"{statute}: {d.statute_text}"
        lines.append(f"Duty: {escape(statute)}")
    if d.content:
        lines.append(f"Shared or asked: {escape(d.content)}")
    return "\n".join(lines)


CASE_EMPTY: Mapping[CasePart, str] = {
    CasePart.SUMMARY: "Nothing to show.",
    CasePart.SHEET: "There is no information sheet on this case.",
    CasePart.CONSENT: "No consent recorded.",
    CasePart.APPOINTMENTS: "No appointments.",
    CasePart.NOTES: "No notes yet.",
    CasePart.DOCUMENTS: "No documents.",
    CasePart.DISCLOSURES: "Nothing has been disclosed.",
}


def case_pages(shown: Shown, zone: ZoneInfo) -> list[CasePage]:
    """Every page of one part of a case, newest entries first."""
    value = shown.value
    blocks: list[tuple[str, int | None]]
    if shown.part is CasePart.SUMMARY:
        blocks = _summary_blocks(cast("Summary", value), zone)
    elif shown.part is CasePart.SHEET:
        blocks = _sheet_blocks(cast("SheetPart", value), zone)
    elif shown.part is CasePart.CONSENT:
        blocks = _consent_blocks(cast("ConsentPart", value), zone)
    elif shown.part is CasePart.APPOINTMENTS:
        blocks = _appointment_blocks(cast("list[AppointmentLine]", value), zone)
    elif shown.part is CasePart.NOTES:
        blocks = [(_note_block(n, zone), None) for n in cast("list[NoteLine]", value)]
    elif shown.part is CasePart.DOCUMENTS:
        blocks = _document_blocks(cast("list[DocumentLine]", value), zone)
    else:
        blocks = [(_disclosure_block(d, zone), None) for d in cast("list[DisclosureLine]", value)]
    return _paginate(_title(shown.reference, shown.part), blocks, CASE_EMPTY[shown.part])


def btn_document(name: str) -> str:
    label = f"Send {name}"
    return label if len(label) <= DOCUMENT_BUTTON_MAX else label[: DOCUMENT_BUTTON_MAX - 1] + "…"


def find_results(references: Sequence[str]) -> str:
    lines = "\n".join(f"• /case {escape(r)}" for r in references)
    return f"<b>Cases found</b> (newest first):\n{lines}"


def break_glass_question(reference: str) -> str:
    return (
        f"Case <b>{escape(reference)}</b> is not assigned to you. Why do you need to open it? "
        "Your reason is recorded, and the coordinator is told that you opened it."
    )


BREAK_GLASS_TYPE = (
    "Type the reason in a few words (at most 300 characters), or /cancel to leave the case closed."
)
BREAK_GLASS_BAD = "Please type a reason of 1 to 300 characters, or /cancel."


def close_ask(reference: str) -> str:
    return f"How does case <b>{escape(reference)}</b> end? Choose the outcome:"


def closed(reference: str, outcome: str) -> str:
    return (
        f"Case <b>{escape(reference)}</b> is closed: {escape(outcome)}. "
        f"You can reopen it from /case {escape(reference)}."
    )


def reopen_ask(reference: str) -> str:
    return (
        f"Why is case <b>{escape(reference)}</b> being reopened? Type the reason (at most 500 "
        "characters), or /cancel."
    )


REOPEN_BAD = "Please type a reason of 1 to 500 characters, or /cancel."


def reopened(reference: str) -> str:
    return f"Case <b>{escape(reference)}</b> is open again."


CASE_ALREADY: Mapping[CaseStatus, str] = {
    CaseStatus.OPEN: "That case is open already.",
    CaseStatus.CLOSED: "That case is closed already.",
}


def assign_ask(reference: str) -> str:
    return f"Who should have case <b>{escape(reference)}</b>?"


ASSIGN_NOBODY = "There is no active adviser to give it to."


def assigned(reference: str, adviser: str) -> str:
    return (
        f"Case <b>{escape(reference)}</b> is now {escape(adviser)}'s. They have been told its "
        "reference, and nothing else."
    )


# ---------------------------------------------------------------- notes and documents
NOTE_KIND_LABELS: Mapping[NoteKind, str] = {
    NoteKind.APPOINTMENT: "Appointment",
    NoteKind.PHONE_CALL: "Phone call",
    NoteKind.EMAIL: "Email",
    NoteKind.MEETING: "Meeting",
    NoteKind.ACTION: "Action taken",
    NoteKind.OTHER: "Other",
}
BTN_NOTE_DONE = "Done"
BTN_NOTE_SAVE = "Save"
BTN_NOTE_DISCARD = "Cancel"

NOTE_USAGE = (
    "Usage: /note REF, then type the note (several messages are fine); or /note REF "
    "followed by the whole note. REF is the case reference."
)
CORRECT_USAGE = "Usage: /correct REF N, where N is the number of the note to correct."
ATTACH_USAGE = "Usage: /attach REF, then send the document (a file or a photo)."
NOTHING_TYPED = "There is nothing to save yet: type the note first, then press Done."
NOTE_CHOOSE_KIND = "What kind of note is this?"
NOTE_DISCARDED = "Not saved. Nothing you typed was kept."
CORRECTION_ASK_REASON = (
    "Now say briefly why the note needed correcting (one message, up to 500 characters)."
)


def needs_break_glass(reference: str) -> str:
    """An adviser tried to write to a case that is not theirs without opening it first."""
    ref = escape(reference)
    return (
        f"Case <b>{ref}</b> is not assigned to you. Open it with /case {ref} first and give a "
        "reason; then try again."
    )


def note_started(reference: str) -> str:
    return (
        f"Note for case <b>{escape(reference)}</b>. Type the note; several messages are fine; "
        "press Done when finished. /cancel stops without saving."
    )


def note_added(length: int) -> str:
    return f"Added ({length:,} characters so far). Send more, or press Done."


def note_too_long(limit: int, held: int) -> str:
    return (
        f"That would make it longer than {limit:,} characters, so it was not added (it has "
        f"{held:,} now). Send something shorter, or save what you have and add another note."
    )


def correction_started(reference: str, number: int) -> str:
    return (
        f"Correcting note {number} of case <b>{escape(reference)}</b>. The original stays as "
        "it is; the correction is saved beside it. Type the corrected text (one message). "
        "/cancel stops without saving."
    )


def unknown_note(reference: str, number: int) -> str:
    return (
        f"Case <b>{escape(reference)}</b> has no note {number}. Check the note's number on the "
        "case screen."
    )


def note_preview(
    reference: str,
    text: str,
    kind: NoteKind | None,
    corrects: int | None,
    reason: str | None,
) -> str:
    """The note as it will be saved, for a last look before Save."""
    label = NOTE_KIND_LABELS[kind] if kind is not None else ""
    if corrects is not None:
        head = f"<b>Case {escape(reference)}: correction of note {corrects}</b>"
        tail = f"\n\n<b>Why:</b> {escape(reason or '')}\n\nSave this correction?"
    else:
        head = f"<b>Case {escape(reference)}: {escape(label)} note</b>"
        tail = "\n\nSave this note?"
    return f"{head}\n\n{escape(text)}{tail}"


def note_saved(reference: str, number: int, corrects: int | None) -> str:
    saved = f"Note {number} saved to case <b>{escape(reference)}</b>"
    return f"{saved}, correcting note {corrects}." if corrects is not None else f"{saved}."


# Documents
ACCEPTED_FORMATS = (
    "PDF, images (JPEG, PNG, HEIC, WebP, GIF), Word, Excel and PowerPoint files, OpenDocument "
    "text and spreadsheets, and RTF"
)
MEDIA_LABELS: Mapping[str, str] = {
    "application/pdf": "PDF",
    "image/jpeg": "JPEG image",
    "image/png": "PNG image",
    "image/heic": "HEIC image",
    "image/heif": "HEIF image",
    "image/webp": "WebP image",
    "image/gif": "GIF image",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel spreadsheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (
        "PowerPoint presentation"
    ),
    "application/vnd.oasis.opendocument.text": "OpenDocument text",
    "application/vnd.oasis.opendocument.spreadsheet": "OpenDocument spreadsheet",
    "application/msword": "Word 97-2003 document",
    "application/vnd.ms-excel": "Excel 97-2003 spreadsheet",
    "application/rtf": "RTF document",
}
ATTACH_SEND_FILE = "Please send the document as a file or a photo, or /cancel to stop."
DOCUMENT_TOO_LARGE = (
    "That file is over 20 MB, the largest I can take, so it was not kept. Please send a "
    "smaller file (a scan at a lower resolution is usually fine), or split it in parts."
)
DOCUMENT_EMPTY = "That file is empty, so there was nothing to keep."
DOCUMENT_NOT_ACCEPTED = (
    f"I can't keep that kind of file, so it was not kept. I accept {ACCEPTED_FORMATS}, "
    "up to 20 MB. The type is checked from the file's content, not its name."
)
DOCUMENT_PROGRAM = (
    "That file is a program, not a document, so it was not kept (whatever its name says). "
    f"I accept {ACCEPTED_FORMATS}, up to 20 MB."
)


def attach_started(reference: str) -> str:
    return (
        f"Send the document for case <b>{escape(reference)}</b> now, as a file or a photo. "
        f"I accept {ACCEPTED_FORMATS}, up to 20 MB. /cancel stops."
    )


def file_size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def _described(name: str, media_type: str, size: int) -> str:
    label = MEDIA_LABELS.get(media_type, media_type)
    return f"<b>{escape(name)}</b> ({escape(label)}, {file_size(size)})"


def document_attached(reference: str, name: str, media_type: str, size: int) -> str:
    """To the adviser: what was stored, where."""
    return f"Stored for case <b>{escape(reference)}</b>: {_described(name, media_type, size)}."


def document_received(name: str, media_type: str, size: int) -> str:
    """To the student: their document is in their case file (no reference needed)."""
    return (
        f"Thank you. {_described(name, media_type, size)} is now in your case file, kept "
        "encrypted; your adviser can see it."
    )


# ---------------------------------------------------------------- consent by staff, disclosures
DETAIL_PROBLEMS: Mapping[DetailProblem, str] = {
    DetailProblem.EMPTY: "That was empty. Please type it, or /cancel to stop.",
    DetailProblem.TOO_LONG: "That is too long: at most {limit} characters, please.",
    DetailProblem.DATE_FORMAT: "Please type the date as dd/mm/yyyy, for example 03/12/2026.",
    DetailProblem.DATE_FUTURE: "That date is in the future. Please type the date of the email.",
    DetailProblem.USE_BUTTONS: "Please use the buttons above (or /cancel to stop).",
}


def detail_problem(problem: DetailProblem, limit: int | None = None) -> str:
    return DETAIL_PROBLEMS[problem].format(limit=limit or "")


def _yes_no(granted: bool) -> str:
    return "given" if granted else "withdrawn (or refused)"


def _scope(scope: ConsentScope) -> str:
    return escape(CONSENT_SHORT[scope])


def consent_for_start(reference: str) -> str:
    return (
        f"<b>Consent for case {escape(reference)}</b>\n\n"
        "Record a consent the student gave you (by email or verbally), or ask the student "
        "in the chat? /cancel stops at any point."
    )


BTN_RECORD_CONSENT = "Record consent given to me"
BTN_ASK_STUDENT = "Ask the student in the chat"
BTN_CONSENT_GIVEN = "Given"
BTN_CONSENT_WITHDRAWN = "Withdrawn or refused"
BTN_BY_EMAIL = "By email"
BTN_VERBALLY = "Verbally"
BTN_NO_LIMITATION = "No limitation (skip)"
BTN_RECORD_IT = "Record it"


def btn_scope(scope: ConsentScope) -> str:
    return CONSENT_SHORT[scope]


CHOOSE_SCOPE = "Which consent?"


def choose_decision(scope: ConsentScope) -> str:
    return f"<b>{_scope(scope)}</b>: did the student give this consent, or withdraw it?"


CHOOSE_CHANNEL = "How did the student tell you?"
ASK_EMAIL_DATE = "Type the date of the email, as dd/mm/yyyy."
ASK_EMAIL_REFERENCE = "Type the email's subject, or a reference that finds it."
ASK_VERBAL_NATURE = (
    "In your own words, what did the student give you permission for? The policy asks you to "
    "write down the nature of the permission given."
)
ASK_LIMITATION = (
    "Is the permission limited? Type the limit (for example <i>only the Academic Registry, "
    "only about the appeal</i>), or press the button if it is not."
)


def consent_confirm(
    reference: str,
    scope: ConsentScope,
    granted: bool,
    channel: ConsentChannel,
    *,
    email_date: date | None,
    email_reference: str | None,
    nature: str | None,
    limitation: str | None,
) -> str:
    lines = [
        f"<b>Record this for case {escape(reference)}?</b>",
        "",
        f"Consent: {_scope(scope)}, <b>{_yes_no(granted)}</b>",
        f"Given: {CHANNEL_LABELS[channel]}",
    ]
    if email_date is not None:
        lines.append(f"Email of {email_date:%d/%m/%Y}: {escape(email_reference or '')}")
    if nature is not None:
        lines.append(f"Nature of the permission: {escape(nature)}")
    lines.append(f"Limitation: {escape(limitation) if limitation else 'none'}")
    return "\n".join(lines)


CHANNEL_LABELS: Mapping[ConsentChannel, str] = {
    ConsentChannel.INFORMATION_SHEET: "on the information sheet",
    ConsentChannel.BOT: "in the chat",
    ConsentChannel.BOT_REQUESTED: "in the chat, when an adviser asked",
    ConsentChannel.EMAIL: "by email",
    ConsentChannel.VERBAL: "verbally",
}


def consent_recorded(reference: str, scope: ConsentScope, granted: bool) -> str:
    return (
        f"Recorded for case <b>{escape(reference)}</b>: {_scope(scope)}, "
        f"<b>{_yes_no(granted)}</b>. The student has been told in the chat."
    )


def student_told_consent_recorded(
    adviser: str,
    scope: ConsentScope,
    granted: bool,
    channel: ConsentChannel,
    limitation: str | None,
) -> str:
    """To the student: what an adviser recorded, by whom (first name), and where to see it."""
    said = "gave" if granted else "withdrew (or refused)"
    limit = f"\nLimited to: {escape(limitation)}" if limitation else ""
    return (
        f"Your adviser {escape(adviser)} recorded that you {said} your consent "
        f"{CHANNEL_LABELS[channel]}:\n<b>{_scope(scope)}</b>{limit}\n\n"
        "/consent shows your choices and lets you change any of them."
    )


def ask_purpose(scope: ConsentScope) -> str:
    return (
        f"Asking the student about: <b>{_scope(scope)}</b>.\n\nType one line (at most 200 "
        "characters) saying why, for example <i>to contact Registry about your appeal "
        "deadline</i>. The student will read it."
    )


def request_sent(reference: str, scope: ConsentScope) -> str:
    return (
        f"Sent to the student of case <b>{escape(reference)}</b>: {_scope(scope)}. "
        "You will be told their answer."
    )


def consent_request_to_student(scope: ConsentScope, purpose: str) -> str:
    return (
        "<b>Your adviser asks for your consent</b>\n\n"
        f"{escape(CONSENT_WORDING[scope])}\n\nWhy: {escape(purpose)}\n\n"
        "Saying no won't affect the help you get from us. You can change your answer later "
        "with /consent."
    )


def request_answered(scope: ConsentScope, granted: bool) -> str:
    return (
        f"Thank you. Recorded: {_scope(scope)}: <b>{'Yes' if granted else 'No'}</b>. "
        "Your adviser will be told. /consent shows and changes your choices."
    )


def adviser_told_answer(reference: str, scope: ConsentScope, granted: bool) -> str:
    """To the adviser who asked: the case reference, the scope, the answer; nothing else."""
    return (
        f"Case <b>{escape(reference)}</b>: the student answered your consent request "
        f"({_scope(scope)}): <b>{'Yes' if granted else 'No'}</b>."
    )


# Disclosures
RECIPIENT_LABELS: Mapping[RecipientKind, str] = {
    RecipientKind.SCHOOL: "Academic school or department",
    RecipientKind.UNIVERSITY: "Another University department",
    RecipientKind.EXTERNAL: "An organisation outside the University",
    RecipientKind.HEALTH_CENTRE: "Student Health Centre",
    RecipientKind.LEARNING_SUCCESS: "Learning Success",
    RecipientKind.AUTHORITY: "An authority, under a legal duty",
    RecipientKind.SECURITY: "University Security",
}
BASIS_LABELS: Mapping[DisclosureBasis, str] = {
    DisclosureBasis.CONSENT: "The student's consent",
    DisclosureBasis.WELFARE: "Welfare concern",
    DisclosureBasis.LEGAL_OBLIGATION: "Obligation in law",
    DisclosureBasis.SECURITY_TIMES: "Security: appointment times",
}
DUTY_LABELS: Mapping[LegalDuty, str] = {
    LegalDuty.CHILDREN_ACT: "Children Act 1989",
    LegalDuty.TERRORISM_ACT: "Terrorism Act 2000",
    LegalDuty.COURT_ORDER: "A court order",
    LegalDuty.OTHER: "Other (type it)",
}


def disclose_start(reference: str) -> str:
    return (
        f"<b>Record a disclosure or action for case {escape(reference)}</b>\n\n"
        "What you did, or are about to do, on the student's behalf. Whom do you contact? "
        "/cancel stops at any point."
    )


def ask_recipient_name(kind: RecipientKind) -> str:
    return (
        f"{escape(RECIPIENT_LABELS[kind])}: type the recipient's name (a person, an office or "
        "an organisation)."
    )


ASK_DISCLOSURE_CONTENT = "Type what was (or will be) shared or asked."
CHOOSE_BASIS = "On what basis?"
CHOOSE_DUTY = "Which statute or duty obliges you?"
ASK_DUTY_TEXT = "Type the statute or duty that obliges you."


def confirm_limitation(limitation: str) -> str:
    return (
        "The student's consent was recorded with this limitation:\n"
        f"<b>{escape(limitation)}</b>\n\nIs what you are recording within it?"
    )


BTN_WITHIN_LIMIT = "Yes, it is within it"


def disclosure_confirm(
    reference: str,
    kind: RecipientKind,
    recipient: str,
    content: str,
    basis: DisclosureBasis,
    duty: str | None,
    limitation: str | None,
) -> str:
    lines = [
        f"<b>Record this for case {escape(reference)}?</b>",
        "",
        f"To: {escape(RECIPIENT_LABELS[kind])}, {escape(recipient)}",
        f"What: {escape(content)}",
        f"Basis: {escape(BASIS_LABELS[basis])}",
    ]
    if duty:
        lines.append(f"Duty: {escape(duty)}")
    if limitation:
        lines.append(f"Within the limitation: {escape(limitation)}")
    return "\n".join(lines)


def disclosure_recorded(reference: str, exception: bool) -> str:
    told = (
        " The coordinator has been told that an exception was used (reference, adviser and "
        "basis only)."
        if exception
        else ""
    )
    return f"Recorded for case <b>{escape(reference)}</b>.{told}"


def refusal(why: GateRefusal, scope: ConsentScope | None, kind: RecipientKind) -> str:
    """Exactly which consent is missing, or why the exception does not apply."""
    needed = f"<b>{_scope(scope)}</b>" if scope is not None else ""
    reasons = {
        GateRefusal.CONSENT_NEVER_ASKED: f"the student has never been asked for {needed}.",
        GateRefusal.CONSENT_REFUSED: f"the student said no to {needed}.",
        GateRefusal.CONSENT_WITHDRAWN: f"the student withdrew {needed} since giving it.",
        GateRefusal.WELFARE_WRONG_RECIPIENT: (
            "a welfare concern may go only to the Student Health Centre or Learning Success, "
            f"not to: {escape(RECIPIENT_LABELS[kind])}."
        ),
        GateRefusal.NO_DUTY_NAMED: "an obligation in law needs the statute or duty named.",
        GateRefusal.DUTY_TEXT_MISSING: "'Other' needs the statute or duty typed out.",
        GateRefusal.NOT_A_BASIS: "that is not a basis for a disclosure by an adviser.",
    }
    ask = (
        "\n\nYou can ask the student for it in the chat, or choose another basis if one applies."
        if scope is not None
        else "\n\nChoose another basis if one applies, or /cancel."
    )
    # Security's refusals are the booking service's alone; an adviser never meets them.
    reason = reasons.get(why, reasons[GateRefusal.NOT_A_BASIS])
    return f"<b>Not recorded, and not allowed:</b> {reason}{ask}"


def btn_ask_for(scope: ConsentScope) -> str:
    return f"Ask the student: {CONSENT_SHORT[scope]}"


def exception_reported(reference: str, adviser: str, basis: DisclosureBasis) -> str:
    """To the coordinator: an exception was used. Reference, adviser and basis only."""
    return (
        f"{escape(adviser)} recorded a disclosure on case <b>{escape(reference)}</b> under "
        f"an exception: {escape(BASIS_LABELS[basis])}."
    )


def register(
    start: date,
    end: date,
    counts: Mapping[DisclosureBasis, int],
    lines: Sequence[tuple[date, str, DisclosureBasis]],
) -> str:
    """The coordinator's register: counts by basis, then references and dates; no content."""
    head = [
        f"<b>Disclosures, {start:%d/%m/%Y} to {end:%d/%m/%Y}</b>",
        "",
        *(f"{escape(BASIS_LABELS[b])}: <b>{counts.get(b, 0)}</b>" for b in DisclosureBasis),
    ]
    if not lines:
        return "\n".join([*head, "", "None in this period."])
    body = [f"{day:%d/%m/%Y}  {escape(ref)}  {escape(BASIS_LABELS[b])}" for day, ref, b in lines]
    return "\n".join([*head, "", *body])


REGISTER_USAGE = (
    "Send /disclosures for the last 12 months, or /disclosures FROM TO with dates as "
    "YYYY-MM or dd/mm/yyyy (for example /disclosures 2026-01 2026-06)."
)


BASIS_FOR_STUDENT: Mapping[DisclosureBasis, str] = {
    DisclosureBasis.CONSENT: "with your consent",
    DisclosureBasis.WELFARE: "out of concern for your wellbeing",
    DisclosureBasis.LEGAL_OBLIGATION: "because the law required it",
    DisclosureBasis.SECURITY_TIMES: "appointment times only, to Security",
}


def my_disclosures(items: Sequence[tuple[date, RecipientKind, str, DisclosureBasis, str]]) -> str:
    """The student's own view: every disclosure made about them, with what was shared."""
    if not items:
        return "<b>Shared about you</b>\nNothing has been shared with anyone on your behalf."
    lines = ["<b>Shared about you</b>"]
    for day, kind, recipient, basis, content in items:
        lines.append(
            f"• {day:%d/%m/%Y}, {escape(RECIPIENT_LABELS[kind])}: {escape(recipient)} "
            f"({escape(BASIS_FOR_STUDENT[basis])})\n  {escape(content)}"
        )
    return "\n".join(lines)


def open_case_first(reference: str) -> str:
    """An adviser asked to act on a case that is not theirs: break the glass first."""
    return (
        f"Case <b>{escape(reference)}</b> is not assigned to you. Open it with "
        f"/case {escape(reference)} first (you will be asked why), then try again."
    )


CONSENT_FOR_USAGE = (
    "Send /consentfor followed by the case reference, for example /consentfor 7KQ2MX."
)
DISCLOSE_USAGE = "Send /disclose followed by the case reference, for example /disclose 7KQ2MX."
