"""The .ics file: built by icalendar, parses back, folded at 75 octets, text escaped, in the
service's time zone, and saying only what the appointment is, when, how and where."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from bot.services.booking.calendar import ics
from bot.vocabulary import AppointmentMode

LONDON = ZoneInfo("Europe/London")
AWKWARD_OFFICE = (
    "USS office; Students' Union building, ground floor\\back door\n"
    "Ask at reception — café side, room 1.02; step-free entrance on Northampton Square, "
    "then follow the signs"
)


def calendar_bytes(
    *,
    starts_at: datetime = datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
    mode: AppointmentMode = AppointmentMode.IN_PERSON,
    cancelled: bool = False,
    sequence: int = 0,
    office: str = AWKWARD_OFFICE,
) -> bytes:
    return ics(
        appointment_id="0123456789abcdef0123456789abcdef",
        sequence=sequence,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=45),
        mode=mode,
        cancelled=cancelled,
        now=datetime(2026, 11, 24, 10, 0, tzinfo=UTC),
        service="Union Support Service",
        office=office,
        zone=LONDON,
    )


def the_event(content: bytes) -> Event:
    (event,) = Calendar.from_ical(content).walk("VEVENT")
    assert isinstance(event, Event)
    return event


def test_the_file_parses_back_with_icalendar_to_what_was_booked() -> None:
    event = the_event(calendar_bytes())
    assert str(event["UID"]) == "0123456789abcdef0123456789abcdef@uss-intake-bot"
    assert event.decoded("DTSTART") == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert event.decoded("DTEND") == datetime(2026, 12, 1, 10, 45, tzinfo=UTC)
    assert (str(event["SUMMARY"]), str(event["DESCRIPTION"])) == (
        "Union Support Service appointment",
        "In person",
    )
    assert str(event["STATUS"]) == "CONFIRMED"


def test_the_file_says_only_what_when_how_and_where() -> None:
    event = the_event(calendar_bytes())
    assert set(event.keys()) == {
        "UID",
        "SEQUENCE",
        "DTSTAMP",
        "DTSTART",
        "DTEND",
        "SUMMARY",
        "DESCRIPTION",
        "LOCATION",
        "STATUS",
    }
    phone = the_event(calendar_bytes(mode=AppointmentMode.PHONE))
    assert "LOCATION" not in phone
    assert str(phone["DESCRIPTION"]) == "By phone"


def test_times_are_in_the_service_time_zone_with_its_definition() -> None:
    content = calendar_bytes(starts_at=datetime(2027, 6, 1, 9, 0, tzinfo=UTC))  # 10:00 BST
    assert b"DTSTART;TZID=Europe/London:20270601T100000\r\n" in content
    assert b"DTEND;TZID=Europe/London:20270601T104500\r\n" in content
    (zone,) = Calendar.from_ical(content).walk("VTIMEZONE")
    assert str(zone["TZID"]) == "Europe/London"
    assert the_event(content).decoded("DTSTART") == datetime(2027, 6, 1, 9, 0, tzinfo=UTC)


def test_lines_are_folded_at_75_octets() -> None:
    content = calendar_bytes()
    lines = content.split(b"\r\n")
    assert lines[-1] == b""  # every line ends with CRLF
    assert max(len(line) for line in lines) <= 75
    assert any(line.startswith(b" ") for line in lines)  # the long location was folded
    for line in lines:
        line.decode("utf-8")  # never folded inside a character


def test_special_characters_in_the_location_are_escaped_and_come_back_whole() -> None:
    content = calendar_bytes()
    unfolded = content.replace(b"\r\n ", b"")
    assert b"LOCATION:USS office\\; Students' Union building\\, ground floor\\\\back door\\n" in (
        unfolded
    )
    assert str(the_event(content)["LOCATION"]) == AWKWARD_OFFICE


def test_a_move_raises_the_sequence_and_a_cancellation_cancels_the_same_uid() -> None:
    booked = the_event(calendar_bytes())
    moved = the_event(calendar_bytes(sequence=1))
    cancelled_content = calendar_bytes(sequence=2, cancelled=True)
    cancelled = the_event(cancelled_content)
    assert booked["UID"] == moved["UID"] == cancelled["UID"]
    assert [e.decoded("SEQUENCE") for e in (booked, moved, cancelled)] == [0, 1, 2]
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert str(Calendar.from_ical(cancelled_content)["METHOD"]) == "CANCEL"
