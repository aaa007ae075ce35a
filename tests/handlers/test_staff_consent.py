"""Consent recorded by staff (/consentfor): by email with its date and reference, verbally with
the nature of the permission; the student told; and consent asked of the student in the chat."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from sqlalchemy import func, select

from bot import case_texts, texts
from bot.callbacks import Action, Press, encode
from bot.clock import FixedClock
from bot.services.cases import cases
from bot.services.intake import consent
from bot.services.intake.consent import StaffDetails
from bot.services.intake.students import find_student
from bot.services.staff import staff
from bot.transport import LocalChat, LocalUser, check_html
from bot.vocabulary import AuditAction, BreakGlassReason, ConsentChannel, ConsentScope, Role
from storage.audit import entries as audit_entries
from storage.models import ConsentEntry, ConsentRequest
from tests.handlers.conftest import (
    ADVISER,
    STUDENT,
    Bot,
    BotMaker,
    add_staff,
    submit_sheet,
)
from tests.handlers.test_bad_input import awkward_text
from tests.handlers.test_booking_journey import deliver

OTHER_ADVISER = LocalUser(2002, "Robin", "Other")
OTHER_STUDENT = LocalUser(1002, "Pat", "Other")
UNIVERSITY = texts.CONSENT_SHORT[ConsentScope.UNIVERSITY]


async def given_a_case(bot: Bot, student: LocalChat, *, consent: bool = True) -> tuple[str, str]:
    """A submitted sheet whose case is assigned to ADVISER: its reference and the student id."""
    await add_staff(bot, ADVISER, Role.ADVISER)
    await submit_sheet(student, consent=consent)
    async with bot.deps.uow() as uow:
        row = await find_student(uow, bot.deps, STUDENT.id)
        me = await staff.find_staff(uow, bot.deps, ADVISER.id)
        assert row is not None and me is not None
        case = await cases.current_case(uow, row.id)
        assert case is not None
        case.assigned_staff_id = me.id
        await uow.commit()
        return case.reference, row.id


async def latest_entry(bot: Bot, student_id: str) -> ConsentEntry:
    async with bot.deps.uow() as uow:
        entry = await uow.session.scalar(
            select(ConsentEntry)
            .where(ConsentEntry.student_id == student_id)
            .order_by(ConsentEntry.position.desc())
            .limit(1)
        )
    assert entry is not None
    return entry


async def entries_count(bot: Bot) -> int:
    async with bot.deps.uow() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(ConsentEntry)) or 0)


async def to_channel(adviser: LocalChat, reference: str, channel: str) -> None:
    await adviser.send(f"/consentfor {reference}")
    await adviser.press(case_texts.BTN_RECORD_CONSENT)
    await adviser.press(UNIVERSITY)
    await adviser.press(case_texts.BTN_CONSENT_GIVEN)
    await adviser.press(channel)


async def test_email_consent_needs_the_date_of_the_email_and_a_reference(
    bot: Bot, student: LocalChat
) -> None:
    reference, student_id = await given_a_case(bot, student, consent=False)
    adviser = bot.chat(ADVISER)
    await to_channel(adviser, reference, case_texts.BTN_BY_EMAIL)
    assert adviser.last_text == case_texts.ASK_EMAIL_DATE

    await adviser.send("yesterday")
    assert "dd/mm/yyyy" in adviser.last_text
    await adviser.send("01/01/2027")  # the clock says 24 November 2026
    assert "in the future" in adviser.last_text
    await adviser.send("20/11/2026")
    assert adviser.last_text == case_texts.ASK_EMAIL_REFERENCE
    await adviser.send("   ")
    assert "empty" in adviser.last_text
    await adviser.send("x" * 201)
    assert "at most 200" in adviser.last_text
    await adviser.send("Re: my appeal, please go ahead")
    await adviser.press(case_texts.BTN_NO_LIMITATION)
    assert "Email of 20/11/2026: Re: my appeal" in adviser.last_text
    await adviser.press(case_texts.BTN_RECORD_IT)
    assert adviser.last_text.startswith(f"Recorded for case {reference}")

    entry = await latest_entry(bot, student_id)
    async with bot.deps.uow() as uow:
        me = await staff.find_staff(uow, bot.deps, ADVISER.id)
    assert me is not None
    assert entry.channel == ConsentChannel.EMAIL.value
    assert entry.recorded_by_staff_id == me.id
    assert entry.wording_version == texts.CONSENT_WORDING_VERSION
    assert entry.wording_sha256 == consent.wording_sha256(ConsentScope.UNIVERSITY)
    assert consent.decision_of(bot.deps, entry) is True
    details = consent.details_of(bot.deps, entry)
    assert details is not None
    assert details.email_date is not None and details.email_date.isoformat() == "2026-11-20"
    assert details.email_reference == "Re: my appeal, please go ahead"
    assert details.limitation is None


async def test_verbal_consent_needs_the_nature_in_the_advisers_words_and_keeps_the_limitation(
    bot: Bot, student: LocalChat
) -> None:
    reference, student_id = await given_a_case(bot, student, consent=False)
    adviser = bot.chat(ADVISER)
    await to_channel(adviser, reference, case_texts.BTN_VERBALLY)
    assert adviser.last_text == case_texts.ASK_VERBAL_NATURE
    earlier = encode(Press(Action.CONSENT_FOR_RECORD, case=reference))
    await adviser.deliver(bot.factory.callback(ADVISER, adviser.last, earlier))
    assert adviser.last_text == texts.EXPIRED_HELP  # an earlier step's button has expired
    await adviser.send(" \n ")
    assert "empty" in adviser.last_text
    await adviser.send("Agreed on the phone that I may ask Registry about her appeal deadline")
    await adviser.send("only the Academic Registry, only about the appeal")
    assert "Limitation: only the Academic Registry" in adviser.last_text
    await adviser.press(case_texts.BTN_RECORD_IT)

    entry = await latest_entry(bot, student_id)
    assert entry.channel == ConsentChannel.VERBAL.value
    assert bot.deps.cipher.open(entry, "note_enc", entry.note_enc) == (
        "Agreed on the phone that I may ask Registry about her appeal deadline"
    )
    details = consent.details_of(bot.deps, entry)
    assert details is not None
    assert details.limitation == "only the Academic Registry, only about the appeal"
    assert details.email_date is None
    async with bot.deps.uow() as uow:
        states = await consent.current_consents(uow, bot.deps, student_id)
    assert states[ConsentScope.UNIVERSITY].granted is True
    assert states[ConsentScope.UNIVERSITY].channel is ConsentChannel.VERBAL


async def test_the_student_is_told_what_was_recorded_by_whom_and_how_to_change_it(
    bot: Bot, student: LocalChat
) -> None:
    reference, _ = await given_a_case(bot, student)
    adviser = bot.chat(ADVISER)
    await adviser.send(f"/consentfor {reference}")
    await adviser.press(case_texts.BTN_RECORD_CONSENT)
    await adviser.press(UNIVERSITY)
    await adviser.press(case_texts.BTN_CONSENT_WITHDRAWN)
    await adviser.press(case_texts.BTN_VERBALLY)
    await adviser.send("She asked me not to contact Finance after all")
    await adviser.press(case_texts.BTN_NO_LIMITATION)
    await adviser.press(case_texts.BTN_RECORD_IT)
    before = len(student.api.messages(STUDENT.id))
    await deliver(bot)
    told = student.api.messages(STUDENT.id)[before:]
    assert len(told) == 1
    assert "Your adviser Alex recorded that you withdrew" in told[0].plain_text
    assert UNIVERSITY in told[0].plain_text
    assert "/consent" in told[0].plain_text
    assert "Alex Adviser" not in told[0].plain_text  # the first name only
    assert "Finance" not in told[0].plain_text  # the adviser's note stays in the case record

    await to_channel(adviser, reference, case_texts.BTN_BY_EMAIL)  # a second, at the same time
    await adviser.send("23/11/2026")
    await adviser.send("Re: Finance after all")
    await adviser.press(case_texts.BTN_NO_LIMITATION)
    await adviser.press(case_texts.BTN_RECORD_IT)
    await deliver(bot)
    [again] = student.api.messages(STUDENT.id)[before + 1 :]
    assert "Your adviser Alex recorded that you gave your consent by email" in again.plain_text


async def test_a_restart_resumes_the_consent_being_recorded(
    bot: Bot, make_bot: BotMaker, student: LocalChat
) -> None:
    reference, student_id = await given_a_case(bot, student, consent=False)
    await to_channel(bot.chat(ADVISER), reference, case_texts.BTN_BY_EMAIL)
    restarted = await make_bot()
    adviser = restarted.chat(ADVISER)
    await adviser.send("19/11/2026")
    await adviser.send("USS-2026-114")
    await adviser.press(case_texts.BTN_NO_LIMITATION)
    await adviser.press(case_texts.BTN_RECORD_IT)
    assert (await latest_entry(restarted, student_id)).channel == ConsentChannel.EMAIL.value


async def test_an_adviser_not_assigned_is_asked_why_before_recording_anything(
    bot: Bot, student: LocalChat
) -> None:
    reference, _ = await given_a_case(bot, student)
    await add_staff(bot, OTHER_ADVISER, Role.ADVISER)
    other = bot.chat(OTHER_ADVISER)
    await other.send(f"/consentfor {reference}")
    assert other.last_text.startswith(f"Case {reference} is not assigned to you. Why")
    await other.press(case_texts.BREAK_GLASS_LABELS[BreakGlassReason.COVERING])
    await other.send(f"/consentfor {reference}")
    assert not other.last_text.startswith(f"Case {reference} is not assigned to you")
    await other.send("/consentfor NOTAREF")
    assert other.last_text == texts.UNKNOWN_CASE


async def ask_the_student(bot: Bot, reference: str, purpose: str) -> LocalChat:
    adviser = bot.chat(ADVISER)
    await adviser.send(f"/consentfor {reference}")
    await adviser.press(case_texts.BTN_ASK_STUDENT)
    await adviser.press(UNIVERSITY)
    await adviser.send(purpose)
    return adviser


async def test_the_students_answer_in_the_chat_is_recorded_and_the_adviser_told(
    bot: Bot, student: LocalChat
) -> None:
    reference, student_id = await given_a_case(bot, student, consent=False)
    for answer in (texts.BTN_YES, texts.BTN_NO):
        adviser = await ask_the_student(
            bot, reference, "to contact Registry about your appeal deadline"
        )
        assert adviser.last_text.startswith(f"Sent to the student of case {reference}")
        await deliver(bot)
        request = student.api.last_message_with_buttons(STUDENT.id)
        assert request is not None
        assert "Why: to contact Registry about your appeal deadline" in request.plain_text
        assert [b[0] for row in request.buttons for b in row] == [texts.BTN_YES, texts.BTN_NO]
        await student.press(answer, message=request)
        assert student.last_text.startswith("Thank you. Recorded")

        entry = await latest_entry(bot, student_id)
        assert entry.channel == ConsentChannel.BOT_REQUESTED.value
        assert consent.decision_of(bot.deps, entry) is (answer == texts.BTN_YES)
        details = consent.details_of(bot.deps, entry)
        async with bot.deps.uow() as uow:
            row = await uow.session.scalar(
                select(ConsentRequest).where(ConsentRequest.entry_id == entry.id)
            )
        assert row is not None and row.answered_at is not None
        purpose = "to contact Registry about your appeal deadline"
        # What the student agreed to is the purpose, so it limits the consent.
        assert details == StaffDetails(limitation=purpose, purpose=purpose, request=row.id)

        before = len(adviser.api.messages(ADVISER.id))
        await deliver(bot)
        told = adviser.api.messages(ADVISER.id)[before:]
        assert len(told) == 1
        assert f"Case {reference}: the student answered your consent request" in (
            told[0].plain_text
        )
        assert f"({UNIVERSITY}): {answer}." in told[0].plain_text
        assert "Registry" not in told[0].plain_text and "Sam" not in told[0].plain_text

    async with bot.deps.uow() as uow:
        recorded = [
            e
            async for e in audit_entries(
                uow.session, bot.deps.cipher, action=AuditAction.CONSENT_RECORDED.value
            )
            if e.detail.get("channel") == ConsentChannel.BOT_REQUESTED.value
        ]
        requested = [
            e
            async for e in audit_entries(
                uow.session, bot.deps.cipher, action=AuditAction.CONSENT_REQUESTED.value
            )
        ]
    assert len(recorded) == 2 and len(requested) == 2


async def test_a_second_press_or_another_students_press_is_refused(
    bot: Bot, student: LocalChat
) -> None:
    reference, _ = await given_a_case(bot, student, consent=False)
    await ask_the_student(bot, reference, "to write to your landlord about the deposit")
    await deliver(bot)
    request = student.api.last_message_with_buttons(STUDENT.id)
    assert request is not None
    yes = next(b[1] for row in request.buttons for b in row if b[0] == texts.BTN_YES)
    no = next(b[1] for row in request.buttons for b in row if b[0] == texts.BTN_NO)
    assert yes is not None and no is not None

    mallory = bot.chat(OTHER_STUDENT)
    await mallory.send("/start")
    count = await entries_count(bot)
    replies = await mallory.deliver(bot.factory.callback(OTHER_STUDENT, mallory.last, yes))
    assert texts.EXPIRED_PLAIN in replies[-1].plain_text
    assert await entries_count(bot) == count

    await student.deliver(bot.factory.callback(STUDENT, request, no))
    assert await entries_count(bot) == count + 1
    replies = await student.deliver(bot.factory.callback(STUDENT, request, yes))
    assert texts.EXPIRED_PLAIN in replies[-1].plain_text
    assert await entries_count(bot) == count + 1


async def test_a_request_not_answered_within_two_weeks_has_expired(
    bot: Bot, student: LocalChat
) -> None:
    reference, _ = await given_a_case(bot, student, consent=False)
    await ask_the_student(bot, reference, "to write to your landlord about the deposit")
    await deliver(bot)
    request = student.api.last_message_with_buttons(STUDENT.id)
    assert request is not None
    count = await entries_count(bot)
    clock: FixedClock = bot.deps.clock  # type: ignore[assignment]
    clock.advance(timedelta(days=14, minutes=1))
    await student.press(texts.BTN_YES, message=request)
    assert texts.EXPIRED_PLAIN in student.last_text
    assert await entries_count(bot) == count


async def test_a_request_purpose_is_one_line_of_at_most_200_characters(
    bot: Bot, student: LocalChat
) -> None:
    reference, _ = await given_a_case(bot, student, consent=False)
    adviser = await ask_the_student(bot, reference, "y" * 201)
    assert "at most 200" in adviser.last_text
    async with bot.deps.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(ConsentRequest)) == 0


_reference_of_bot: dict[int, tuple[str, str]] = {}


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(limitation=awkward_text)
async def test_any_limitation_gets_a_valid_reply_and_is_kept_exactly_or_refused(
    bot: Bot, student: LocalChat, limitation: str
) -> None:
    if id(bot.app) not in _reference_of_bot:
        _reference_of_bot[id(bot.app)] = await given_a_case(bot, student, consent=False)
    reference, student_id = _reference_of_bot[id(bot.app)]
    adviser = bot.chat(ADVISER)
    before_calls = len(bot.api.calls)
    await adviser.send("/cancel")
    await to_channel(adviser, reference, case_texts.BTN_VERBALLY)
    await adviser.send("Agreed on the phone that I may ask Registry about the appeal")
    replies = await adviser.send(limitation) if limitation.strip() else []
    saved = "Limitation:" in adviser.last_text
    if saved:
        replies += await adviser.press(case_texts.BTN_RECORD_IT)
    assert [c for c in bot.api.calls[before_calls:] if not c.ok] == []
    for reply in replies:
        assert reply.text is not None
        check_html(reply.text)
        assert len(reply.plain_text) <= 4096
    if saved:
        details = consent.details_of(bot.deps, await latest_entry(bot, student_id))
        assert details is not None
        assert details.limitation == " ".join(limitation.split())
