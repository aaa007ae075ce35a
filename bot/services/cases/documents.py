"""Documents for a case ("scanned in to the secure drive"): letters, evidence, forms.

What a file is comes from its content (magic bytes, and for office files the structure of
the container), never from its name or the type the sender's app claims, so a program named
`letter.pdf` is refused. Accepted files are sealed whole, bound to the case's document row,
with their name, type and SHA-256 sealed beside them; only the size is in the clear.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import zipfile
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.services import audit
from bot.services.cases import case_access
from bot.services.cases.cases import current_case
from bot.services.deps import Deps
from bot.services.errors import DomainError, StaleAction
from bot.services.intake import students
from bot.services.staff import staff_drafts
from bot.vocabulary import AuditAction, DraftPurpose
from storage import data_keys
from storage.models import Case, CaseDocument
from storage.uow import UnitOfWork

# What a bot can download through the Bot API.
MAX_BYTES = 20 * 1024 * 1024
NAME_MAX = 120


class MediaType(StrEnum):
    PDF = "application/pdf"
    JPEG = "image/jpeg"
    PNG = "image/png"
    HEIC = "image/heic"
    HEIF = "image/heif"
    WEBP = "image/webp"
    GIF = "image/gif"
    DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
    ODT = "application/vnd.oasis.opendocument.text"
    ODS = "application/vnd.oasis.opendocument.spreadsheet"
    DOC = "application/msword"
    XLS = "application/vnd.ms-excel"
    RTF = "application/rtf"


EXTENSIONS: dict[MediaType, str] = {
    MediaType.PDF: "pdf",
    MediaType.JPEG: "jpg",
    MediaType.PNG: "png",
    MediaType.HEIC: "heic",
    MediaType.HEIF: "heif",
    MediaType.WEBP: "webp",
    MediaType.GIF: "gif",
    MediaType.DOCX: "docx",
    MediaType.XLSX: "xlsx",
    MediaType.PPTX: "pptx",
    MediaType.ODT: "odt",
    MediaType.ODS: "ods",
    MediaType.DOC: "doc",
    MediaType.XLS: "xls",
    MediaType.RTF: "rtf",
}


class Refusal(StrEnum):
    TOO_LARGE = "too_large"
    EMPTY = "empty"
    NOT_ACCEPTED = "not_accepted"
    PROGRAM = "program"


class DocumentRefused(DomainError):
    """The file is not one the service keeps (its type, by content, or its size)."""

    def __init__(self, reason: Refusal) -> None:
        super().__init__(reason.value)
        self.reason = reason


class NoCaseYet(DomainError):
    """A student sent a document before submitting an information sheet."""


# ---------------------------------------------------------------- what a file is


def check_size(size: int | None) -> None:
    """Refuse a file Telegram says is too big, before anything is downloaded."""
    if size is not None and size > MAX_BYTES:
        raise DocumentRefused(Refusal.TOO_LARGE)


_PROGRAMS = (b"MZ", b"\x7fELF", b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe")
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"})
_HEIF_BRANDS = frozenset({b"mif1", b"msf1"})
_OOXML_MAIN = {
    "word/document.xml": (
        MediaType.DOCX,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    ),
    "xl/workbook.xml": (
        MediaType.XLSX,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    ),
    "ppt/presentation.xml": (
        MediaType.PPTX,
        "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
    ),
}
_ODF = {MediaType.ODT.value: MediaType.ODT, MediaType.ODS.value: MediaType.ODS}
_CONTENT_TYPES_MAX = 1 << 20
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def identify(data: bytes) -> MediaType:
    """The type of a file, by its content alone; DocumentRefused if it is not accepted."""
    if len(data) > MAX_BYTES:
        raise DocumentRefused(Refusal.TOO_LARGE)
    if not data:
        raise DocumentRefused(Refusal.EMPTY)
    if data.startswith(_PROGRAMS):
        raise DocumentRefused(Refusal.PROGRAM)
    # Plain text is not accepted: HTML, SVG and scripts are plain text too.
    found = _by_magic(data) or _office(data)
    if found is None:
        raise DocumentRefused(Refusal.NOT_ACCEPTED)
    return found


def _by_magic(data: bytes) -> MediaType | None:
    if data.startswith(b"%PDF-"):
        return MediaType.PDF
    if data.startswith(b"\xff\xd8\xff"):
        return MediaType.JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return MediaType.PNG
    if data.startswith((b"GIF87a", b"GIF89a")):
        return MediaType.GIF
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return MediaType.WEBP
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in _HEIC_BRANDS:
            return MediaType.HEIC
        if brand in _HEIF_BRANDS:
            return MediaType.HEIF
    if data.startswith(b"{\\rtf"):
        return MediaType.RTF
    return None


def _office(data: bytes) -> MediaType | None:
    if data.startswith(b"PK\x03\x04"):
        return _zipped_office(data)
    if data.startswith(_OLE_MAGIC):
        return _legacy_office(data)
    return None


def _zipped_office(data: bytes) -> MediaType | None:
    """DOCX, XLSX, PPTX (their main part's content type, so macro-enabled files are not
    taken), ODT and ODS (their `mimetype` entry). Only small entries are read."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                with archive.open("mimetype") as entry:
                    declared = entry.read(100).decode("ascii", "replace").strip()
                return _ODF.get(declared)
            if "[Content_Types].xml" not in names:
                return None
            with archive.open("[Content_Types].xml") as entry:
                types = entry.read(_CONTENT_TYPES_MAX).decode("utf-8", "replace")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, RuntimeError, ValueError):
        return None  # damaged, encrypted, or not a zip after all
    for part, (kind, content_type) in _OOXML_MAIN.items():
        if part in names and f'ContentType="{content_type}"' in types:
            return kind
    return None


def _legacy_office(data: bytes) -> MediaType | None:
    """A Word 97-2003 or Excel 97-2003 file: an OLE2 compound file with their main stream
    (an installer or any other OLE2 file has neither)."""
    streams = _ole_streams(data)
    if "WordDocument" in streams:
        return MediaType.DOC
    if streams & {"Workbook", "Book"}:
        return MediaType.XLS
    return None


_END_OF_CHAIN = 0xFFFFFFFA  # sector numbers from here up are markers, not sectors


def _ole_streams(data: bytes) -> set[str]:
    """The names in an OLE2 compound file's directory (empty if it cannot be read)."""
    if len(data) < 512:
        return set()
    shift = struct.unpack_from("<H", data, 30)[0]
    if shift not in (9, 12):
        return set()
    size = 1 << shift

    def sector(n: int) -> bytes:
        return data[(n + 1) * size : (n + 2) * size]

    fat_sectors = [
        n for n in struct.unpack_from("<109I", data, 76) if n < _END_OF_CHAIN and sector(n)
    ]
    raw_fat = b"".join(sector(n) for n in fat_sectors)
    fat = struct.unpack(f"<{len(raw_fat) // 4}I", raw_fat[: len(raw_fat) // 4 * 4])
    names: set[str] = set()
    current = struct.unpack_from("<I", data, 48)[0]
    for _ in range(min(len(fat), 4096)):  # a loop in a forged chain ends here
        if current >= _END_OF_CHAIN or current >= len(fat):
            break
        block = sector(current)
        for offset in range(0, len(block) - 127, 128):
            length = struct.unpack_from("<H", block, offset + 64)[0]
            if 2 <= length <= 64:
                raw = block[offset : offset + length - 2]
                names.add(raw.decode("utf-16-le", "replace"))
        current = fat[current]
    return names


_UNSAFE_IN_NAMES = re.compile(r"[\x00-\x1f\x7f/\\]")


def clean_name(name: str | None, kind: MediaType, now: datetime) -> str:
    """The name to keep: the sender's file name tidied and shortened, or one made up, always
    with the extension of the type found in its content (a PDF sent as `x.exe` is `x.pdf`),
    so a file sent back opens as what it is."""
    tidy = " ".join(_UNSAFE_IN_NAMES.sub(" ", name or "").split())
    stem, dot, given = tidy.rpartition(".")
    if not (dot and given.isalnum() and len(given) <= 8):
        stem = tidy  # no extension to replace
    stem = stem.strip(" .") or f"document-{now:%Y%m%d-%H%M}"
    extension = "." + EXTENSIONS[kind]
    return stem[: NAME_MAX - len(extension)].rstrip(" .") + extension


# ---------------------------------------------------------------- keeping it


@dataclass(frozen=True)
class StoredDocument:
    reference: str
    name: str
    media_type: MediaType
    size: int
    sha256: str


async def student_case(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> tuple[str, Case]:
    """The student's id and the case their documents go to (their current one); NoCaseYet
    before they have submitted a sheet."""
    student = await students.find_student(uow, deps, telegram_user_id)
    case = await current_case(uow, student.id) if student is not None else None
    if student is None or case is None:
        raise NoCaseYet
    return student.id, case


async def add_from_student(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, data: bytes, name: str | None
) -> StoredDocument:
    """Keep a document a student sent for their case (the caller commits)."""
    student_id, case = await student_case(uow, deps, telegram_user_id)
    return await _keep(uow, deps, case, data, name, audit.student_actor(student_id))


async def begin_attach(uow: UnitOfWork, deps: Deps, telegram_user_id: int, reference: str) -> str:
    """An adviser is about to send a document for a case; its reference (the caller commits).
    The next document they send goes to it."""
    me, case = await case_access.open_case(uow, deps, telegram_user_id, reference, command="attach")
    await staff_drafts.begin(uow, deps, me.id, DraftPurpose.ATTACH, case_id=case.id)
    return case.reference


async def add_from_staff(
    uow: UnitOfWork,
    deps: Deps,
    telegram_user_id: int,
    case_id: str | None,
    data: bytes,
    name: str | None,
) -> StoredDocument:
    """Keep a document an adviser attached to a case they may open, which ends their /attach
    (the caller commits)."""
    case = await uow.session.get(Case, case_id) if case_id is not None else None
    if case is None:
        raise StaleAction  # the case went (a purge) meanwhile
    me, case = await case_access.open_case(
        uow, deps, telegram_user_id, case.reference, command="attach"
    )
    stored = await _keep(uow, deps, case, data, name, audit.staff_actor(me.id))
    await staff_drafts.finish(uow, me.id)
    return stored


async def _keep(
    uow: UnitOfWork, deps: Deps, case: Case, data: bytes, name: str | None, added_by: str
) -> StoredDocument:
    kind = identify(data)
    now = deps.clock.now()
    name = clean_name(name, kind, now)
    digest = hashlib.sha256(data).hexdigest()
    document = CaseDocument(case_id=case.id, size=len(data), added_by=added_by, created_at=now)
    await data_keys.bind(uow.session, document)
    document.meta_enc = deps.cipher.seal_json(
        document, "meta_enc", {"name": name, "media_type": kind.value, "sha256": digest}
    )
    document.content_enc = deps.cipher.seal_bytes(document, "content_enc", data)
    uow.session.add(document)
    case.last_activity_at = now
    await audit.record(
        uow, deps, AuditAction.DOCUMENT_ADDED, added_by, case.id, document=document.id
    )
    return StoredDocument(case.reference, name, kind, len(data), digest)
