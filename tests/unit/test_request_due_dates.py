"""When a subject request is due: one calendar month (or that month's last day), moved to the
next working day in England and Wales, moved by an extension and by pauses. Each expected
date below was worked out by hand from a calendar, not by the code under test."""

from __future__ import annotations

from datetime import date

import pytest

from bot.services.errors import RequestRefused
from bot.services.lifecycle.requests import due_on, months_after, next_working_day, parse_received

D = date.fromisoformat


@pytest.mark.parametrize(
    ("received", "extended", "paused", "due", "why"),
    [
        ("2026-01-31", 0, 0, "2026-03-02", "no 31 February; the 28th is a Saturday"),
        ("2028-01-31", 0, 0, "2028-02-29", "a leap year's 29 February, a Tuesday"),
        ("2028-02-29", 0, 0, "2028-03-29", "received on a leap day"),
        ("2026-04-30", 0, 0, "2026-06-01", "30 May is a Saturday"),
        ("2026-03-31", 0, 0, "2026-04-30", "no 31 April: the month's last day, a Thursday"),
        ("2026-07-31", 0, 0, "2026-09-01", "31 August 2026 is the late summer bank holiday"),
        ("2026-11-25", 0, 0, "2026-12-29", "Christmas Friday, a weekend, Boxing Day observed"),
        ("2026-11-26", 0, 0, "2026-12-29", "Boxing Day on a Saturday, observed on the 28th"),
        ("2026-01-31", 2, 0, "2026-04-30", "extended by two months"),
        ("2026-11-25", 1, 0, "2027-01-25", "extended by one month"),
        ("2026-12-01", 0, 10, "2027-01-11", "New Year's Day, then ten days' pause"),
    ],
)
def test_due_dates(received: str, extended: int, paused: int, due: str, why: str) -> None:
    assert due_on(D(received), extended_months=extended, paused_days=paused) == D(due), why


def test_an_extension_added_then_removed_leaves_the_first_date() -> None:
    received = D("2026-11-25")
    assert due_on(received, extended_months=2) == D("2027-02-25")
    assert due_on(received, extended_months=0) == D("2026-12-29")


def test_an_extension_is_of_one_or_two_months() -> None:
    with pytest.raises(ValueError, match="one or two"):
        due_on(D("2026-11-25"), extended_months=3)


def test_months_after_keeps_the_day_or_takes_the_last() -> None:
    assert months_after(D("2026-08-31"), 1) == D("2026-09-30")
    assert months_after(D("2026-12-15"), 1) == D("2027-01-15")
    assert months_after(D("2026-11-30"), 3) == D("2027-02-28")


def test_working_days_skip_weekends_and_bank_holidays() -> None:
    assert next_working_day(D("2026-12-07")) == D("2026-12-07")  # a Monday
    assert next_working_day(D("2026-04-03")) == D("2026-04-07")  # Good Friday to Easter Tuesday


def test_the_day_received_is_read_as_staff_type_it() -> None:
    today = D("2026-12-07")
    assert parse_received("today", today) == today
    assert parse_received("yesterday", today) == D("2026-12-06")
    assert parse_received("2026-12-01", today) == D("2026-12-01")
    assert parse_received("1/12/2026", today) == D("2026-12-01")
    for bad in ("12/31/2026", "soon", "2026-13-01", ""):
        with pytest.raises(RequestRefused):
            parse_received(bad, today)
