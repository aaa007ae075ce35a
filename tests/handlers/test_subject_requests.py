"""Subject requests through the bot, on both engines: /mydata shows a student what is held
and when it goes; a request made in the bot or recorded by staff reaches the coordinator's
register by reference only, with its due date; extensions, pauses and answers move or close
it and the student is told; an accepted deletion removes the student's records at once."""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import func, select

from bot import lifecycle_texts as words
from bot.services.lifecycle import requests
from bot.services.statistics import events as statistics
from bot.transport import LocalChat, LocalUser
from bot.vocabulary import AuditAction, Role, StatEvent
from storage.models import (
    Case,
    ConsentEntry,
    InformationSheet,
    Student,
    SubjectRequest,
)
from tests.handlers.conftest import (
    ADVISER,
    COORDINATOR,
    Bot,
    add_staff,
    case_reference,
    submit_sheet,
)
from tests.handlers.test_booking_journey import deliver
from tests.handlers.test_case_view import STUDENT_WORDS, entries, texts_to

REFERENCE = re.compile(r"R-[0-9A-F]{6}")


async def student_id(bot: Bot) -> str:
    async with bot.deps.uow() as uow:
        found: str | None = await uow.session.scalar(select(Student.id))
    assert found is not None
    return found


async def count(bot: Bot, model: type) -> int:
    async with bot.deps.uow() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(model)) or 0)


def today(bot: Bot) -> date:
    return requests.today(bot.deps)


def day(d: date) -> str:
    return d.strftime("%d %B %Y").lstrip("0")


async def staffed(bot: Bot) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    await add_staff(bot, ADVISER, Role.ADVISER)


async def test_mydata_shows_what_is_held_why_who_sees_it_and_when_it_goes(
    bot: Bot, student: LocalChat
) -> None:
    await submit_sheet(student)
    await student.send("/mydata")
    text = student.last_text
    assert "What we hold about you" in text
    assert "1 information sheet you filled in" in text
    assert "consent choices" in text
    assert "Your adviser and the coordinator" in text
    deleted = requests.months_after(today(bot), 12 * 5)
    assert f"On {day(deleted)}" in text
    assert student.buttons() == [words.BTN_ASK_COPY, words.BTN_ASK_DELETE]
    # Counts and kinds, never the contents.
    assert not any(word in text for word in STUDENT_WORDS)


async def test_someone_the_service_knows_nothing_about_is_told_so(bot: Bot) -> None:
    stranger = bot.chat(LocalUser(6001, "Stan", "Stranger"))
    await stranger.send("/mydata")
    assert stranger.last_text == words.NOTHING_HELD.replace("<b>", "").replace("</b>", "")


async def test_a_copy_asked_for_in_the_bot_reaches_the_coordinator_by_reference_only(
    bot: Bot, student: LocalChat
) -> None:
    await staffed(bot)
    await submit_sheet(student)
    case = await case_reference(bot, await student_id(bot))
    await student.send("/mydata")
    await student.press(words.BTN_ASK_COPY)
    due = requests.due_on(today(bot))
    assert f"by {day(due)}" in student.last_text
    await student.send("/mydata")
    assert f"A copy of your data, asked on {day(today(bot))}: we will reply by {day(due)}" in (
        student.last_text
    )
    await student.press(words.BTN_ASK_COPY)
    assert student.last_text == words.REQUEST_PROBLEMS["already_open"]

    await deliver(bot)
    told = [t for t in texts_to(bot, COORDINATOR) if "New request" in t]
    assert len(told) == 1
    assert case in told[0] and f"due {day(due)}" in told[0]
    assert not any(word in told[0] for word in STUDENT_WORDS)
    coordinator = bot.chat(COORDINATOR)
    await coordinator.send("/requests")
    assert "Open requests" in coordinator.last_text
    assert case in coordinator.last_text and day(due) in coordinator.last_text
    (received,) = await entries(bot, AuditAction.REQUEST_RECEIVED)
    assert received.actor.startswith("student:") and received.detail["kind"] == "access"


async def test_staff_record_a_request_from_the_day_it_was_received(
    bot: Bot, student: LocalChat
) -> None:
    await staffed(bot)
    await submit_sheet(student)
    case = await case_reference(bot, await student_id(bot))
    adviser = bot.chat(ADVISER)
    await adviser.send("/request")
    assert adviser.last_text.startswith("Record a request")
    received = today(bot) - timedelta(days=6)
    await adviser.send(f"/request {case} copy {received.isoformat()} email")
    due = requests.due_on(received)
    assert f"due {day(due)}" in adviser.last_text
    await adviser.send(f"/request {case} copy tomorrow email")
    assert adviser.last_text == words.REQUEST_PROBLEMS["bad_date"]
    future = (today(bot) + timedelta(days=1)).isoformat()
    await adviser.send(f"/request {case} delete {future} letter")
    assert adviser.last_text == words.REQUEST_PROBLEMS["future_date"]
    async with bot.deps.uow() as uow:
        row = await uow.session.scalar(select(SubjectRequest))
    assert row is not None and row.received_on == received and row.channel == "email"


async def open_copy_request(bot: Bot, student: LocalChat) -> str:
    await staffed(bot)
    await submit_sheet(student)
    await student.send("/mydata")
    await student.press(words.BTN_ASK_COPY)
    coordinator = bot.chat(COORDINATOR)
    await coordinator.send("/requests")
    found = REFERENCE.search(coordinator.last_text)
    assert found is not None
    return found.group(0)


async def test_an_extension_is_given_once_with_a_reason_the_student_is_told(
    bot: Bot, student: LocalChat
) -> None:
    ref = await open_copy_request(bot, student)
    coordinator = bot.chat(COORDINATOR)
    await coordinator.send(f"/requests extend {ref} 2")
    assert coordinator.last_text.startswith("/requests:")  # no reason: the usage
    await coordinator.send(f"/requests extend {ref} 2 Many documents to review")
    extended = requests.due_on(today(bot), extended_months=2)
    assert f"now due {day(extended)}" in coordinator.last_text
    await coordinator.send(f"/requests extend {ref} 1 Again")
    assert coordinator.last_text == words.REQUEST_PROBLEMS["already_extended"]
    await deliver(bot)
    assert any(
        "we need more time" in t and "Many documents to review" in t and day(extended) in t
        for t in texts_to(bot, student.user)
    )
    await coordinator.send(f"/requests unextend {ref}")
    assert f"now due {day(requests.due_on(today(bot)))}" in coordinator.last_text


async def test_no_extension_once_the_first_month_is_over(bot: Bot, student: LocalChat) -> None:
    ref = await open_copy_request(bot, student)
    bot.deps.clock.advance(timedelta(days=40))  # type: ignore[attr-defined]
    coordinator = bot.chat(COORDINATOR)
    await coordinator.send(f"/requests extend {ref} 1 Too late now")
    assert coordinator.last_text == words.REQUEST_PROBLEMS["first_month_over"]


async def test_a_pause_moves_the_due_date_by_its_length(bot: Bot, student: LocalChat) -> None:
    ref = await open_copy_request(bot, student)
    received = today(bot)
    coordinator = bot.chat(COORDINATOR)
    await coordinator.send(f"/requests pause {ref} identity")
    assert "clock is stopped" in coordinator.last_text
    await deliver(bot)
    assert any("check that the request comes from you" in t for t in texts_to(bot, student.user))
    bot.deps.clock.advance(timedelta(days=5))  # type: ignore[attr-defined]
    await coordinator.send(f"/requests resume {ref}")
    assert f"now due {day(requests.due_on(received, paused_days=5))}" in coordinator.last_text
    await coordinator.send(f"/requests resume {ref}")
    assert coordinator.last_text == words.REQUEST_PROBLEMS["not_paused"]
    await coordinator.send(f"/requests sent {ref}")
    assert "closed (sent)" in coordinator.last_text
    await coordinator.send("/requests")
    assert coordinator.last_text == words.NO_OPEN_REQUESTS
    (answered,) = await entries(bot, AuditAction.REQUEST_ANSWERED)
    assert answered.detail["on_time"] is True
    async with bot.deps.uow() as uow:
        opened = await statistics.read_all(uow, bot.deps)
    counted = [c for c in opened if c.event is StatEvent.REQUEST_ANSWERED and c.tally]
    assert [(c.facets["outcome"], c.facets["on_time"], c.tally) for c in counted] == [
        ("access", "yes", 1)
    ]


async def test_reminders_come_seven_days_and_one_day_before_and_when_overdue_once_each(
    bot: Bot, student: LocalChat
) -> None:
    await open_copy_request(bot, student)
    due = requests.due_on(today(bot))
    clock = bot.deps.clock

    async def on(d: date) -> int:
        clock.set(clock.now() + (d - today(bot)) * 1)  # type: ignore[attr-defined]
        first = await requests.remind(bot.deps)
        again = await requests.remind(bot.deps)
        assert again == 0
        return first

    assert await on(due - timedelta(days=8)) == 0
    assert await on(due - timedelta(days=7)) == 1
    assert await on(due - timedelta(days=1)) == 1
    assert await on(due) == 0
    assert await on(due + timedelta(days=1)) == 1
    assert await on(due + timedelta(days=2)) == 0  # overdue is said once
    await deliver(bot)
    told = texts_to(bot, COORDINATOR)
    assert sum("is due in 7 days" in t for t in told) == 1
    assert sum("is due tomorrow" in t for t in told) == 1
    assert sum(t.startswith("Overdue") for t in told) == 1


async def test_an_accepted_deletion_removes_the_student_and_keeps_the_register_line(
    bot: Bot, student: LocalChat
) -> None:
    await staffed(bot)
    await submit_sheet(student)
    await student.send("/mydata")
    await student.press(words.BTN_ASK_DELETE)
    assert student.last_text == words.DELETE_CONFIRM
    await student.press(words.BTN_DELETE_YES)
    assert "request to delete your records" in student.last_text
    coordinator = bot.chat(COORDINATOR)
    await coordinator.send("/requests")
    ref_found = REFERENCE.search(coordinator.last_text)
    assert ref_found is not None and "deletion" in coordinator.last_text
    ref = ref_found.group(0)
    await coordinator.send(f"/requests sent {ref}")
    assert coordinator.last_text == words.REQUEST_PROBLEMS["wrong_kind"]
    await coordinator.send(f"/requests accept {ref}")
    assert "closed (accepted)" in coordinator.last_text
    for model in (Student, Case, InformationSheet, ConsentEntry):
        assert await count(bot, model) == 0, model.__name__
    async with bot.deps.uow() as uow:
        row = await uow.session.scalar(select(SubjectRequest))
    assert row is not None and row.student_id is None and row.status == "accepted"
    await deliver(bot)
    assert any(words.DELETION_DONE in t for t in texts_to(bot, student.user))
    purge = await entries(bot, AuditAction.RETENTION_PURGE)
    assert len(purge) == 1 and purge[0].detail["students"] == 1


async def test_a_declined_deletion_tells_the_student_why_and_keeps_everything(
    bot: Bot, student: LocalChat
) -> None:
    await staffed(bot)
    await submit_sheet(student)
    await student.send("/mydata")
    await student.press(words.BTN_ASK_DELETE)
    await student.press(words.BTN_DELETE_YES)
    coordinator = bot.chat(COORDINATOR)
    await coordinator.send("/requests")
    found = REFERENCE.search(coordinator.last_text)
    assert found is not None
    await coordinator.send(f"/requests decline {found.group(0)} Your case is still open")
    assert "closed (declined)" in coordinator.last_text
    assert await count(bot, Student) == 1
    await deliver(bot)
    assert any(
        "we cannot delete them now" in t and "Your case is still open" in t
        for t in texts_to(bot, student.user)
    )
    await student.send("/mydata")
    assert "Deleting your records" in student.last_text and "declined on" in student.last_text


async def test_forged_or_unknown_request_references_are_refused_kindly(
    bot: Bot, student: LocalChat
) -> None:
    await open_copy_request(bot, student)
    coordinator = bot.chat(COORDINATOR)
    for typed in ("R-ZZZZZZ", "<b>x</b>", "R-" + "A" * 300):
        await coordinator.send(f"/requests sent {typed}")
        assert coordinator.last_text == words.REQUEST_PROBLEMS["unknown"]
    await coordinator.send("/requests frobnicate R-123456")
    assert coordinator.last_text.startswith("/requests:")
