"""Documents for a case through the bot, on both engines: checked by content and size, kept
sealed with their SHA-256, sent by a student for their case or attached by an adviser."""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile

import pytest
from sqlalchemy import select

from bot import case_texts, texts
from bot.services.cases import documents
from bot.services.cases.documents import MAX_BYTES, DocumentRefused, MediaType, Refusal, clean_name
from bot.vocabulary import AuditAction, Role
from storage.audit import entries as audit_entries
from storage.models import CaseDocument
from tests.conftest import START, Database
from tests.handlers.conftest import COORDINATOR, STUDENT, Bot, add_staff
from tests.handlers.test_case_notes import a_case
from tests.integration.test_storage_protection import _raw_contents


def a_pdf(text: str = "Appeal letter") -> bytes:
    """A small, well-formed one-page PDF."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R "
        b"/Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> >>",
    ]
    stream = f"BT /F1 12 Tf 20 100 Td ({text}) Tj ET".encode()
    objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def a_zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def an_ooxml(part: str, content_type: str) -> bytes:
    types = (
        '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        f'content-types"><Override PartName="/{part}" ContentType="{content_type}"/></Types>'
    )
    return a_zip({"[Content_Types].xml": types.encode(), part: b"<xml/>"})


def a_docx() -> bytes:
    return an_ooxml(
        "word/document.xml",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    )


def an_ole2(*streams: str) -> bytes:
    """A minimal OLE2 compound file whose directory names `streams` (after the root)."""
    header = bytearray(512)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 24, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<I", header, 44, 1)  # one FAT sector
    struct.pack_into("<I", header, 48, 1)  # the directory starts at sector 1
    struct.pack_into("<I", header, 56, 4096)
    struct.pack_into("<II", header, 60, 0xFFFFFFFE, 0)
    struct.pack_into("<II", header, 68, 0xFFFFFFFE, 0)
    struct.pack_into("<109I", header, 76, 0, *([0xFFFFFFFF] * 108))
    fat = bytearray(b"\xff" * 512)
    struct.pack_into("<II", fat, 0, 0xFFFFFFFD, 0xFFFFFFFE)
    directory = bytearray(512)
    for i, (name, kind) in enumerate([("Root Entry", 5), *((s, 2) for s in streams)][:4]):
        raw = name.encode("utf-16-le") + b"\x00\x00"
        entry = i * 128
        directory[entry : entry + len(raw)] = raw
        struct.pack_into("<HB", directory, entry + 64, len(raw), kind)
    return bytes(header + fat + directory)


ACCEPTED = {
    "pdf": (a_pdf(), MediaType.PDF),
    "jpeg": (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 40, MediaType.JPEG),
    "png": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 40, MediaType.PNG),
    "gif": (b"GIF89a\x01\x00\x01\x00" + b"\x00" * 20, MediaType.GIF),
    "webp": (b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 30, MediaType.WEBP),
    "heic": (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", MediaType.HEIC),
    "heif": (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1", MediaType.HEIF),
    "docx": (a_docx(), MediaType.DOCX),
    "xlsx": (
        an_ooxml(
            "xl/workbook.xml",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        ),
        MediaType.XLSX,
    ),
    "pptx": (
        an_ooxml(
            "ppt/presentation.xml",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
        ),
        MediaType.PPTX,
    ),
    "odt": (
        a_zip({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<x/>"}),
        MediaType.ODT,
    ),
    "ods": (
        a_zip({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet"}),
        MediaType.ODS,
    ),
    "doc": (an_ole2("WordDocument", "1Table"), MediaType.DOC),
    "xls": (an_ole2("Workbook"), MediaType.XLS),
    "rtf": (b"{\\rtf1\\ansi Dear Sir}", MediaType.RTF),
}

REFUSED = {
    "windows program": (b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 60, Refusal.PROGRAM),
    "program that reads as text": (b"MZ this is not text at all", Refusal.PROGRAM),
    "linux program": (b"\x7fELF\x02\x01\x01" + b"\x00" * 60, Refusal.PROGRAM),
    "empty": (b"", Refusal.EMPTY),
    "zip of anything": (a_zip({"payload.exe": b"MZ"}), Refusal.NOT_ACCEPTED),
    "macro-enabled word": (
        an_ooxml("word/document.xml", "application/vnd.ms-word.document.macroEnabled.main+xml"),
        Refusal.NOT_ACCEPTED,
    ),
    "other OLE2 (an installer)": (an_ole2("SummaryInformation"), Refusal.NOT_ACCEPTED),
    "binary": (bytes(range(256)), Refusal.NOT_ACCEPTED),
    "text with NULs": (b"abc\x00def", Refusal.NOT_ACCEPTED),
    "html pretending": (b"\x00<html>", Refusal.NOT_ACCEPTED),
    # Plain text is refused: a web page, an SVG and a script are plain text too.
    "plain text": ("Notes from the meeting: café, 3 March\n".encode(), Refusal.NOT_ACCEPTED),
    "a web page": (b"<html><script>alert(1)</script></html>", Refusal.NOT_ACCEPTED),
    "an svg": (b'<svg xmlns="http://www.w3.org/2000/svg" onload="x()"/>', Refusal.NOT_ACCEPTED),
    "a shell script": (b"#!/bin/sh\nrm -rf ~\n", Refusal.NOT_ACCEPTED),
}


@pytest.mark.parametrize("kind", list(ACCEPTED))
def test_accepted_types_are_recognised_by_their_content(kind: str) -> None:
    data, expected = ACCEPTED[kind]
    assert documents.identify(data) is expected


@pytest.mark.parametrize("kind", list(REFUSED))
def test_anything_else_is_refused_with_its_reason(kind: str) -> None:
    data, reason = REFUSED[kind]
    with pytest.raises(DocumentRefused) as refused:
        documents.identify(data)
    assert refused.value.reason is reason


def test_sizes_are_checked_before_and_after_download() -> None:
    documents.check_size(MAX_BYTES)
    documents.check_size(None)
    with pytest.raises(DocumentRefused):
        documents.check_size(MAX_BYTES + 1)
    with pytest.raises(DocumentRefused):
        documents.identify(b"%PDF-" + b"\x00" * MAX_BYTES)


async def stored_documents(bot: Bot) -> list[CaseDocument]:
    async with bot.deps.uow() as uow:
        return list((await uow.session.execute(select(CaseDocument))).scalars())


async def test_a_student_sends_a_pdf_and_it_is_kept_encrypted_with_its_sha256(bot: Bot) -> None:
    case = await a_case(bot)
    student = bot.chat(STUDENT)
    pdf = a_pdf()
    await student.deliver(bot.factory.document(STUDENT, content=pdf, file_name="appeal letter.pdf"))
    assert student.last_text == (
        f"Thank you. appeal letter.pdf (PDF, {case_texts.file_size(len(pdf))}) is now in your "
        "case file, kept encrypted; your adviser can see it."
    )
    (row,) = await stored_documents(bot)
    cipher = bot.deps.cipher
    assert row.case_id == case.id and row.size == len(pdf)
    assert row.added_by == f"student:{case.student_id}"
    assert cipher.open_json(row, "meta_enc", row.meta_enc) == {
        "name": "appeal letter.pdf",
        "media_type": "application/pdf",
        "sha256": hashlib.sha256(pdf).hexdigest(),
    }
    assert cipher.open_bytes(row, "content_enc", row.content_enc) == pdf
    assert pdf not in row.content_enc and b"%PDF" not in row.content_enc
    async with bot.deps.uow() as uow:
        found = [
            e
            async for e in audit_entries(
                uow.session, cipher, action=AuditAction.DOCUMENT_ADDED.value
            )
        ]
    (entry,) = found
    assert entry.subject == case.id and entry.detail == {"document": row.id}


async def test_a_photo_from_a_student_is_kept_with_a_name_of_its_own(bot: Bot) -> None:
    await a_case(bot)
    student = bot.chat(STUDENT)
    jpeg, _ = ACCEPTED["jpeg"]
    await student.deliver(bot.factory.photo(STUDENT, content=jpeg))
    assert "(JPEG image, " in student.last_text
    (row,) = await stored_documents(bot)
    meta = bot.deps.cipher.open_json(row, "meta_enc", row.meta_enc)
    assert meta["media_type"] == "image/jpeg" and meta["name"].endswith(".jpg")


async def test_a_program_named_pdf_is_refused_by_its_content(bot: Bot) -> None:
    await a_case(bot)
    student = bot.chat(STUDENT)
    program = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 200
    await student.deliver(
        bot.factory.document(
            STUDENT, content=program, file_name="letter.pdf", mime_type="application/pdf"
        )
    )
    assert student.last_text == case_texts.DOCUMENT_PROGRAM
    assert await stored_documents(bot) == []


async def test_an_unknown_type_is_refused_with_the_accepted_types(bot: Bot) -> None:
    await a_case(bot)
    student = bot.chat(STUDENT)
    await student.deliver(
        bot.factory.document(STUDENT, content=bytes(range(256)) * 4, file_name="scan.jpg")
    )
    assert student.last_text == case_texts.DOCUMENT_NOT_ACCEPTED
    assert "PDF, images (JPEG, PNG, HEIC, WebP, GIF)" in student.last_text
    assert await stored_documents(bot) == []


async def test_an_oversized_file_is_refused_before_it_is_downloaded(bot: Bot) -> None:
    await a_case(bot)
    student = bot.chat(STUDENT)
    await student.deliver(
        bot.factory.document(
            STUDENT, content=a_pdf(), file_name="huge.pdf", file_size=MAX_BYTES + 1
        )
    )
    assert student.last_text == case_texts.DOCUMENT_TOO_LARGE
    assert bot.api.downloads == []
    assert not [c for c in bot.api.calls if c.method == "getFile"]
    assert await stored_documents(bot) == []


@pytest.mark.telegram_refuses("file is too big")
async def test_a_file_whose_size_is_unknown_is_refused_when_telegram_says_it_is_too_big(
    bot: Bot,
) -> None:
    await a_case(bot)
    student = bot.chat(STUDENT)
    payload = bot.factory.document(
        STUDENT, content=a_pdf(), file_name="huge.pdf", file_size=MAX_BYTES + 1
    )
    del payload["message"]["document"]["file_size"]  # some clients leave it out
    await student.deliver(payload)
    assert student.last_text == case_texts.DOCUMENT_TOO_LARGE
    assert bot.api.downloads == []


async def test_a_student_without_a_sheet_sending_a_document_gets_a_kind_reply(
    bot: Bot,
) -> None:
    student = bot.chat(STUDENT)
    replies = await student.deliver(
        bot.factory.document(STUDENT, content=a_pdf(), file_name="letter.pdf")
    )
    assert [r.plain_text for r in replies] == [texts.NOT_STARTED]
    assert bot.api.downloads == []
    assert await stored_documents(bot) == []


async def test_stickers_from_a_student_with_a_case_are_answered_as_before(bot: Bot) -> None:
    await a_case(bot)
    student = bot.chat(STUDENT)
    replies = await student.deliver(bot.factory.sticker(STUDENT))
    assert [r.plain_text for r in replies] == [texts.NOT_STARTED]  # as before documents
    assert bot.api.downloads == []
    assert await stored_documents(bot) == []


async def test_an_adviser_attaches_a_document_to_a_case(bot: Bot) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    case = await a_case(bot)
    coordinator = bot.chat(COORDINATOR)
    await coordinator.send("/attach")
    assert coordinator.last_text == case_texts.ATTACH_USAGE
    await coordinator.send(f"/attach {case.reference}")
    assert coordinator.last_text.startswith(f"Send the document for case {case.reference} now")
    await coordinator.send("here it comes")
    assert coordinator.last_text == case_texts.ATTACH_SEND_FILE
    docx = a_docx()
    await coordinator.deliver(
        bot.factory.document(COORDINATOR, content=docx, file_name="Registry reply.docx")
    )
    assert coordinator.last_text == (
        f"Stored for case {case.reference}: Registry reply.docx (Word document, "
        f"{case_texts.file_size(len(docx))})."
    )
    (row,) = await stored_documents(bot)
    assert row.added_by.startswith("staff:")
    assert bot.deps.cipher.open_bytes(row, "content_enc", row.content_enc) == docx
    # The /attach is over: another file is not taken without a new /attach.
    await coordinator.deliver(bot.factory.document(COORDINATOR, content=docx))
    assert coordinator.last_text == texts.STAFF_TEXT
    assert len(await stored_documents(bot)) == 1


async def test_a_refused_attachment_keeps_the_adviser_waiting_for_a_good_one(bot: Bot) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    case = await a_case(bot)
    coordinator = bot.chat(COORDINATOR)
    await coordinator.send(f"/attach {case.reference}")
    await coordinator.deliver(
        bot.factory.document(COORDINATOR, content=b"MZ\x90\x00", file_name="minutes.docx")
    )
    assert coordinator.last_text == case_texts.DOCUMENT_PROGRAM
    await coordinator.deliver(bot.factory.document(COORDINATOR, content=a_pdf()))
    assert coordinator.last_text.startswith(f"Stored for case {case.reference}: notes.pdf (PDF")


async def test_document_bytes_and_names_never_reach_the_database_in_plaintext(
    bot: Bot, database: Database
) -> None:
    await a_case(bot)
    student = bot.chat(STUDENT)
    content = b"{\\rtf1\\ansi " + b"Canarycontent Zqxjk: my tenancy letter\\par " * 20 + b"}"
    await student.deliver(
        bot.factory.document(STUDENT, content=content, file_name="Canaryname Plmkj.rtf")
    )
    assert student.last_text.startswith("Thank you. Canaryname Plmkj.rtf (")
    raw = await _raw_contents(database)
    assert len(raw) > 1000
    for needle in ("Canarycontent", "Zqxjk", "Canaryname", "Plmkj"):
        assert needle.encode() not in raw, f"{needle} in the {database.kind} database"
        assert needle.encode("utf-16-le") not in raw


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("payload.exe", "payload.pdf"),
        ("letter", "letter.pdf"),
        ("appeal.final.PDF", "appeal.final.pdf"),
        ("../../etc/passwd", "etc passwd.pdf"),
        ("", "document-20261124-1000.pdf"),
        (None, "document-20261124-1000.pdf"),
    ],
)
def test_a_kept_name_always_ends_with_the_type_found_in_the_content(
    sent: str | None, kept: str
) -> None:
    assert clean_name(sent, MediaType.PDF, START) == kept
