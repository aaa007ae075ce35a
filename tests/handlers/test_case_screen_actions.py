"""Acting from a case's summary: Add a note, Attach a document, Record consent and Record an
action start the same journeys as /note, /attach, /consentfor and /disclose, for whoever may
open the case; a press for a case the presser may not open is asked why, never served."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot import case_texts, texts
from bot.callbacks import MAX_BYTES, Action, Press, encode
from bot.services.cases import cases, notes
from bot.services.intake import consent
from bot.services.staff import staff, staff_drafts
from bot.transport import LocalChat, LocalUser, SentMessage, utf16_length
from bot.vocabulary import (
    BreakGlassReason,
    CasePart,
    ConsentChannel,
    ConsentScope,
    DisclosureBasis,
    RecipientKind,
    Role,
)
from storage.models import CaseDocument, Disclosure
from tests.handlers.conftest import ADVISER, COORDINATOR, STUDENT, Bot, add_staff
from tests.handlers.test_case_documents import a_pdf
from tests.handlers.test_staff_consent import given_a_case, latest_entry

OTHER_ADVISER = LocalUser(2002, "Robin", "Other")
UNIVERSITY = texts.CONSENT_SHORT[ConsentScope.UNIVERSITY]

# Each summary button, the command it stands for, and its Action.
JOURNEYS = {
    case_texts.BTN_CASE_NOTE: ("note", Action.CASE_NOTE),
    case_texts.BTN_CASE_ATTACH: ("attach", Action.CASE_ATTACH),
    case_texts.BTN_CASE_CONSENT: ("consentfor", Action.CASE_CONSENT),
    case_texts.BTN_CASE_DISCLOSE: ("disclose", Action.CASE_DISCLOSE),
}


async def from_summary(chat: LocalChat, reference: str, label: str) -> list[SentMessage]:
    """Open the case's summary and press one of its buttons; what the press brought."""
    await chat.send(f"/case {reference}")
    return await chat.press(label)


def seen(replies: list[SentMessage]) -> list[tuple[str, list[list[tuple[str, str | None]]]]]:
    return [(m.plain_text, m.buttons) for m in replies]


async def draft_of(bot: Bot, user: LocalUser) -> staff_drafts.Draft | None:
    async with bot.deps.uow() as uow:
        me = await staff.find_staff(uow, bot.deps, user.id)
        assert me is not None
        return await staff_drafts.current(uow, bot.deps, me.id)


async def test_the_summary_offers_the_four_journeys_in_short_rows_of_two(
    bot: Bot, student: LocalChat
) -> None:
    reference, _ = await given_a_case(bot, student)
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    for user in (ADVISER, COORDINATOR):
        chat = bot.chat(user)
        await chat.send(f"/case {reference}")
        rows = chat.last.buttons
        labels = [label for row in rows for label, _ in row]
        assert set(JOURNEYS) <= set(labels)
        journey_rows = [row for row in rows if any(label in JOURNEYS for label, _ in row)]
        assert [len(row) for row in journey_rows] == [2, 2]
        assert max(utf16_length(label) for label in JOURNEYS) <= 20
        assert all(len((data or "").encode()) <= MAX_BYTES for row in rows for _, data in row)
    # Only the summary offers them: another part of the case does not.
    adviser = bot.chat(ADVISER)
    await adviser.press(case_texts.PART_LABELS[CasePart.NOTES])
    assert not set(JOURNEYS) & {label for row in adviser.last.buttons for label, _ in row}


@pytest.mark.parametrize("label", list(JOURNEYS))
async def test_each_button_replies_exactly_as_its_command_and_keeps_the_summary(
    bot: Bot, student: LocalChat, label: str
) -> None:
    reference, _ = await given_a_case(bot, student)
    adviser = bot.chat(ADVISER)
    await adviser.send(f"/case {reference}")
    summary = adviser.last
    pressed = await adviser.press(label)
    await adviser.send("/cancel")
    command, _ = JOURNEYS[label]
    typed = await adviser.send(f"/{command} {reference}")
    assert pressed and seen(pressed) == seen(typed)
    # The summary message keeps its buttons (the adviser may come back to it).
    assert label in {b for row in summary.buttons for b, _ in row}


async def test_add_a_note_from_the_summary_saves_the_note(bot: Bot, student: LocalChat) -> None:
    reference, _ = await given_a_case(bot, student)
    adviser = bot.chat(ADVISER)
    await from_summary(adviser, reference, case_texts.BTN_CASE_NOTE)
    assert adviser.last_text.startswith(f"Note for case {reference}. Type the note")
    await adviser.send("Talked through the appeal options")
    await adviser.press(case_texts.BTN_NOTE_DONE)
    await adviser.press("Meeting")
    await adviser.press(case_texts.BTN_NOTE_SAVE)
    assert adviser.last_text == f"Note 1 saved to case {reference}."
    async with bot.deps.uow() as uow:
        case = await cases.case_by_reference(uow, reference)
        saved = await notes.read_notes(uow, bot.deps, case.id)
    assert [n.text for n in saved] == ["Talked through the appeal options"]


async def test_attach_a_document_from_the_summary_stores_the_next_file(
    bot: Bot, student: LocalChat
) -> None:
    reference, _ = await given_a_case(bot, student)
    adviser = bot.chat(ADVISER)
    await from_summary(adviser, reference, case_texts.BTN_CASE_ATTACH)
    assert adviser.last_text.startswith(f"Send the document for case {reference} now")
    pdf = a_pdf()
    await adviser.deliver(bot.factory.document(ADVISER, content=pdf, file_name="letter.pdf"))
    assert adviser.last_text.startswith(f"Stored for case {reference}: letter.pdf (PDF")
    async with bot.deps.uow() as uow:
        (row,) = (await uow.session.execute(select(CaseDocument))).scalars()
    assert row.added_by.startswith("staff:")
    assert bot.deps.cipher.open_bytes(row, "content_enc", row.content_enc) == pdf


async def test_record_consent_from_the_summary_records_it_in_the_ledger(
    bot: Bot, student: LocalChat
) -> None:
    reference, student_id = await given_a_case(bot, student, consent=False)
    adviser = bot.chat(ADVISER)
    await from_summary(adviser, reference, case_texts.BTN_CASE_CONSENT)
    assert adviser.last_text.startswith(f"Consent for case {reference}")
    await adviser.press(case_texts.BTN_RECORD_CONSENT)
    await adviser.press(UNIVERSITY)
    await adviser.press(case_texts.BTN_CONSENT_GIVEN)
    await adviser.press(case_texts.BTN_VERBALLY)
    await adviser.send("Agreed on the phone that I may ask Registry about the appeal")
    await adviser.press(case_texts.BTN_NO_LIMITATION)
    await adviser.press(case_texts.BTN_RECORD_IT)
    assert adviser.last_text.startswith(f"Recorded for case {reference}")
    entry = await latest_entry(bot, student_id)
    assert entry.channel == ConsentChannel.VERBAL.value
    async with bot.deps.uow() as uow:
        states = await consent.current_consents(uow, bot.deps, student_id)
    assert states[ConsentScope.UNIVERSITY].granted is True


async def disclose_from_summary(adviser: LocalChat, reference: str) -> None:
    await from_summary(adviser, reference, case_texts.BTN_CASE_DISCLOSE)
    assert adviser.last_text.startswith(f"Record a disclosure or action for case {reference}")
    await adviser.press(case_texts.RECIPIENT_LABELS[RecipientKind.SCHOOL])
    await adviser.send("Dr Placement Tutor")
    await adviser.send("Asked about an extension for the placement report")
    await adviser.press(case_texts.BASIS_LABELS[DisclosureBasis.CONSENT])


async def disclosures(bot: Bot) -> list[Disclosure]:
    async with bot.deps.uow() as uow:
        return list((await uow.session.execute(select(Disclosure))).scalars())


async def test_record_an_action_from_the_summary_records_it_with_consent(
    bot: Bot, student: LocalChat
) -> None:
    reference, _ = await given_a_case(bot, student, consent=True)
    adviser = bot.chat(ADVISER)
    await disclose_from_summary(adviser, reference)
    await adviser.press(case_texts.BTN_RECORD_IT)
    assert adviser.last_text == f"Recorded for case {reference}."
    assert len(await disclosures(bot)) == 1


async def test_record_an_action_from_the_summary_is_refused_without_consent(
    bot: Bot, student: LocalChat
) -> None:
    reference, _ = await given_a_case(bot, student, consent=False)
    adviser = bot.chat(ADVISER)
    await disclose_from_summary(adviser, reference)
    assert adviser.last_text.startswith("Not recorded, and not allowed")
    assert await disclosures(bot) == []


@pytest.mark.parametrize("label", list(JOURNEYS))
async def test_a_forged_press_for_a_case_not_theirs_is_asked_why_and_starts_nothing(
    bot: Bot, student: LocalChat, label: str
) -> None:
    reference, _ = await given_a_case(bot, student)
    await add_staff(bot, OTHER_ADVISER, Role.ADVISER)
    other = bot.chat(OTHER_ADVISER)
    _, action = JOURNEYS[label]
    await other.send("/help")
    data = encode(Press(action, case=reference))
    replies = await other.deliver(bot.factory.callback(OTHER_ADVISER, other.last, data))
    assert [m.plain_text for m in replies] == [
        f"Case {reference} is not assigned to you. Why do you need to open it? "
        "Your reason is recorded, and the coordinator is told that you opened it."
    ]
    assert {b for row in replies[0].buttons for b, _ in row} == set(
        case_texts.BREAK_GLASS_LABELS.values()
    )
    assert await draft_of(bot, OTHER_ADVISER) is None
    # Once they have said why, the same press starts the journey.
    await other.press(case_texts.BREAK_GLASS_LABELS[BreakGlassReason.COVERING])
    replies = await other.deliver(bot.factory.callback(OTHER_ADVISER, other.last, data))
    assert replies and not replies[0].plain_text.startswith(f"Case {reference} is not assigned")
    assert await draft_of(bot, OTHER_ADVISER) is not None


@pytest.mark.parametrize("label", list(JOURNEYS))
async def test_a_forged_press_from_a_student_is_refused(
    bot: Bot, student: LocalChat, label: str
) -> None:
    reference, _ = await given_a_case(bot, student)
    _, action = JOURNEYS[label]
    await student.send("/help")
    data = encode(Press(action, case=reference))
    replies = await student.deliver(bot.factory.callback(STUDENT, student.last, data))
    assert [m.plain_text for m in replies] == [texts.NOT_AUTHORISED]
