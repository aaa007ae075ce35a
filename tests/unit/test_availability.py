"""Availability maths: patterns, changes, buffers, notice, horizon, and British Summer Time."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.services.booking.availability import (
    BookingRules,
    ChangeKind,
    DayChange,
    InvalidRange,
    RangeProblem,
    Slot,
    WeeklyWindow,
    free_slots,
    local_to_utc,
    parse_weekly_range,
    within_published_times,
)
from bot.vocabulary import AppointmentMode

LONDON = ZoneInfo("Europe/London")
RULES = BookingRules(
    slot=timedelta(minutes=45),
    buffer=timedelta(minutes=15),
    min_notice=timedelta(hours=2),
    horizon=timedelta(days=28),
    zone=LONDON,
)
MONDAY_9AM = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # GMT: London = UTC
TUESDAY_MORNING = WeeklyWindow(1, time(10, 0), time(12, 30), AppointmentMode.IN_PERSON)


def slots(
    weekly: Sequence[WeeklyWindow] = (TUESDAY_MORNING,),
    changes: Sequence[DayChange] = (),
    booked: Sequence[tuple[datetime, datetime]] = (),
    now: datetime = MONDAY_9AM,
    rules: BookingRules = RULES,
    mode: AppointmentMode | None = None,
) -> list[Slot]:
    return free_slots(
        staff_id="a1",
        weekly=weekly,
        changes=changes,
        booked=booked,
        rules=rules,
        now=now,
        mode=mode,
    )


def starts(found: Sequence[Slot]) -> list[str]:
    return [s.starts_at.astimezone(LONDON).strftime("%a %d %b %H:%M") for s in found]


def test_a_weekly_window_gives_slots_of_the_set_length_separated_by_the_buffer() -> None:
    first_week = [s for s in starts(slots()) if "24 Nov" in s]
    # 10:00-10:45, buffer, 11:00-11:45; 12:00-12:45 would end after 12:30.
    assert first_week == ["Tue 24 Nov 10:00", "Tue 24 Nov 11:00"]


def test_the_horizon_limits_how_far_ahead_students_may_book() -> None:
    days = {s.split(" 1")[0] for s in starts(slots())}
    assert len(starts(slots())) == 8  # four Tuesdays within 28 days, two slots each
    assert all(s.starts_at <= MONDAY_9AM + RULES.horizon for s in slots())
    assert days


def test_minimum_notice_hides_slots_starting_too_soon() -> None:
    tuesday_9am = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert starts(slots(now=tuesday_9am))[0] == "Tue 24 Nov 11:00"  # 10:00 is under 2 h away


def test_a_day_off_removes_the_day_and_a_partial_removal_only_its_slots() -> None:
    day_off = DayChange(date(2026, 11, 24), ChangeKind.REMOVE)
    assert not any("24 Nov" in s for s in starts(slots(changes=[day_off])))
    partial = DayChange(date(2026, 11, 24), ChangeKind.REMOVE, time(10, 30), time(11, 0))
    assert [s for s in starts(slots(changes=[partial])) if "24 Nov" in s] == ["Tue 24 Nov 11:00"]
    late = DayChange(date(2026, 11, 24), ChangeKind.REMOVE, time(11, 30), time(12, 30))
    assert [s for s in starts(slots(changes=[late])) if "24 Nov" in s] == ["Tue 24 Nov 10:00"]


def test_an_extra_afternoon_adds_slots_in_its_mode() -> None:
    extra = DayChange(
        date(2026, 11, 26), ChangeKind.ADD, time(14, 0), time(15, 0), AppointmentMode.PHONE
    )
    found = [s for s in slots(changes=[extra]) if s.mode is AppointmentMode.PHONE]
    assert starts(found) == ["Thu 26 Nov 14:00"]
    assert starts(slots(changes=[extra], mode=AppointmentMode.PHONE)) == ["Thu 26 Nov 14:00"]


def test_a_booking_takes_its_slot_and_the_buffer_around_it() -> None:
    taken = (datetime(2026, 11, 24, 10, 0, tzinfo=UTC), datetime(2026, 11, 24, 10, 45, tzinfo=UTC))
    assert [s for s in starts(slots(booked=[taken])) if "24 Nov" in s] == ["Tue 24 Nov 11:00"]
    overlapping = (
        datetime(2026, 11, 24, 10, 50, tzinfo=UTC),
        datetime(2026, 11, 24, 11, 20, tzinfo=UTC),
    )
    assert [s for s in starts(slots(booked=[overlapping])) if "24 Nov" in s] == []


def test_wall_clock_slots_keep_their_local_time_across_the_change_to_summer_time() -> None:
    before = datetime(2027, 3, 20, 9, 0, tzinfo=UTC)
    found = slots(now=before)
    winter = next(s for s in found if s.starts_at.date() == date(2027, 3, 23))
    summer = next(s for s in found if s.starts_at.date() == date(2027, 3, 30))
    assert winter.starts_at.hour == 10  # GMT
    assert summer.starts_at.hour == 9  # BST: 10:00 in London is 09:00 UTC
    assert summer.starts_at.astimezone(LONDON).hour == 10


def test_a_time_that_does_not_exist_when_clocks_go_forward_is_skipped() -> None:
    night = WeeklyWindow(6, time(0, 30), time(3, 30), AppointmentMode.PHONE)  # Sunday 28 March 2027
    rules = BookingRules(
        timedelta(minutes=45), timedelta(minutes=15), timedelta(0), timedelta(days=10), LONDON
    )
    found = [
        s
        for s in slots(weekly=[night], now=datetime(2027, 3, 27, 0, 0, tzinfo=UTC), rules=rules)
        if s.starts_at.date() <= date(2027, 3, 28)
    ]
    # 00:30-01:15 would end in the missing hour, and 01:30 never happens: only 02:30 is real.
    assert starts(found) == ["Sun 28 Mar 02:30"]
    assert all(s.ends_at - s.starts_at == timedelta(minutes=45) for s in found)


def test_an_ambiguous_time_when_clocks_go_back_takes_its_first_occurrence() -> None:
    moment = local_to_utc(date(2026, 10, 25), time(1, 30), LONDON)
    assert moment == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert local_to_utc(date(2027, 3, 28), time(1, 30), LONDON) is None


@pytest.mark.parametrize(
    ("text", "window"),
    [
        ("Tue 10:00-12:30 in person", TUESDAY_MORNING),
        ("tuesday 10-12:30", TUESDAY_MORNING),
        ("Thu 14:00 - 16:00 phone", WeeklyWindow(3, time(14), time(16), AppointmentMode.PHONE)),
        ("fri 9:30–11 video", WeeklyWindow(4, time(9, 30), time(11), AppointmentMode.VIDEO)),
    ],
)
def test_typed_ranges_are_read(text: str, window: WeeklyWindow) -> None:
    assert parse_weekly_range(text, RULES) == window


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("sometime tuesday", RangeProblem.FORMAT),
        ("Tus 10:00-12:00", RangeProblem.WEEKDAY),
        ("Tue 25:00-26:00", RangeProblem.TIME),
        ("Tue 12:00-10:00", RangeProblem.ORDER),
        ("Tue 10:00-10:30", RangeProblem.TOO_SHORT),
        ("Tue 10:00-12:00 carrier pigeon", RangeProblem.MODE),
    ],
)
def test_invalid_ranges_say_why(text: str, problem: RangeProblem) -> None:
    with pytest.raises(InvalidRange) as caught:
        parse_weekly_range(text, RULES)
    assert caught.value.problem is problem


def covered(
    start: datetime,
    minutes: int = 45,
    *,
    mode: AppointmentMode = AppointmentMode.IN_PERSON,
    changes: Sequence[DayChange] = (),
) -> bool:
    return within_published_times(
        start,
        start + timedelta(minutes=minutes),
        mode,
        weekly=(TUESDAY_MORNING,),
        changes=changes,
        zone=LONDON,
    )


def test_published_times_cover_an_appointment_only_wholly_in_the_same_mode_and_not_off() -> None:
    tuesday_10 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert covered(tuesday_10)
    assert covered(tuesday_10 + timedelta(minutes=105))  # 11:45-12:30 ends as the window does
    assert not covered(tuesday_10 + timedelta(minutes=120))  # 12:00-12:45 runs past 12:30
    assert not covered(tuesday_10 - timedelta(minutes=15))
    assert not covered(tuesday_10, mode=AppointmentMode.PHONE)
    assert not covered(tuesday_10 + timedelta(days=1))  # a Wednesday
    assert not covered(tuesday_10, changes=(DayChange(date(2026, 11, 24), ChangeKind.REMOVE),))
    extra = DayChange(
        date(2026, 11, 25), ChangeKind.ADD, time(9, 0), time(11, 0), AppointmentMode.IN_PERSON
    )
    assert covered(tuesday_10 + timedelta(days=1), changes=(extra,))


def test_published_times_are_read_in_local_time_in_summer() -> None:
    # 10:00 in London on a Tuesday in June is 09:00 UTC.
    assert covered(datetime(2027, 6, 1, 9, 0, tzinfo=UTC))
    assert not covered(datetime(2027, 6, 1, 10, 0, tzinfo=UTC) + timedelta(minutes=120))


# Clock changes in London: 28 March 2027 01:00 GMT -> 02:00 BST (01:00-02:00 never happens);
# 25 October 2026 02:00 BST -> 01:00 GMT (01:00-02:00 happens twice).
SPRING_NIGHT, AUTUMN_NIGHT = date(2027, 3, 28), date(2026, 10, 25)  # both Sundays


def night_slots(day: date, start: time, end: time, slot: int = 45, buffer: int = 15) -> list[Slot]:
    rules = BookingRules(
        timedelta(minutes=slot), timedelta(minutes=buffer), timedelta(0), timedelta(days=3), LONDON
    )
    window = WeeklyWindow(6, start, end, AppointmentMode.PHONE)
    before = datetime.combine(day - timedelta(days=1), time(0), UTC)
    return [
        s
        for s in slots(weekly=[window], now=before, rules=rules)
        if s.starts_at.astimezone(LONDON).date() == day
    ]


def test_a_slot_across_the_october_change_is_not_offered_rather_than_last_105_minutes() -> None:
    found = night_slots(AUTUMN_NIGHT, time(0, 30), time(3, 30))
    # 01:30 BST + 45 minutes is 01:15 GMT: on the wall it would be 01:30-02:15, 105 minutes.
    assert starts(found) == ["Sun 25 Oct 00:30", "Sun 25 Oct 02:30"]
    assert all(s.ends_at - s.starts_at == timedelta(minutes=45) for s in found)


def test_a_slot_in_the_repeated_hour_is_offered_once_for_its_real_length() -> None:
    found = night_slots(AUTUMN_NIGHT, time(1, 0), time(2, 0))
    assert [(s.starts_at, s.ends_at) for s in found] == [
        (datetime(2026, 10, 25, 0, 0, tzinfo=UTC), datetime(2026, 10, 25, 0, 45, tzinfo=UTC))
    ]  # 01:00-01:45 BST, the first occurrence


def test_a_slot_in_the_skipped_hour_or_across_it_is_not_offered() -> None:
    assert night_slots(SPRING_NIGHT, time(1, 0), time(2, 0)) == []  # 01:xx never happens
    # 00:45-02:15 on the wall is 30 minutes of real time that night: not a 90-minute slot.
    assert night_slots(SPRING_NIGHT, time(0, 45), time(2, 15), slot=90) == []
    found = night_slots(SPRING_NIGHT, time(0, 0), time(3, 0))
    assert starts(found) == ["Sun 28 Mar 00:00", "Sun 28 Mar 02:00"]
    assert all(s.ends_at - s.starts_at == timedelta(minutes=45) for s in found)


@pytest.mark.parametrize("day", [SPRING_NIGHT, AUTUMN_NIGHT])
def test_around_either_clock_change_every_slot_lasts_its_length_inside_its_window(
    day: date,
) -> None:
    for start_minute in range(0, 240, 15):
        for slot in (30, 45, 60, 90):
            for buffer in (0, 15):
                start = time(start_minute // 60, start_minute % 60)
                found = night_slots(day, start, time(5, 0), slot=slot, buffer=buffer)
                for s in found:
                    assert s.ends_at - s.starts_at == timedelta(minutes=slot)
                    wall_start = s.starts_at.astimezone(LONDON).time()
                    wall_end = s.ends_at.astimezone(LONDON).time()
                    assert start <= wall_start < wall_end <= time(5, 0)
                for earlier, later in itertools.pairwise(found):
                    assert later.starts_at >= earlier.ends_at + timedelta(minutes=buffer)
                labels = starts(found)
                assert len(labels) == len(set(labels))
