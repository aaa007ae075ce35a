"""Button data: a compact, strictly parsed format. It is client-controlled, so never trusted.

Every press is re-checked against the database state by the service it reaches; parsing here
only rejects what could never be valid (unknown actions, wrong argument counts or values).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from bot.vocabulary import (
    AppointmentMode,
    BreakGlassReason,
    CasePart,
    ConsentScope,
    DisclosureBasis,
    LegalDuty,
    NoteKind,
    RecipientKind,
    ServiceCancelReason,
    SheetField,
)

MAX_BYTES = 64
ANY_MODE = "any"
_ROW_ID = re.compile(r"^[0-9a-f]{32}$")


class Action(StrEnum):
    PRIVACY_CONTINUE = "pv"
    PRIVACY_NOT_NOW = "pn"
    RESUME = "rs"
    START_OVER = "so"
    START_OVER_CONFIRMED = "sy"
    CHOOSE = "a"
    SKIP = "sk"
    EDIT = "ed"
    REVIEW_OK = "rv"
    SHEET_CONSENT = "cs"
    CONSENT_OPEN = "co"
    CONSENT_SET = "cx"
    CONSENT_CLOSE = "cz"
    DISCARD_CONFIRMED = "dy"
    DISCARD_KEEP = "dn"
    POLICY_ACK = "pa"
    DEACTIVATE_ASK = "da"
    DEACTIVATE_CONFIRMED = "dc"
    CLOSE = "sz"
    BOOK_START = "bk"
    BOOK_MODE = "bm"
    BOOK_DAY = "bd"
    BOOK_TIME = "bt"
    BOOK_CONFIRM = "bc"
    APPOINTMENT_CANCEL_ASK = "ac"
    APPOINTMENT_CANCEL_CONFIRMED = "ay"
    WINDOW_REMOVE = "wr"
    MOVE_START = "mv"
    CALENDAR = "ic"
    MARK_ATTENDED = "ma"
    MARK_NO_SHOW = "mn"
    SERVICE_CANCEL_ASK = "mx"
    SERVICE_CANCEL = "mr"
    CANCEL_TIME_OFF_BOOKINGS = "xo"
    MANAGE_PICK = "mp"
    MANAGE_SET = "mg"
    REASSIGN_PICK = "rp"
    REASSIGN_TO = "rt"
    REASSIGN_CONFIRMED = "ry"
    # -- case records: reading a case, break-glass, close, reopen, assign
    CASE_PART = "vp"
    CASE_CLEAR = "vc"
    CASE_DOCUMENT = "vd"
    CASE_GLASS = "vg"
    CASE_CLOSE_ASK = "vx"
    CASE_CLOSE = "vo"
    CASE_REOPEN = "vr"
    CASE_ASSIGN_ASK = "va"
    CASE_ASSIGN = "vt"
    # -- case records: notes and documents
    NOTE_DONE = "nd"
    NOTE_KIND = "nk"
    NOTE_SAVE = "ns"
    NOTE_DISCARD = "nx"
    # -- case records: consent recorded by staff, consent requests, disclosures
    CONSENT_FOR_RECORD = "kr"
    CONSENT_FOR_ASK = "ka"
    CONSENT_FOR_SCOPE = "ks"
    CONSENT_FOR_DECISION = "kd"
    CONSENT_FOR_EMAIL = "ke"
    CONSENT_FOR_VERBAL = "kv"
    CONSENT_FOR_NO_LIMIT = "kl"
    CONSENT_FOR_SAVE = "kk"
    CONSENT_REQUEST_ANSWER = "kq"
    DISCLOSE_RECIPIENT = "qr"
    DISCLOSE_BASIS = "qb"
    DISCLOSE_DUTY = "qd"
    DISCLOSE_WITHIN_LIMIT = "ql"
    DISCLOSE_SAVE = "qs"
    DISCLOSE_ASK = "qa"
    # -- case records: acting from the case summary (the same journeys as the commands)
    CASE_NOTE = "vn"
    CASE_ATTACH = "vf"
    CASE_CONSENT = "vk"
    CASE_DISCLOSE = "vq"
    # -- the data lifecycle: the student's own view and requests
    MY_DATA_COPY = "yc"
    MY_DATA_DELETE_ASK = "yd"
    MY_DATA_DELETE_CONFIRMED = "yy"
    # -- staff protection: the coordinator resets someone's second factor (from /staff)
    SECOND_FACTOR_RESET_ASK = "2a"
    SECOND_FACTOR_RESET = "2y"
    # -- the policy: publishing a version, the signature register
    POLICY_USE_VERSION = "gv"
    POLICY_PUBLISH_CONFIRMED = "gp"
    POLICY_PUBLISH_DISCARD = "gx"
    POLICY_SIGNATURES_PAGE = "gs"


class InvalidCallback(ValueError):
    """Button data that this bot could not have produced."""


@dataclass(frozen=True)
class Press:
    action: Action
    field: SheetField | None = None
    index: int | None = None
    scope: ConsentScope | None = None
    granted: bool | None = None
    staff_id: str | None = None
    mode: str | None = None
    day: date | None = None
    minute: int | None = None
    appointment_id: str | None = None
    window_id: str | None = None
    ref: str | None = None
    reason: str | None = None
    # Case records. A press's arguments are encoded in the order of these fields, so a shape
    # in _SHAPES lists them in this order too.
    case: str | None = None
    part: CasePart | None = None
    page: int | None = None
    note_kind: NoteKind | None = None
    glass: BreakGlassReason | None = None
    recipient: RecipientKind | None = None
    basis: DisclosureBasis | None = None
    duty: LegalDuty | None = None
    document_id: str | None = None
    request_id: str | None = None


# Case references in button data: six characters that cannot be misread (cases.py's alphabet).
_CASE_REFERENCE = re.compile(r"^[2-9A-HJKMNP-Z]{6}$")
# Disclosure bases in button data (the values themselves are long).
BASIS_CODES: dict[DisclosureBasis, str] = {
    DisclosureBasis.CONSENT: "c",
    DisclosureBasis.WELFARE: "w",
    DisclosureBasis.LEGAL_OBLIGATION: "l",
}
_BASES_BY_CODE = {code: basis for basis, code in BASIS_CODES.items()}


def encode(press: Press) -> str:
    parts: list[str] = [press.action.value]
    if press.field is not None:
        parts.append(press.field.value)
    if press.scope is not None:
        parts.append(press.scope.value)
    if press.index is not None:
        parts.append(str(press.index))
    if press.granted is not None:
        parts.append("1" if press.granted else "0")
    if press.mode is not None:
        parts.append(press.mode)
    if press.day is not None:
        parts.append(press.day.strftime("%Y%m%d"))
    if press.staff_id is not None:
        parts.append(press.staff_id)
    if press.minute is not None:
        parts.append(str(press.minute))
    if press.appointment_id is not None:
        parts.append(press.appointment_id)
    if press.window_id is not None:
        parts.append(press.window_id)
    if press.ref is not None:
        parts.append(press.ref)
    if press.reason is not None:
        parts.append(press.reason)
    if press.case is not None:
        parts.append(press.case)
    if press.part is not None:
        parts.append(press.part.value)
    if press.page is not None:
        parts.append(str(press.page))
    if press.note_kind is not None:
        parts.append(press.note_kind.value)
    if press.glass is not None:
        parts.append(press.glass.value)
    if press.recipient is not None:
        parts.append(press.recipient.value)
    if press.basis is not None:
        parts.append(BASIS_CODES[press.basis])
    if press.duty is not None:
        parts.append(press.duty.value)
    if press.document_id is not None:
        parts.append(press.document_id)
    if press.request_id is not None:
        parts.append(press.request_id)
    data = ":".join(parts)
    if len(data.encode()) > MAX_BYTES:
        raise ValueError("callback data over 64 bytes")
    return data


# The argument shape each action takes, checked before anything else is looked at.
_SHAPES: dict[Action, tuple[str, ...]] = {
    Action.CHOOSE: ("field", "index"),
    Action.SKIP: ("field",),
    Action.EDIT: ("field",),
    Action.SHEET_CONSENT: ("scope", "granted"),
    Action.CONSENT_OPEN: ("scope",),
    Action.CONSENT_SET: ("scope", "granted"),
    Action.DEACTIVATE_ASK: ("staff_id",),
    Action.DEACTIVATE_CONFIRMED: ("staff_id",),
    Action.BOOK_MODE: ("mode",),
    Action.BOOK_DAY: ("mode", "day"),
    Action.BOOK_TIME: ("mode", "staff_id", "minute"),
    Action.BOOK_CONFIRM: ("staff_id", "minute"),
    Action.APPOINTMENT_CANCEL_ASK: ("appointment_id",),
    Action.APPOINTMENT_CANCEL_CONFIRMED: ("appointment_id",),
    Action.WINDOW_REMOVE: ("window_id",),
    Action.MOVE_START: ("ref",),
    Action.CALENDAR: ("appointment_id",),
    Action.MARK_ATTENDED: ("appointment_id",),
    Action.MARK_NO_SHOW: ("appointment_id",),
    Action.SERVICE_CANCEL_ASK: ("appointment_id",),
    Action.SERVICE_CANCEL: ("appointment_id", "reason"),
    Action.CANCEL_TIME_OFF_BOOKINGS: ("window_id",),
    Action.MANAGE_SET: ("staff_id",),
    Action.REASSIGN_PICK: ("ref",),
    Action.REASSIGN_TO: ("staff_id", "ref"),
    Action.REASSIGN_CONFIRMED: ("staff_id", "ref"),
    # -- case records: reading a case, break-glass, close, reopen, assign
    Action.CASE_PART: ("case", "part", "page"),
    Action.CASE_DOCUMENT: ("case", "document_id"),
    Action.CASE_GLASS: ("case", "glass"),
    Action.CASE_CLOSE_ASK: ("case",),
    Action.CASE_CLOSE: ("index", "case"),
    Action.CASE_REOPEN: ("case",),
    Action.CASE_ASSIGN_ASK: ("case",),
    Action.CASE_ASSIGN: ("staff_id", "case"),
    # -- case records: notes and documents
    Action.NOTE_DONE: ("case",),
    Action.NOTE_KIND: ("case", "note_kind"),
    Action.NOTE_SAVE: ("case",),
    Action.NOTE_DISCARD: ("case",),
    # -- case records: consent recorded by staff, consent requests, disclosures
    Action.CONSENT_FOR_RECORD: ("case",),
    Action.CONSENT_FOR_ASK: ("case",),
    Action.CONSENT_FOR_SCOPE: ("scope", "case"),
    Action.CONSENT_FOR_DECISION: ("granted", "case"),
    Action.CONSENT_FOR_EMAIL: ("case",),
    Action.CONSENT_FOR_VERBAL: ("case",),
    Action.CONSENT_FOR_NO_LIMIT: ("case",),
    Action.CONSENT_FOR_SAVE: ("case",),
    Action.CONSENT_REQUEST_ANSWER: ("granted", "request_id"),
    Action.DISCLOSE_RECIPIENT: ("case", "recipient"),
    Action.DISCLOSE_BASIS: ("case", "basis"),
    Action.DISCLOSE_DUTY: ("case", "duty"),
    Action.DISCLOSE_WITHIN_LIMIT: ("case",),
    Action.DISCLOSE_SAVE: ("case",),
    Action.DISCLOSE_ASK: ("scope", "case"),
    # -- case records: acting from the case summary (the same journeys as the commands)
    Action.CASE_NOTE: ("case",),
    Action.CASE_ATTACH: ("case",),
    Action.CASE_CONSENT: ("case",),
    Action.CASE_DISCLOSE: ("case",),
    # -- staff protection
    Action.SECOND_FACTOR_RESET_ASK: ("staff_id",),
    Action.SECOND_FACTOR_RESET: ("staff_id",),
    # -- the policy: the signature register, page by page
    Action.POLICY_SIGNATURES_PAGE: ("page",),
}
# Booking steps taken to move an existing appointment carry its short reference last; a
# policy acknowledgement carries the short digest of the version it was shown with (buttons
# sent before versions were published carry none).
_MAY_CARRY_REF = frozenset(
    {Action.BOOK_MODE, Action.BOOK_DAY, Action.BOOK_TIME, Action.BOOK_CONFIRM, Action.POLICY_ACK}
)
REF_LENGTH = 8


def decode(data: str | None) -> Press:
    if not data or len(data.encode()) > MAX_BYTES:
        raise InvalidCallback("missing or oversized")
    head, *args = data.split(":")
    try:
        action = Action(head)
    except ValueError:
        raise InvalidCallback("unknown action") from None
    shape = _SHAPES.get(action, ())
    if action in _MAY_CARRY_REF and len(args) == len(shape) + 1:
        shape = (*shape, "ref")
    if len(args) != len(shape):
        raise InvalidCallback("wrong number of arguments")
    values: dict[str, object] = {}
    try:
        for name, raw in zip(shape, args, strict=True):
            values[name] = _parse(name, raw)
    except ValueError:
        raise InvalidCallback(f"bad {name}") from None
    return Press(action, **values)  # type: ignore[arg-type]


def _parse(name: str, raw: str) -> object:
    if name == "field":
        return SheetField(raw)
    if name == "scope":
        return ConsentScope(raw)
    if name == "index":
        if not raw.isdigit() or len(raw) > 3:
            raise ValueError
        return int(raw)
    if name == "granted":
        if raw not in ("0", "1"):
            raise ValueError
        return raw == "1"
    if name == "mode":
        if raw != ANY_MODE:
            AppointmentMode(raw)
        return raw
    if name == "day":
        return datetime.strptime(raw, "%Y%m%d").date()  # noqa: DTZ007 - a date, no time
    if name == "minute":
        if not raw.isdigit() or len(raw) > 9:
            raise ValueError
        return int(raw)
    if name == "reason":
        return ServiceCancelReason(raw).value
    if name == "ref":
        if not re.fullmatch(r"[0-9a-f]{8}", raw):
            raise ValueError
        return raw
    if name == "case":
        if not _CASE_REFERENCE.match(raw):
            raise ValueError
        return raw
    if name == "part":
        return CasePart(raw)
    if name == "page":
        if not raw.isdigit() or len(raw) > 4:
            raise ValueError
        return int(raw)
    if name == "note_kind":
        return NoteKind(raw)
    if name == "glass":
        return BreakGlassReason(raw)
    if name == "recipient":
        return RecipientKind(raw)
    if name == "basis":
        return _BASES_BY_CODE[raw]
    if name == "duty":
        return LegalDuty(raw)
    if name in ("staff_id", "appointment_id", "window_id", "document_id", "request_id"):
        if not _ROW_ID.match(raw):
            raise ValueError
        return raw
    raise ValueError
