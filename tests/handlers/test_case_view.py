"""/case and /find: reading a case part by part, the break-glass, close, reopen and assign."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot import case_texts, texts
from bot.callbacks import Action, Press, encode
from bot.message_parts import TEXT_LIMIT, utf16_length
from bot.services import audit
from bot.services.staff import staff
from bot.transport import LocalChat, LocalUser, SentMessage
from bot.transport.local import LocalBotApi, bad_request
from bot.vocabulary import (
    AuditAction,
    CasePart,
    CaseStatus,
    DisclosureBasis,
    NoteKind,
    RecipientKind,
    Role,
)
from storage import audit as audit_log
from storage import data_keys
from storage.models import (
    DISCLOSURE_BLOCK,
    Case,
    CaseAccessGrant,
    CaseDocument,
    CaseNote,
    Disclosure,
    Student,
)
from tests.handlers.conftest import (
    ADVISER,
    COORDINATOR,
    STUDENT,
    Bot,
    add_staff,
    case_reference,
    submit_sheet,
)
from tests.handlers.test_booking_journey import (
    adviser_with_tuesdays,
    book_first_in_person,
    deliver,
)

SECOND = LocalUser(2002, "Blair", "Second")
STUDENT_WORDS = ("Sam", "Jones", "210012345", "placement", "Nursing")
PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n"


# ---------------------------------------------------------------- the case, as staff set it up
async def assigned_case(bot: Bot, student: LocalChat) -> tuple[Case, LocalChat]:
    """Alex holds the student's first booking, so the case is Alex's."""
    await adviser_with_tuesdays(bot)
    await submit_sheet(student)
    await book_first_in_person(student)
    await deliver(bot)
    return await the_case(bot), bot.chat(ADVISER)


async def the_case(bot: Bot) -> Case:
    async with bot.deps.uow() as uow:
        student_id = await uow.session.scalar(
            select(Student.id).where(Student.telegram_index == bot.deps.telegram_key(STUDENT.id))
        )
    assert student_id is not None
    reference = await case_reference(bot, student_id)
    async with bot.deps.uow() as uow:
        found = await uow.session.scalar(select(Case).where(Case.reference == reference))
    assert found is not None
    return found


async def staff_id(bot: Bot, user: LocalUser) -> str:
    async with bot.deps.uow() as uow:
        member = await staff.find_staff(uow, bot.deps, user.id)
    assert member is not None
    return member.id


async def add_note(
    bot: Bot,
    case: Case,
    author: str,
    body: str,
    *,
    corrects: str | None = None,
    reason: str | None = None,
) -> str:
    """A note as the notes journey writes it: sealed to its row."""
    deps = bot.deps
    async with deps.uow() as uow:
        position = len((await uow.session.execute(select(CaseNote.id))).all()) + 1
        note = CaseNote(
            case_id=case.id,
            position=position,
            kind=NoteKind.PHONE_CALL.value,
            author_staff_id=author,
            created_at=deps.clock.now(),
            corrects_note_id=corrects,
        )
        await data_keys.bind(uow.session, note)
        note.body_enc = deps.cipher.seal(note, "body_enc", body) or b""
        note.reason_enc = deps.cipher.seal(note, "reason_enc", reason)
        uow.session.add(note)
        await uow.commit()
    return note.id


async def add_document(bot: Bot, case: Case, name: str, data: bytes) -> str:
    deps = bot.deps
    async with deps.uow() as uow:
        document = CaseDocument(
            case_id=case.id,
            size=len(data),
            added_by=audit.student_actor(case.student_id),
            created_at=deps.clock.now(),
        )
        await data_keys.bind(uow.session, document)
        document.meta_enc = deps.cipher.seal_json(
            document,
            "meta_enc",
            {
                "name": name,
                "media_type": "application/pdf",
                "sha256": hashlib.sha256(data).hexdigest(),
            },
        )
        document.content_enc = deps.cipher.seal_bytes(document, "content_enc", data)
        uow.session.add(document)
        await uow.commit()
    return document.id


async def add_disclosure(
    bot: Bot, case: Case, author: str, basis: DisclosureBasis, recipient: str, content: str
) -> None:
    deps = bot.deps
    kind = RecipientKind.HEALTH_CENTRE if basis is DisclosureBasis.WELFARE else RecipientKind.SCHOOL
    async with deps.uow() as uow:
        disclosure = Disclosure(case_id=case.id, staff_id=author, made_at=deps.clock.now())
        await data_keys.bind(uow.session, disclosure)
        disclosure.details_enc = deps.cipher.seal_json(
            disclosure,
            "details_enc",
            {
                "basis": basis.value,
                "recipient_kind": kind.value,
                "recipient": recipient,
                "content": content,
                "statute": None,
                "statute_text": None,
                "scope": "school" if basis is DisclosureBasis.CONSENT else None,
                "limitation": None,
            },
            pad_to=DISCLOSURE_BLOCK,
        )
        uow.session.add(disclosure)
        await uow.commit()


async def entries(bot: Bot, action: AuditAction) -> list[audit_log.Entry]:
    async with bot.deps.uow() as uow:
        return [
            e async for e in audit_log.entries(uow.session, bot.deps.cipher, action=action.value)
        ]


async def reads(bot: Bot) -> list[tuple[str, str | None, Any]]:
    return [
        (e.actor, e.subject, e.detail.get("part"))
        for e in await entries(bot, AuditAction.CASE_READ)
    ]


def texts_to(bot: Bot, user: LocalUser) -> list[str]:
    return [m.plain_text for m in bot.api.messages(user.id)]


async def press_forged(chat: LocalChat, press: Press) -> list[SentMessage]:
    """Button data the bot never sent this person, on their latest message."""
    await chat.send("/help")
    return await chat.deliver(chat.factory.callback(chat.user, chat.last, encode(press)))


# ---------------------------------------------------------------- reading
async def test_the_assigned_adviser_reads_every_part_and_each_read_is_audited_with_its_part(
    bot: Bot, student: LocalChat
) -> None:
    case, adviser = await assigned_case(bot, student)
    alex = await staff_id(bot, ADVISER)
    await add_staff(bot, SECOND, Role.ADVISER)
    blair = await staff_id(bot, SECOND)
    first = await add_note(bot, case, alex, "Called the school office.")
    await add_note(
        bot, case, alex, "Called the placement office.", corrects=first, reason="Wrong office"
    )
    await add_document(bot, case, "letter.pdf", PDF)
    await add_disclosure(
        bot,
        case,
        alex,
        DisclosureBasis.CONSENT,
        "School of Health",
        "Asked for the attendance record",
    )
    await add_disclosure(
        bot, case, blair, DisclosureBasis.WELFARE, "Dr Secret", "Worried about sleep"
    )

    await adviser.send(f"/case {case.reference.lower()}")
    summary = adviser.last_text
    assert f"Case {case.reference}" in summary and "Status: open" in summary
    assert "Adviser: Alex Adviser" in summary
    assert "Notes: 2 · Documents: 1 · Disclosures: 2" in summary
    assert adviser.last.protect_content

    seen: dict[CasePart, str] = {}
    for part in list(CasePart)[1:]:
        await adviser.press(case_texts.PART_LABELS[part])
        seen[part] = adviser.last_text
    assert "Sam Jones" in seen[CasePart.SHEET] and "210012345" in seen[CasePart.SHEET]
    assert "History, newest first" in seen[CasePart.CONSENT]
    assert "on the information sheet, by the student" in seen[CasePart.CONSENT]
    assert "with Alex Adviser · booked" in seen[CasePart.APPOINTMENTS]
    notes = seen[CasePart.NOTES]
    assert notes.index("Note 2") < notes.index("Note 1")  # newest first
    assert "Corrects note 1 (why: Wrong office)" in notes
    assert "Corrected by note 2 (why: Wrong office)" in notes
    assert (
        "letter.pdf" in seen[CasePart.DOCUMENTS]
        and "added by the student" in seen[CasePart.DOCUMENTS]
    )
    disclosures = seen[CasePart.DISCLOSURES]
    assert "School of Health" in disclosures and "attendance record" in disclosures
    assert "Blair Second · basis: welfare concern" in disclosures
    assert "Dr Secret" not in disclosures and "sleep" not in disclosures

    assert await reads(bot) == [(f"staff:{alex}", case.id, p.value) for p in CasePart]

    await adviser.press(case_texts.PART_LABELS[CasePart.DOCUMENTS])
    sent = await adviser.press(case_texts.btn_document("letter.pdf"))
    (document,) = [m for m in sent if m.document is not None]
    assert document.document is not None and document.document[1] == PDF
    assert document.protect_content
    (read,) = await entries(bot, AuditAction.DOCUMENT_READ)
    assert read.actor == f"staff:{alex}" and read.subject == case.id


async def test_the_author_of_a_welfare_disclosure_sees_whom_it_went_to_and_what_was_said(
    bot: Bot, student: LocalChat
) -> None:
    case, adviser = await assigned_case(bot, student)
    alex = await staff_id(bot, ADVISER)
    await add_disclosure(bot, case, alex, DisclosureBasis.WELFARE, "Dr Kind", "Worried about sleep")
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)

    await adviser.send(f"/case {case.reference}")
    await adviser.press("Disclosures")
    assert "Dr Kind" in adviser.last_text and "Worried about sleep" in adviser.last_text

    coordinator = bot.chat(COORDINATOR)
    await coordinator.send(f"/case {case.reference}")
    await coordinator.press("Disclosures")
    assert "Alex Adviser · basis: welfare concern" in coordinator.last_text
    assert "Dr Kind" not in coordinator.last_text and "sleep" not in coordinator.last_text


async def test_the_coordinator_reads_any_case_without_being_asked_why(
    bot: Bot, student: LocalChat
) -> None:
    case, _ = await assigned_case(bot, student)
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    coordinator = bot.chat(COORDINATOR)
    await coordinator.send(f"/case {case.reference}")
    assert "Status: open" in coordinator.last_text
    await coordinator.press("Sheet")
    assert "Sam Jones" in coordinator.last_text
    casey = await staff_id(bot, COORDINATOR)
    assert [r for r in await reads(bot) if r[0] == f"staff:{casey}"] == [
        (f"staff:{casey}", case.id, "summary"),
        (f"staff:{casey}", case.id, "sheet"),
    ]
    assert await entries(bot, AuditAction.CASE_BREAK_GLASS) == []


# ---------------------------------------------------------------- break-glass
async def test_another_adviser_gives_a_reason_gets_in_and_the_coordinator_is_told_only_that(
    bot: Bot, student: LocalChat
) -> None:
    case, _ = await assigned_case(bot, student)
    await add_staff(bot, SECOND, Role.ADVISER)
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    blair = await staff_id(bot, SECOND)
    other = bot.chat(SECOND)

    await other.send(f"/case {case.reference}")
    assert other.last_text == case_texts.break_glass_question(case.reference).replace(
        f"<b>{case.reference}</b>", case.reference
    )
    assert other.buttons() == list(case_texts.BREAK_GLASS_LABELS.values())
    assert await reads(bot) == []

    await other.press("An urgent deadline")
    assert "Status: open" in other.last_text and f"Case {case.reference}" in other.last_text
    await other.press("Sheet")
    assert "Sam Jones" in other.last_text
    assert await reads(bot) == [
        (f"staff:{blair}", case.id, "summary"),
        (f"staff:{blair}", case.id, "sheet"),
    ]
    (grant,) = await entries(bot, AuditAction.CASE_BREAK_GLASS)
    assert grant.actor == f"staff:{blair}" and grant.subject == case.id
    assert grant.detail["reason"] == "urgent"

    await deliver(bot)
    told = texts_to(bot, COORDINATOR)
    alert = [t for t in told if case.reference in t]
    assert len(alert) == 1 and "Blair Second" in alert[0] and "An urgent deadline" in alert[0]
    assert not any(word in t for t in told for word in STUDENT_WORDS)


async def test_another_adviser_may_type_the_reason_in_their_own_words(
    bot: Bot, student: LocalChat
) -> None:
    case, _ = await assigned_case(bot, student)
    await add_staff(bot, SECOND, Role.ADVISER)
    other = bot.chat(SECOND)
    await other.send(f"/case {case.reference}")
    await other.press("Other (type it)")
    assert other.last_text == case_texts.BREAK_GLASS_TYPE
    await other.send("   ")
    assert other.last_text == texts.STAFF_TEXT or other.last_text == case_texts.BREAK_GLASS_BAD
    await other.send("x" * 301)
    assert other.last_text == case_texts.BREAK_GLASS_BAD
    await other.send("The student walked in asking for Alex")
    assert "Status: open" in other.last_text
    (grant,) = await entries(bot, AuditAction.CASE_BREAK_GLASS)
    assert grant.detail["reason"] == "other"
    async with bot.deps.uow() as uow:
        row = await uow.session.scalar(select(CaseAccessGrant))
        assert row is not None
        kept = bot.deps.cipher.open_json(row, "reason_enc", row.reason_enc)
    assert kept == {"reason": "other", "other": "The student walked in asking for Alex"}


async def test_a_forged_part_press_for_a_case_not_theirs_shows_nothing_of_it(
    bot: Bot, student: LocalChat
) -> None:
    case, _ = await assigned_case(bot, student)
    alex = await staff_id(bot, ADVISER)
    await add_note(bot, case, alex, "Confidential detail")
    await add_staff(bot, SECOND, Role.ADVISER)
    other = bot.chat(SECOND)
    sent = await press_forged(
        other, Press(Action.CASE_PART, case=case.reference, part=CasePart.NOTES, page=0)
    )
    shown = " ".join(m.plain_text for m in sent)
    assert "Confidential detail" not in shown and "Sam" not in shown
    assert sent[-1].plain_text.startswith(f"Case {case.reference} is not assigned to you")
    assert await reads(bot) == []

    forged_assign = Press(
        Action.CASE_ASSIGN, staff_id=await staff_id(bot, SECOND), case=case.reference
    )
    sent = await press_forged(other, forged_assign)
    assert sent[-1].plain_text == texts.NOT_AUTHORISED
    assert (await the_case(bot)).assigned_staff_id == alex

    sent = await press_forged(
        bot.chat(ADVISER), Press(Action.CASE_DOCUMENT, case=case.reference, document_id="0" * 32)
    )
    assert sent[-1].plain_text == texts.EXPIRED_HELP
    assert await entries(bot, AuditAction.DOCUMENT_READ) == []


# ---------------------------------------------------------------- long notes
async def test_a_ten_thousand_character_note_with_markup_is_paged_within_limits_and_escaped(
    bot: Bot, student: LocalChat
) -> None:
    case, adviser = await assigned_case(bot, student)
    alex = await staff_id(bot, ADVISER)
    chunk = "<b>bold?</b> &amp; <i>x</i> 😀 "
    body = (chunk * (10_000 // len(chunk) + 1))[:10_000]
    await add_note(bot, case, alex, body)

    await adviser.send(f"/case {case.reference}")
    await adviser.press("Notes")
    pages = [adviser.last.plain_text]
    while case_texts.BTN_NEXT in adviser.buttons():
        await adviser.press(case_texts.BTN_NEXT)
        pages.append(adviser.last.plain_text)
        assert len(pages) < 10
    assert len(pages) >= 3
    assert all(utf16_length(page) <= TEXT_LIMIT for page in pages)
    # Every page is valid HTML (the local Telegram refuses anything else), and the note's
    # markup reaches the reader as text: all of it, in order, across the pages.
    bodies = []
    for number, page in enumerate(pages, start=1):
        lines = page.split("\n")
        assert lines[0] == f"CONFIDENTIAL · Case {case.reference} · Notes"
        assert lines[-1] == f"Page {number} of {len(pages)}"
        bodies.append("".join(lines[1:-1]))
    assert "".join(body.split()) in "".join("".join(bodies).split())
    notes_read = [r for r in await reads(bot) if r[2] == "notes"]
    assert notes_read == [(f"staff:{alex}", case.id, "notes")] * len(pages)


# ---------------------------------------------------------------- finding
async def test_find_by_exact_number_or_by_name_in_any_case_and_spacing(
    bot: Bot, student: LocalChat
) -> None:
    case, adviser = await assigned_case(bot, student)
    await adviser.send("/find 210012345")
    assert f"/case {case.reference}" in adviser.last_text
    await adviser.send("/find   sAM    joNES ")
    assert f"/case {case.reference}" in adviser.last_text
    await adviser.send("/find Sam")
    assert adviser.last_text == case_texts.FIND_NONE  # never a substring search
    searched = await entries(bot, AuditAction.CASE_SEARCHED)
    assert [e.detail for e in searched] == [{"count": 1}, {"count": 1}, {"count": 0}]
    assert all(e.subject is None for e in searched)


async def test_a_search_that_finds_nothing_says_the_same_for_a_strangers_number_and_garbage(
    bot: Bot, student: LocalChat
) -> None:
    _, adviser = await assigned_case(bot, student)
    await adviser.send("/find 210099999")
    stranger = adviser.last.text
    await adviser.send("/find <b>%%%</b>")
    garbage = adviser.last.text
    assert stranger == garbage == case_texts.FIND_NONE


async def test_only_staff_may_find_or_read_a_case(bot: Bot, student: LocalChat) -> None:
    case, _ = await assigned_case(bot, student)
    await student.send("/find 210012345")
    assert student.last_text == texts.NOT_AUTHORISED
    await student.send(f"/case {case.reference}")
    assert student.last_text == texts.NOT_AUTHORISED
    assert await reads(bot) == []


# ---------------------------------------------------------------- close, reopen, assign
async def test_the_adviser_closes_with_an_outcome_and_reopens_with_a_reason(
    bot: Bot, student: LocalChat
) -> None:
    case, adviser = await assigned_case(bot, student)
    await adviser.send(f"/case {case.reference}")
    assert case_texts.BTN_ASSIGN not in adviser.buttons()  # the coordinator's alone
    await adviser.press(case_texts.BTN_CLOSE_CASE)
    assert adviser.buttons() == list(bot.deps.settings.case_outcomes)
    await adviser.press("Referred elsewhere")
    assert adviser.last_text.startswith(f"Case {case.reference} is closed: Referred elsewhere")
    assert (await the_case(bot)).status == CaseStatus.CLOSED.value

    bot.deps.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]
    await adviser.send(f"/case {case.reference}")
    assert "Status: closed" in adviser.last_text and "Referred elsewhere" in adviser.last_text
    await adviser.press(case_texts.BTN_REOPEN_CASE)
    await adviser.send("A new letter from the school")
    assert adviser.last_text == f"Case {case.reference} is open again."
    await adviser.send(f"/case {case.reference}")
    assert "Status: open" in adviser.last_text
    assert "Reopened" in adviser.last_text and "A new letter from the school" in adviser.last_text
    assert [e.action for e in await entries(bot, AuditAction.CASE_CLOSED)] == ["case.closed"]
    assert len(await entries(bot, AuditAction.CASE_REOPENED)) == 1


async def test_the_coordinator_assigns_and_the_new_adviser_is_told_the_reference_only(
    bot: Bot, student: LocalChat
) -> None:
    case, _ = await assigned_case(bot, student)
    await add_staff(bot, SECOND, Role.ADVISER)
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    coordinator = bot.chat(COORDINATOR)
    await coordinator.send(f"/case {case.reference}")
    await coordinator.press(case_texts.BTN_ASSIGN)
    assert "Blair Second" in coordinator.buttons()
    await coordinator.press("Blair Second")
    assert coordinator.last_text.startswith(f"Case {case.reference} is now Blair Second's")
    assert (await the_case(bot)).assigned_staff_id == await staff_id(bot, SECOND)
    await deliver(bot)
    told = texts_to(bot, SECOND)
    assert any(case.reference in t for t in told)
    assert not any(word in t for t in told for word in STUDENT_WORDS)
    await bot.chat(SECOND).send(f"/case {case.reference}")
    assert "Adviser: Blair Second" in bot.chat(SECOND).last_text  # no reason asked now


# ---------------------------------------------------------------- clearing
async def test_clear_from_chat_deletes_the_case_screen(bot: Bot, student: LocalChat) -> None:
    case, adviser = await assigned_case(bot, student)
    await adviser.send(f"/case {case.reference}")
    screen = adviser.last
    await adviser.press(case_texts.BTN_CLEAR)
    assert screen.deleted


@pytest.mark.telegram_refuses("message can't be deleted")
async def test_a_screen_too_old_to_delete_gets_a_kind_explanation(
    bot: Bot, student: LocalChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    case, adviser = await assigned_case(bot, student)
    await adviser.send(f"/case {case.reference}")

    def too_old(self: LocalBotApi, params: dict[str, Any], files: dict[str, Any]) -> Any:
        raise bad_request("message can't be deleted for everyone")

    monkeypatch.setattr(LocalBotApi, "_m_deleteMessage", too_old)
    await adviser.press(case_texts.BTN_CLEAR)
    assert adviser.last_text == case_texts.CLEAR_TOO_OLD


async def test_a_reason_to_read_another_advisers_case_is_not_a_reason_to_close_it(
    bot: Bot, student: LocalChat
) -> None:
    case, _ = await assigned_case(bot, student)
    await add_staff(bot, SECOND, Role.ADVISER)
    other = bot.chat(SECOND)
    await other.send(f"/case {case.reference}")
    await other.press("Covering for the adviser")
    assert "Status: open" in other.last_text
    assert case_texts.BTN_CLOSE_CASE not in other.buttons()
    assert case_texts.BTN_CASE_NOTE in other.buttons()  # reading and acting, not deciding
    for press in (
        Press(Action.CASE_CLOSE_ASK, case=case.reference),
        Press(Action.CASE_CLOSE, index=0, case=case.reference),
    ):
        replies = await other.deliver(bot.factory.callback(SECOND, other.last, encode(press)))
        assert [r.plain_text for r in replies] == [texts.NOT_AUTHORISED]
    async with bot.deps.uow() as uow:
        stored = await uow.session.get(Case, case.id)
    assert stored is not None and stored.status == "open"
