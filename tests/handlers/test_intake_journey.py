"""The information sheet through Telegram updates, on both engines."""

from __future__ import annotations

from sqlalchemy import func, select

from bot import texts
from bot.transport import LocalChat
from bot.vocabulary import AuditAction, SheetStatus
from storage import audit as audit_log
from storage.models import ConsentEntry, InformationSheet
from tests.handlers.conftest import STUDENT, Bot, BotMaker, fill_to_review, submit_sheet


async def test_start_shows_welcome_and_privacy_notice_with_continue_and_stop(
    student: LocalChat,
) -> None:
    replies = await student.send("/start")
    assert "welcome to the Union Support Service" in replies[0].plain_text
    notice = replies[-1].plain_text
    for promise in (
        "confidential",
        "express permission",
        "removed from your course",
        "5 years",
        "right to see",
    ):
        assert promise in notice
    assert student.buttons() == ["Continue", "Not now"]
    assert all(m.protect_content for m in replies)


async def test_not_now_saves_nothing(bot: Bot, student: LocalChat) -> None:
    await student.send("/start")
    await student.press("Not now")
    assert "nothing has been saved" in student.last_text
    async with bot.deps.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(InformationSheet)) == 0


async def test_whole_sheet_then_consent_then_mysheet(bot: Bot, student: LocalChat) -> None:
    await submit_sheet(student)
    replies = await student.send("/mysheet")
    sheet = replies[-1].plain_text
    for expected in (
        "Sam Jones",
        "210012345",
        "sam.jones@city.ac.uk",
        "BSc Nursing",
        "Year 2",
        "Academic appeal",
        "In person",
        "Tuesday 15 December 2026",
    ):
        assert expected in sheet
    assert sheet.count(": Yes") == 5
    async with bot.deps.uow() as uow:
        status = await uow.session.scalar(select(InformationSheet.status))
        consents = await uow.session.scalar(select(func.count()).select_from(ConsentEntry))
        actions = [e.action async for e in audit_log.entries(uow.session, bot.deps.cipher)]
    assert status == SheetStatus.SUBMITTED.value
    assert consents == 5
    assert AuditAction.SHEET_SUBMITTED.value in actions
    assert AuditAction.SHEET_READ.value in actions


async def test_each_consent_scope_is_asked_separately_with_nothing_preselected(
    student: LocalChat,
) -> None:
    await fill_to_review(student)
    await student.press("Everything is correct")
    asked = []
    while student.last_text.startswith(("Consent ", "Last step")):
        assert student.buttons() == ["Yes", "No"]
        asked.append(student.last_text)
        await student.press("No")
    assert len(asked) == len(texts.CONSENT_WORDING)
    for wording, shown in zip(texts.CONSENT_WORDING.values(), asked, strict=True):
        assert wording in shown


async def test_each_answer_is_committed_before_the_next_question(
    bot: Bot, student: LocalChat
) -> None:
    await student.send("/start")
    await student.press("Continue")
    await student.send("Sam Jones")
    assert student.last_text.startswith("Question 2 ")
    # A second process reading the database right now sees the answer.
    other = await bot.deps.uow().__aenter__()
    try:
        from bot.services.intake import intake

        view = await intake.current(other, bot.deps, STUDENT.id)
    finally:
        await other.__aexit__(None, None, None)
    assert view.answers
    assert view.step.value == "student_number"


async def test_a_restart_resumes_exactly_where_the_student_was(make_bot: BotMaker) -> None:
    first = await make_bot()
    chat = first.chat(STUDENT)
    await chat.send("/start")
    await chat.press("Continue")
    await chat.send("Sam Jones")
    await chat.send("210012345")
    await first.app.shutdown()

    restarted = await make_bot()
    chat = restarted.chat(STUDENT)
    await chat.send("/start")
    assert "question 3 of 12" in chat.last_text
    assert chat.buttons() == ["Continue where I left off", "Start over"]
    await chat.press("Continue where I left off")
    assert chat.last_text.startswith("Question 3 of 12")
    await chat.send("sam.jones@city.ac.uk")
    assert chat.last_text.startswith("Question 4 of 12")


async def test_start_over_is_confirmed_then_begins_afresh(student: LocalChat) -> None:
    await student.send("/start")
    await student.press("Continue")
    await student.send("Sam Jones")
    await student.send("/start")
    await student.press("Start over")
    assert "deletes the answers" in student.last_text
    await student.press("Yes, delete my answers and start again")
    assert student.last_text.startswith("Question 1 of 12")


async def test_review_lets_any_answer_be_changed_then_returns_to_review(student: LocalChat) -> None:
    await fill_to_review(student)
    await student.press("Edit email")
    assert student.last_text.startswith("Question 3 of 12")
    await student.send("s.jones@city.ac.uk")
    assert student.last_text.startswith("Please check your answers")
    assert "s.jones@city.ac.uk" in student.last_text
    await student.press("Edit year")
    await student.press("Year 3")
    assert "Year 3" in student.last_text


async def test_cancel_asks_first_and_then_deletes_the_draft(bot: Bot, student: LocalChat) -> None:
    await student.send("/start")
    await student.press("Continue")
    await student.send("Sam Jones")
    await student.send("/cancel")
    assert student.buttons() == ["Yes, delete it", "No, keep it"]
    await student.press("No, keep it")
    assert student.last_text.startswith("Question 2 of 12")
    await student.send("/cancel")
    await student.press("Yes, delete it")
    assert "deleted" in student.last_text
    async with bot.deps.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(InformationSheet)) == 0
    await student.send("/cancel")
    assert student.last_text == texts.NOTHING_TO_CANCEL


async def test_consent_can_be_changed_later_and_says_what_changed(
    bot: Bot, student: LocalChat
) -> None:
    await submit_sheet(student, consent=False)
    await student.send("/consent")
    assert student.last_text.count(": No") == 5
    await student.press("Change: Contact organisations outside the University")
    assert "outside the University" in student.last_text
    await student.press("Yes")
    assert "is now Yes (it was No)" in student.last_text
    await student.send("/consent")
    assert "Contact organisations outside the University: Yes" in student.last_text
    async with bot.deps.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(ConsentEntry)) == 6


async def test_consent_before_a_sheet_explains_when_it_is_asked(student: LocalChat) -> None:
    await student.send("/consent")
    assert student.last_text == texts.NO_SHEET_YET_CONSENT.replace("<b>", "").replace("</b>", "")


async def test_mysheet_before_submitting_points_to_start(student: LocalChat) -> None:
    await student.send("/mysheet")
    assert "/start" in student.last_text


async def test_start_after_submitting_says_when_and_what_next(student: LocalChat) -> None:
    await submit_sheet(student)
    await student.send("/start")
    assert (
        "You sent us your information sheet on Tuesday 24 November 2026, 10:00" in student.last_text
    )


async def test_help_and_privacy_answer_at_any_time(student: LocalChat) -> None:
    await student.send("/help")
    assert "/mysheet" in student.last_text
    await student.send("/privacy")
    assert "express permission" in student.last_text
