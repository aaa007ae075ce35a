"""Nothing but a name, a student number and times ever reaches a Security chat.

Every other field of the sheet, the case and the appointment is filled with a random, unique
marker; the journey goes through booking, moves, cancellation, flag changes and the digest;
no marker may appear in anything sent to any Security chat.
"""

from __future__ import annotations

import re
import string
from datetime import UTC, date, datetime
from itertools import count

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.clock import FixedClock
from bot.services.booking import booking
from bot.services.cases.cases import legacy_reference
from bot.services.intake import consent
from bot.services.intake.sheet_store import latest_submitted_sheet, read_answers, write_answers
from bot.services.intake.students import find_student
from bot.services.notices import security
from bot.services.staff import staff
from bot.transport import LocalUser
from bot.vocabulary import AppointmentMode, ConsentChannel, ConsentScope, Role, SheetField
from storage.models import StaffMember
from tests.handlers.conftest import COORDINATOR, SECURITY, Bot, add_staff, submit_sheet
from tests.handlers.test_booking_journey import adviser_with_tuesdays, deliver

ALLOWED = (SheetField.FULL_NAME, SheetField.STUDENT_NUMBER, SheetField.REMOVED)
EXTRA_SECURITY_CHAT = 9001
_people = count(1)

marker = st.text(alphabet=string.ascii_letters + string.digits, min_size=6, max_size=16)


@st.composite
def markers(draw: st.DrawFn) -> dict[str, str]:
    """A distinct marker for every field Security must never see.

    The deadline must be a date: it is drawn from years no appointment can fall in, and its
    year is the marker looked for.
    """
    names = [f.value for f in SheetField if f not in (*ALLOWED, SheetField.DEADLINE)]
    names += ["adviser_name", "office_details", "consent_note"]
    found = draw(st.lists(marker, min_size=len(names), max_size=len(names), unique=True))
    marks = {
        name: f"MK{i}x{value}" for i, (name, value) in enumerate(zip(names, found, strict=True))
    }
    deadline = draw(st.dates(min_value=date(2031, 1, 1), max_value=date(2099, 12, 31)))
    marks[SheetField.DEADLINE.value] = deadline.isoformat()
    return marks


def leaked(marks: dict[str, str], text: str) -> list[str]:
    """The fields whose marker appears in text; the deadline by its year, in any date format.

    The year is looked for as a whole number, so the hexadecimal reference every message carries
    ("Ref 22065E") cannot be taken for it.
    """
    deadline = SheetField.DEADLINE.value
    found = [name for name, value in marks.items() if name != deadline and value in text]
    year = marks[deadline][:4]
    if re.search(rf"(?<![0-9A-Za-z]){year}(?![0-9A-Za-z])", text):
        found.append(deadline)
    return found


async def an_adviser_named(bot: Bot, name: str) -> str:
    """A new adviser with Tuesday times whose name is a marker."""
    return await adviser_with_tuesdays(bot, user=LocalUser(20_000 + next(_people), name, "X"))


async def fill_with_markers(bot: Bot, telegram_id: int, marks: dict[str, str]) -> str:
    """Put a marker in every answer but the name and number; add a consent note marker."""
    deps = bot.deps
    async with deps.uow() as uow:
        student = await find_student(uow, deps, telegram_id)
        assert student is not None
        sheet = await latest_submitted_sheet(uow, student.id)
        assert sheet is not None
        answers = read_answers(deps, sheet)
        for field in SheetField:
            if field not in ALLOWED:
                answers[field] = marks[field.value]
        write_answers(deps, sheet, answers)
        await consent.record_consent(
            uow,
            deps,
            student_id=student.id,
            scope=ConsentScope.SCHOOL,
            granted=True,
            channel=ConsentChannel.VERBAL,
            actor="test",
            note=marks["consent_note"],
        )
        await uow.commit()
        return student.id


async def slot_of(bot: Bot, staff_id: str, mode: AppointmentMode, skip: int = 0) -> datetime:
    async with bot.deps.uow() as uow:
        slots = await booking.open_slots(uow, bot.deps, mode=mode, staff_id=staff_id)
    return slots[skip].starts_at


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(marks=markers(), removed_on_sheet=st.booleans())
async def test_no_marker_ever_reaches_a_security_chat(
    bot: Bot, marks: dict[str, str], removed_on_sheet: bool
) -> None:
    deps = bot.deps
    clock: FixedClock = deps.clock  # type: ignore[assignment]
    clock.set(datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    deps.settings.office_details = marks["office_details"]
    deps.settings.security_chat_ids = (EXTRA_SECURITY_CHAT,)
    async with deps.uow() as uow:
        first_example = await staff.find_staff(uow, deps, SECURITY.id) is None
    if first_example:
        await add_staff(bot, SECURITY, Role.SECURITY)
        await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    adviser_id = await an_adviser_named(bot, marks["adviser_name"])
    user = LocalUser(30_000 + next(_people), "Sam", "Jones")
    student = bot.chat(user)
    await submit_sheet(student, removed=removed_on_sheet)
    student_id = await fill_with_markers(bot, user.id, marks)
    case = legacy_reference(student_id)

    async with deps.uow() as uow:
        first = await slot_of(bot, adviser_id, AppointmentMode.IN_PERSON)
        booked = await booking.book(uow, deps, user.id, adviser_id, first)
    ref = booked.appointment_id[:8]
    async with deps.uow() as uow:
        await security.set_removed_by_staff(uow, deps, COORDINATOR.id, case, True)
    for mode, skip in ((AppointmentMode.IN_PERSON, 1), (AppointmentMode.PHONE, 0)):
        async with deps.uow() as uow:
            await booking.reschedule(
                uow, deps, user.id, ref, adviser_id, await slot_of(bot, adviser_id, mode, skip)
            )
    async with deps.uow() as uow:
        await booking.reschedule(
            uow,
            deps,
            user.id,
            ref,
            adviser_id,
            await slot_of(bot, adviser_id, AppointmentMode.IN_PERSON),
        )
    clock.set(datetime(2026, 11, 30, 17, 0, tzinfo=UTC))
    await security.queue_digest(deps)
    async with deps.uow() as uow:
        await booking.cancel_mine(uow, deps, user.id, booked.appointment_id)
    async with deps.uow() as uow:
        await booking.book(
            uow,
            deps,
            user.id,
            adviser_id,
            await slot_of(bot, adviser_id, AppointmentMode.IN_PERSON),
        )
    async with deps.uow() as uow:
        await security.set_removed_by_staff(uow, deps, COORDINATOR.id, case, False)
    await deliver(bot)

    sent = [
        m.text or "" for chat in (SECURITY.id, EXTRA_SECURITY_CHAT) for m in bot.api.messages(chat)
    ]
    assert sent, "the journey must have told Security something"
    for text in sent:
        assert leaked(marks, text) == [], text
    # Sanity: the same markers do reach the adviser's summary, so the test can see them.
    async with deps.uow() as uow:
        adviser = await uow.session.scalar(select(StaffMember).where(StaffMember.id == adviser_id))
        assert adviser is not None
    adviser_chat = staff_chat(bot, adviser)
    assert any(marks["description"] in (m.text or "") for m in bot.api.messages(adviser_chat))


def staff_chat(bot: Bot, member: StaffMember) -> int:
    return int(bot.deps.cipher.open(member, "telegram_id_enc", member.telegram_id_enc) or 0)
