"""The words of case records (cases, notes, documents, consent recorded by staff,
disclosures): the texts catalogue's second module, kept apart so each stays one idea.

Like bot/texts.py, HTML is escaped here, where messages are built, and only here.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from bot.vocabulary import BreakGlassReason, NoteKind


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
    "text and spreadsheets, RTF and plain text"
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
    "text/plain": "plain text",
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
