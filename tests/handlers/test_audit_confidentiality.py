"""A copy of the database cannot tell from the audit log who was removed from their course.

Issue 8, point 1 (the audit log's part): the log's link between an action (a disclosure to
Security, a removed-flag change) and a student is sealed; only seq, time and MAC are in the
clear, and every sealed value has the same length; and every booking change writes the same
number of entries whatever the flag (a disclosure, or a Security assessment).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text

from bot import texts
from bot.clock import FixedClock
from bot.services.cases.cases import legacy_reference
from bot.transport import LocalChat, LocalUser
from bot.vocabulary import AuditAction, Role
from storage import audit as audit_log
from storage.models import Appointment, Student, UTCDateTime
from tests.handlers.conftest import ADVISER, SECURITY, STUDENT, Bot, add_staff, submit_sheet
from tests.handlers.test_booking_journey import adviser_with_tuesdays, deliver

OTHER_STUDENT = LocalUser(1002, "Robin", "Lee")
# What ordering and verification need; everything else must look the same in every row.
ORDER_AND_CHAIN = {"seq", "at", "mac"}


async def book_first_free_in_person(student: LocalChat) -> None:
    await student.press(texts.BTN_BOOK)
    await student.press("In person")
    await student.press(student.buttons()[0])
    await student.press(student.buttons()[0])
    await student.press(texts.BTN_CONFIRM_BOOKING)
    assert student.last_text.startswith("Booked"), student.last_text


async def journey(bot: Bot, chat: LocalChat, adviser: LocalChat, *, removed: bool) -> None:
    """Sheet, an in-person booking, and a removed-flag entry by staff."""
    await submit_sheet(chat, removed=removed)
    await book_first_free_in_person(chat)
    async with bot.deps.uow() as uow:
        student = await uow.session.scalar(
            select(Student).where(Student.telegram_index == bot.deps.telegram_key(chat.user.id))
        )
        assert student is not None
        case = legacy_reference(student.id)
    # Staff record what the student said, so each journey has a flag change.
    await adviser.send(f"/removed {case} {'on' if removed else 'off'}")
    await deliver(bot)


async def raw_audit_rows(bot: Bot) -> list[dict[str, Any]]:
    """audit_log as plain SQL sees it: no key, no model."""
    async with bot.deps.sessions() as session:
        result = await session.execute(text("SELECT * FROM audit_log ORDER BY seq"))
        return [dict(row._mapping) for row in result]


def clear_shape(row: dict[str, Any]) -> tuple[Any, ...]:
    """Everything a copy shows of a row beyond seq, time and MAC (the token's header too)."""
    shown: list[tuple[Any, ...]] = []
    for column, value in sorted(row.items()):
        if column in ORDER_AND_CHAIN:
            continue
        if isinstance(value, bytes | memoryview):
            token = bytes(value)
            shown.append((column, len(token), token[: 2 + token[1]]))
        else:
            shown.append((column, value))
    return tuple(shown)


async def test_a_copy_of_the_audit_log_cannot_tell_a_removed_student_from_another(
    bot: Bot, student: LocalChat
) -> None:
    await adviser_with_tuesdays(bot)
    await add_staff(bot, SECURITY, Role.SECURITY)
    adviser = bot.chat(ADVISER)
    clock: FixedClock = bot.deps.clock  # type: ignore[assignment]
    other = bot.chat(OTHER_STUDENT)
    windows: dict[int, tuple[datetime, datetime]] = {}
    for chat, removed in ((student, True), (other, False)):
        clock.advance(timedelta(hours=1))
        begun = clock.now()
        await journey(bot, chat, adviser, removed=removed)
        windows[chat.user.id] = (begun, clock.now())

    # The key holder sees what happened: a disclosure about the removed student only.
    async with bot.deps.uow() as uow:
        opened = [e async for e in audit_log.entries(uow.session, bot.deps.cipher)]
        appointments = list((await uow.session.execute(select(Appointment))).scalars())
        students = list((await uow.session.execute(select(Student))).scalars())
    assert AuditAction.DISCLOSURE_MADE.value in {e.action for e in opened}
    assert {e.action for e in opened} >= {
        AuditAction.REMOVED_FLAG_CHANGED.value,
        AuditAction.APPOINTMENT_BOOKED.value,
        AuditAction.SHEET_SUBMITTED.value,
    }

    # A copy shows seq, time, MAC and one sealed column, and nothing else...
    rows = await raw_audit_rows(bot)
    assert len(rows) == len(opened)
    assert set(rows[0]) == ORDER_AND_CHAIN | {"sealed"}
    # ...whose every value has the same length and header, whatever the entry says,
    shapes = Counter(clear_shape(row) for row in rows)
    assert len(shapes) == 1, shapes
    # ...and no id of a student, appointment or staff member, nor an action name, anywhere.
    dump = b"".join(
        bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode()
        for row in rows
        for v in row.values()
    )
    ids = [a.id for a in appointments] + [s.id for s in students]
    for needle in ids + [action.value for action in AuditAction]:
        assert needle.encode() not in dump
        assert needle[:16].encode() not in dump

    # Per journey, rows differ only in seq, time and MAC, and there are as many of them: a
    # removed student's booking is disclosed to Security, another's is assessed, alike.
    by_journey = {
        user: [clear_shape(r) for r in rows if begun <= r_at(r) <= ended]
        for user, (begun, ended) in windows.items()
    }
    assert Counter(by_journey[STUDENT.id]) == Counter(by_journey[OTHER_STUDENT.id])


def r_at(row: dict[str, Any]) -> datetime:
    value = row["at"]
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    result = UTCDateTime().process_result_value(value, None)  # type: ignore[arg-type]
    assert result is not None
    return result
