"""Case notes through the bot, on both engines: typed, kinded, previewed, saved sealed;
corrected by new notes; resumed after a restart; never in the database in plaintext."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot import case_texts, texts
from bot.clock import FixedClock
from bot.message_parts import TEXT_LIMIT, utf16_length
from bot.services.cases import cases, notes
from bot.services.cases.notes import NOTE_MAX
from bot.services.intake import students
from bot.services.staff import staff
from bot.transport import LocalChat, LocalUser
from bot.vocabulary import AuditAction, BreakGlassReason, NoteKind, Role
from storage.audit import entries as audit_entries
from storage.models import Case, CaseNote, StaffDraft
from tests.conftest import Database
from tests.handlers.conftest import (
    ADVISER,
    COORDINATOR,
    STUDENT,
    Bot,
    BotMaker,
    add_staff,
    submit_sheet,
)
from tests.integration.test_storage_protection import _raw_contents

CANARY = "Canarynote Zqxjk: the student disclosed a housing problem"


async def a_case(bot: Bot, student: LocalChat | None = None) -> Case:
    """The case a student's submitted sheet opened."""
    chat = student or bot.chat(STUDENT)
    await submit_sheet(chat)
    async with bot.deps.uow() as uow:
        found = await students.find_student(uow, bot.deps, chat.user.id)
        assert found is not None
        case = await cases.current_case(uow, found.id)
    assert case is not None
    return case


async def coordinator_and_case(bot: Bot) -> tuple[LocalChat, Case]:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    return bot.chat(COORDINATOR), await a_case(bot)


async def saved_notes(bot: Bot, case: Case) -> list[notes.ReadNote]:
    async with bot.deps.uow() as uow:
        return await notes.read_notes(uow, bot.deps, case.id)


async def write_note(chat: LocalChat, reference: str, *parts: str, kind: str = "Meeting") -> None:
    await chat.send(f"/note {reference}")
    for part in parts:
        await chat.deliver(chat.factory.text(chat.user, part))
    await chat.press(case_texts.BTN_NOTE_DONE)
    await chat.press(kind)
    await chat.press(case_texts.BTN_NOTE_SAVE)


async def test_a_note_typed_in_several_messages_is_saved_with_its_kind_author_and_time(
    bot: Bot, clock: FixedClock
) -> None:
    coordinator, case = await coordinator_and_case(bot)
    clock.advance(timedelta(days=3))
    await coordinator.send(f"/note {case.reference}")
    assert coordinator.last_text.startswith(f"Note for case {case.reference}. Type the note")
    await coordinator.send("Met the student <b>today</b> & agreed a plan.")
    assert coordinator.last_text == case_texts.note_added(
        len("Met the student <b>today</b> & agreed a plan.")
    )
    assert coordinator.buttons() == [case_texts.BTN_NOTE_DONE]
    await coordinator.send("Next: write to Registry.")
    await coordinator.press(case_texts.BTN_NOTE_DONE)
    assert coordinator.last_text == case_texts.NOTE_CHOOSE_KIND
    assert coordinator.buttons() == list(case_texts.NOTE_KIND_LABELS.values())
    await coordinator.press("Appointment")
    preview = coordinator.last_text
    assert "Met the student <b>today</b> & agreed a plan.\nNext: write to Registry." in preview
    assert coordinator.buttons() == [case_texts.BTN_NOTE_SAVE, case_texts.BTN_NOTE_DISCARD]
    await coordinator.press(case_texts.BTN_NOTE_SAVE)
    assert coordinator.last_text == f"Note 1 saved to case {case.reference}."

    (note,) = await saved_notes(bot, case)
    assert note.number == 1 and note.kind is NoteKind.APPOINTMENT
    assert note.text == "Met the student <b>today</b> & agreed a plan.\nNext: write to Registry."
    async with bot.deps.uow() as uow:
        member = await staff.find_staff(uow, bot.deps, COORDINATOR.id)
        row = await uow.session.scalar(select(CaseNote))
        stored_case = await uow.session.get(Case, case.id)
        drafts = list((await uow.session.execute(select(StaffDraft))).scalars())
        added = [e async for e in audit_entries(uow.session, bot.deps.cipher)]
    assert member is not None and note.author_staff_id == member.id
    assert row is not None and row.created_at == clock.now()
    assert stored_case is not None and stored_case.last_activity_at == clock.now()
    assert drafts == []  # the draft went with the save
    (entry,) = [e for e in added if e.action == AuditAction.NOTE_ADDED.value]
    assert entry.subject == case.id
    assert entry.detail == {"note": row.id, "corrects": None}  # ids only


async def test_the_whole_note_can_come_in_one_message_and_numbers_follow_on(bot: Bot) -> None:
    coordinator, case = await coordinator_and_case(bot)
    await coordinator.send(f"/note {case.reference} Phoned the student.\nSecond line kept.")
    assert coordinator.last_text == case_texts.NOTE_CHOOSE_KIND
    await coordinator.press("Phone call")
    await coordinator.press(case_texts.BTN_NOTE_SAVE)
    await write_note(coordinator, case.reference, "An email came in.", kind="Email")
    assert coordinator.last_text == f"Note 2 saved to case {case.reference}."
    first, second = await saved_notes(bot, case)
    assert first.text == "Phoned the student.\nSecond line kept."
    assert (first.kind, second.kind) == (NoteKind.PHONE_CALL, NoteKind.EMAIL)


async def test_cancel_on_the_preview_or_cancel_command_saves_nothing(bot: Bot) -> None:
    coordinator, case = await coordinator_and_case(bot)
    await coordinator.send(f"/note {case.reference} Not to be kept")
    await coordinator.press("Other")
    await coordinator.press(case_texts.BTN_NOTE_DISCARD)
    assert coordinator.last_text == case_texts.NOTE_DISCARDED
    await coordinator.send(f"/note {case.reference}")
    await coordinator.send("Nor this")
    done = coordinator.last
    await coordinator.send("/cancel")
    assert coordinator.last_text == case_texts.DRAFT_DROPPED
    await coordinator.press(case_texts.BTN_NOTE_DONE, message=done)
    assert coordinator.last_text == texts.EXPIRED_HELP
    assert await saved_notes(bot, case) == []


async def test_done_before_any_text_asks_for_the_note_first(bot: Bot) -> None:
    coordinator, case = await coordinator_and_case(bot)
    await coordinator.send(f"/note {case.reference} x")
    await coordinator.send("/cancel")
    await coordinator.send(f"/note {case.reference}")
    await coordinator.send("y")
    await coordinator.send("/cancel")
    await coordinator.send(f"/note {case.reference}")
    forged = bot.factory.callback(
        COORDINATOR, coordinator.last, f"nd:{case.reference}"
    )  # a Done nobody typed anything for
    await coordinator.deliver(forged)
    assert coordinator.last_text == case_texts.NOTHING_TYPED


async def test_usage_and_unknown_references_get_clear_replies(bot: Bot) -> None:
    coordinator, _ = await coordinator_and_case(bot)
    await coordinator.send("/note")
    assert coordinator.last_text == case_texts.NOTE_USAGE
    await coordinator.send("/note ZZZZZZ some text")
    assert coordinator.last_text == texts.UNKNOWN_CASE
    await coordinator.send("/correct ZZZZZZ")
    assert coordinator.last_text == case_texts.CORRECT_USAGE


async def test_an_adviser_writes_notes_on_their_own_cases_and_breaks_the_glass_for_others(
    bot: Bot,
) -> None:
    await add_staff(bot, ADVISER, Role.ADVISER)
    adviser = bot.chat(ADVISER)
    case = await a_case(bot)
    await adviser.send(f"/note {case.reference} Not mine yet")
    assert adviser.last_text == case_texts.break_glass_question(case.reference).replace(
        f"<b>{case.reference}</b>", case.reference
    )
    async with bot.deps.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(CaseNote)) == 0
    await adviser.press(case_texts.BREAK_GLASS_LABELS[BreakGlassReason.COVERING])
    await write_note(adviser, case.reference, "Mine now")
    assert adviser.last_text == f"Note 1 saved to case {case.reference}."


async def test_a_note_longer_than_the_limit_is_refused_and_what_was_typed_is_kept(
    bot: Bot,
) -> None:
    coordinator, case = await coordinator_and_case(bot)
    await coordinator.send(f"/note {case.reference}")
    block = "a" * 3999
    for _ in range(5):
        await coordinator.send(block)
    held = 5 * 3999 + 4
    assert coordinator.last_text == case_texts.note_added(held)
    await coordinator.send("b" * 100)
    assert coordinator.last_text == case_texts.note_too_long(NOTE_MAX, held)
    assert "20,000 characters" in coordinator.last_text
    await coordinator.press(case_texts.BTN_NOTE_DONE)
    await coordinator.press("Other")
    await coordinator.press(case_texts.BTN_NOTE_SAVE)
    (note,) = await saved_notes(bot, case)
    assert note.text == "\n".join([block] * 5)


async def test_a_correction_is_a_new_note_linked_to_the_one_it_corrects(bot: Bot) -> None:
    coordinator, case = await coordinator_and_case(bot)
    await write_note(coordinator, case.reference, "Deadline is 3 March.", kind="Phone call")
    await coordinator.send(f"/correct {case.reference} 1")
    assert coordinator.last_text.startswith(f"Correcting note 1 of case {case.reference}.")
    await coordinator.send("Deadline is 13 March.")
    assert coordinator.last_text == case_texts.CORRECTION_ASK_REASON
    await coordinator.send("I misheard the date.")
    preview = coordinator.last_text
    assert "correction of note 1" in preview and "Why: I misheard the date." in preview
    await coordinator.press(case_texts.BTN_NOTE_SAVE)
    assert coordinator.last_text == f"Note 2 saved to case {case.reference}, correcting note 1."
    original, correction = await saved_notes(bot, case)
    assert original.text == "Deadline is 3 March." and original.corrects_note_id is None
    assert correction.text == "Deadline is 13 March."
    assert correction.reason == "I misheard the date."
    assert correction.kind is NoteKind.PHONE_CALL
    async with bot.deps.uow() as uow:
        rows = list(
            (await uow.session.execute(select(CaseNote).order_by(CaseNote.position))).scalars()
        )
    assert correction.corrects_note_id == rows[0].id


async def test_correcting_a_missing_note_or_one_of_another_case_is_refused_kindly(
    bot: Bot,
) -> None:
    coordinator, case = await coordinator_and_case(bot)
    await write_note(coordinator, case.reference, "On the first case.")
    other = await a_case(bot, bot.chat(LocalUser(1002, "Kim", "Lee")))
    assert other.id != case.id
    await coordinator.send(f"/correct {case.reference} 7")
    assert (
        coordinator.last_text
        == f"Case {case.reference} has no note 7. Check the note's number on the case screen."
    )
    # Note 1 is the first case's: it cannot be reached through another case's reference.
    await coordinator.send(f"/correct {other.reference} 1")
    assert coordinator.last_text.startswith(f"Case {other.reference} has no note 1.")
    assert len(await saved_notes(bot, case)) == 1


async def test_a_restart_in_the_middle_of_a_note_resumes_it(bot: Bot, make_bot: BotMaker) -> None:
    coordinator, case = await coordinator_and_case(bot)
    await coordinator.send(f"/note {case.reference}")
    await coordinator.send("Typed before the restart.")
    restarted = await make_bot()
    again = restarted.chat(COORDINATOR)
    await again.send("Typed after it.")
    assert again.last_text == case_texts.note_added(
        len("Typed before the restart.\nTyped after it.")
    )
    await again.press(case_texts.BTN_NOTE_DONE)
    await again.press("Meeting")
    await again.press(case_texts.BTN_NOTE_SAVE)
    (note,) = await saved_notes(restarted, case)
    assert note.text == "Typed before the restart.\nTyped after it."


async def test_note_text_never_reaches_the_database_in_plaintext(
    bot: Bot, database: Database
) -> None:
    coordinator, case = await coordinator_and_case(bot)
    await write_note(coordinator, case.reference, CANARY)
    await coordinator.send(f"/correct {case.reference} 1")
    await coordinator.send(CANARY + " corrected")
    await coordinator.send("Canaryreason Qwvbn")
    await coordinator.press(case_texts.BTN_NOTE_SAVE)
    await coordinator.send(f"/note {case.reference}")
    await coordinator.send("Canarydraft Plmkj still being typed")
    raw = await _raw_contents(database)
    assert len(raw) > 1000
    for needle in ("Canarynote", "Zqxjk", "Canaryreason", "Qwvbn", "Canarydraft", "Plmkj"):
        assert needle.encode() not in raw, f"{needle} in the {database.kind} database"
        assert needle.encode("utf-16-le") not in raw


def _app_parts(text: str) -> list[str]:
    """Cut `text` into messages Telegram would carry (at most 4,096 UTF-16 units each)."""
    parts: list[str] = []
    current = ""
    for ch in text:
        if utf16_length(current + ch) > TEXT_LIMIT:
            parts.append(current)
            current = ""
        current += ch
    parts.append(current)
    return parts


NOTE_TEXT = st.text(
    alphabet=st.characters(codec="utf-8"), min_size=1, max_size=10_000
) | st.sampled_from(["<b>bold</b> & <i>", "</b><a href='x'>", "&amp; &lt;", "\u202e\u0000"])


@settings(max_examples=12, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=NOTE_TEXT)
async def test_any_note_text_is_saved_and_read_back_exactly(bot: Bot, text: str) -> None:
    if not text.strip():
        return  # Done would rightly say there is nothing to save
    parts = _app_parts(text)
    async with bot.deps.uow() as uow:
        known = list((await uow.session.execute(select(Case))).scalars())
    if not known:
        await add_staff(bot, COORDINATOR, Role.COORDINATOR)
        known = [await a_case(bot)]
    coordinator = bot.chat(COORDINATOR)
    before = len(await saved_notes(bot, known[0]))
    await write_note(coordinator, known[0].reference, *parts, kind="Other")
    saved = await saved_notes(bot, known[0])
    assert len(saved) == before + 1
    assert saved[-1].text == "\n".join(parts)


async def test_two_notes_saved_at_the_same_moment_get_numbers_one_after_the_other(
    bot: Bot,
) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    second = LocalUser(3002, "Dana", "Deputy")
    await add_staff(bot, second, Role.COORDINATOR)
    case = await a_case(bot)
    deps = bot.deps
    for who in (COORDINATOR, second):
        async with deps.uow() as uow:
            await notes.start(uow, deps, who.id, case.reference, f"Written by {who.first_name}")
            await notes.choose_kind(uow, deps, who.id, case.reference, NoteKind.OTHER)
            await uow.commit()

    async def save(who: LocalUser) -> int:
        async with deps.uow() as uow:
            saved = await notes.save(uow, deps, who.id, case.reference)
            await uow.commit()
        return saved.number

    numbers = await asyncio.gather(save(COORDINATOR), save(second))
    assert sorted(numbers) == [1, 2]
    assert sorted(n.number for n in await saved_notes(bot, case)) == [1, 2]
