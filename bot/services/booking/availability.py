"""Availability maths: weekly patterns and one-off changes become bookable slots.

Patterns are wall-clock times in the service's time zone (an adviser works 10:00 to 12:30 on
Tuesdays whatever the season); slots are returned in UTC. Across the change to and from
British Summer Time a wall-clock slot keeps its local time, a time that does not exist that
day is skipped, and an ambiguous one takes its first (summer-time) occurrence. A slot lasts its
length in real time: one whose wall-clock times straddle a clock change (a 01:30 start on the
October night would last 105 minutes) is not offered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.settings import Settings
from bot.vocabulary import AppointmentMode

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ChangeKind(StrEnum):
    ADD = "add"
    REMOVE = "remove"


@dataclass(frozen=True)
class WeeklyWindow:
    """A recurring stretch of time an adviser can see students."""

    weekday: int  # 0 = Monday
    start: time
    end: time
    mode: AppointmentMode


@dataclass(frozen=True)
class DayChange:
    """A one-off extra window, or time off (a whole day when start and end are None)."""

    day: date
    kind: ChangeKind
    start: time | None = None
    end: time | None = None
    mode: AppointmentMode | None = None


@dataclass(frozen=True)
class BookingRules:
    slot: timedelta
    buffer: timedelta
    min_notice: timedelta
    horizon: timedelta
    zone: ZoneInfo


def booking_rules(settings: Settings) -> BookingRules:
    return BookingRules(
        slot=timedelta(minutes=settings.slot_minutes),
        buffer=timedelta(minutes=settings.buffer_minutes),
        min_notice=timedelta(minutes=settings.min_notice_minutes),
        horizon=timedelta(days=settings.booking_horizon_days),
        zone=settings.zone,
    )


@dataclass(frozen=True, order=True)
class Slot:
    starts_at: datetime
    ends_at: datetime
    mode: AppointmentMode
    staff_id: str


class RangeProblem(StrEnum):
    FORMAT = "format"
    WEEKDAY = "weekday"
    TIME = "time"
    ORDER = "order"
    TOO_SHORT = "too_short"
    MODE = "mode"
    OVERLAP = "overlap"
    DATE = "date"


class InvalidRange(ValueError):
    def __init__(self, problem: RangeProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


_MODES = {
    "in person": AppointmentMode.IN_PERSON,
    "in-person": AppointmentMode.IN_PERSON,
    "person": AppointmentMode.IN_PERSON,
    "phone": AppointmentMode.PHONE,
    "telephone": AppointmentMode.PHONE,
    "video": AppointmentMode.VIDEO,
    "online": AppointmentMode.VIDEO,
}
_RANGE = re.compile(
    r"^\s*(?P<day>[a-z]+)\s+(?P<start>\d{1,2}(?::\d{2})?)\s*[-–to ]+\s*"
    r"(?P<end>\d{1,2}(?::\d{2})?)\s*(?P<mode>[a-z -]*)$"
)


def _clock_time(text: str) -> time:
    hours, _, minutes = text.partition(":")
    try:
        return time(int(hours), int(minutes or 0))
    except ValueError:
        raise InvalidRange(RangeProblem.TIME) from None


def parse_weekly_range(text: str, rules: BookingRules) -> WeeklyWindow:
    """Read 'Tue 10:00-12:30 in person' (mode defaults to in person)."""
    match = _RANGE.match(text.strip().lower())
    if not match:
        raise InvalidRange(RangeProblem.FORMAT)
    day = match.group("day")[:3]
    if day not in WEEKDAYS:
        raise InvalidRange(RangeProblem.WEEKDAY)
    start, end = _clock_time(match.group("start")), _clock_time(match.group("end"))
    if end <= start:
        raise InvalidRange(RangeProblem.ORDER)
    length = datetime.combine(date.min, end) - datetime.combine(date.min, start)
    if length < rules.slot:
        raise InvalidRange(RangeProblem.TOO_SHORT)
    mode_text = " ".join(match.group("mode").split())
    mode = _MODES.get(mode_text) if mode_text else AppointmentMode.IN_PERSON
    if mode is None:
        raise InvalidRange(RangeProblem.MODE)
    return WeeklyWindow(WEEKDAYS.index(day), start, end, mode)


def local_to_utc(day: date, at: time, zone: ZoneInfo) -> datetime | None:
    """A wall-clock time on a day, in UTC; None if that time does not exist (clocks go forward)."""
    local = datetime.combine(day, at, tzinfo=zone)
    round_trip = local.astimezone(UTC).astimezone(zone)
    if round_trip.replace(tzinfo=None) != local.replace(tzinfo=None):
        return None
    return local.astimezone(UTC)


def _windows_on(
    day: date, weekly: Sequence[WeeklyWindow], changes: Sequence[DayChange]
) -> list[tuple[time, time, AppointmentMode]]:
    todays = [c for c in changes if c.day == day]
    if any(c.kind is ChangeKind.REMOVE and c.start is None for c in todays):
        return []
    windows = [(w.start, w.end, w.mode) for w in weekly if w.weekday == day.weekday()]
    windows += [
        (c.start, c.end, c.mode)
        for c in todays
        if c.kind is ChangeKind.ADD and c.start and c.end and c.mode
    ]
    return windows


def _removed(day: date, start: time, end: time, changes: Sequence[DayChange]) -> bool:
    return any(
        c.day == day
        and c.kind is ChangeKind.REMOVE
        and c.start is not None
        and c.end is not None
        and start < c.end
        and c.start < end
        for c in changes
    )


def within_published_times(
    starts_at: datetime,
    ends_at: datetime,
    mode: AppointmentMode,
    *,
    weekly: Sequence[WeeklyWindow],
    changes: Sequence[DayChange],
    zone: ZoneInfo,
) -> bool:
    """Whether an adviser's times (of this mode, not taken off) cover the whole appointment."""
    start, end = starts_at.astimezone(zone), ends_at.astimezone(zone)
    day = start.date()
    if end.date() != day or _removed(day, start.time(), end.time(), changes):
        return False
    return any(
        window_mode is mode and w_start <= start.time() and end.time() <= w_end
        for w_start, w_end, window_mode in _windows_on(day, weekly, changes)
    )


def free_slots(
    *,
    staff_id: str,
    weekly: Sequence[WeeklyWindow],
    changes: Sequence[DayChange],
    booked: Iterable[tuple[datetime, datetime]],
    rules: BookingRules,
    now: datetime,
    mode: AppointmentMode | None = None,
) -> list[Slot]:
    """Every slot a student may book now: inside a window, not removed, clear of bookings
    (with the buffer either side), at least the minimum notice ahead, within the horizon."""
    busy = sorted(booked)
    earliest, latest = now + rules.min_notice, now + rules.horizon
    step = rules.slot + rules.buffer
    slots: set[Slot] = set()
    first_day = now.astimezone(rules.zone).date()
    for offset in range((latest.astimezone(rules.zone).date() - first_day).days + 1):
        day = first_day + timedelta(days=offset)
        for start, end, window_mode in _windows_on(day, weekly, changes):
            if mode is not None and window_mode is not mode:
                continue
            cursor = datetime.combine(day, start)
            close = datetime.combine(day, end)
            while cursor + rules.slot <= close:
                wall_end = cursor + rules.slot
                local_start, local_end = cursor.time(), wall_end.time()
                cursor += step
                if _removed(day, local_start, local_end, changes):
                    continue
                starts_at = local_to_utc(day, local_start, rules.zone)
                if starts_at is None:
                    continue
                ends_at = starts_at + rules.slot
                if ends_at.astimezone(rules.zone).replace(tzinfo=None) != wall_end:
                    continue  # the clocks change during it: its wall-clock times would lie
                if not earliest <= starts_at <= latest:
                    continue
                if any(
                    starts_at < b_end + rules.buffer and b_start - rules.buffer < ends_at
                    for b_start, b_end in busy
                ):
                    continue
                slots.add(Slot(starts_at, ends_at, window_mode, staff_id))
    return sorted(slots)
