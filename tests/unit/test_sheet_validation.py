"""Validators for every question: what they accept, what they refuse, and why."""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bot import texts
from bot.services.intake.sheet import (
    AnswerRejected,
    SheetRules,
    parse_date,
    validate_text_answer,
)
from bot.vocabulary import RejectReason, SheetField

RULES = SheetRules(
    student_number_pattern=r"^\d{9}$",
    student_number_hint="9 digits",
    email_domains=("city.ac.uk",),
    categories=("Housing", "Other"),
    description_max=1000,
    zone=ZoneInfo("Europe/London"),
)
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
TEXT_FIELDS = [
    SheetField.FULL_NAME,
    SheetField.STUDENT_NUMBER,
    SheetField.EMAIL,
    SheetField.PHONE,
    SheetField.COURSE,
    SheetField.DESCRIPTION,
    SheetField.DEADLINE,
    SheetField.ACCESSIBILITY,
]


def rejected(field: SheetField, raw: str) -> RejectReason:
    with pytest.raises(AnswerRejected) as caught:
        validate_text_answer(field, raw, NOW, RULES)
    return caught.value.reason


@pytest.mark.parametrize(
    ("field", "raw", "stored"),
    [
        (SheetField.FULL_NAME, "  Síofra   O'Brien-Smith ", "Síofra O'Brien-Smith"),
        (SheetField.FULL_NAME, "José María Pérez", "José María Pérez"),
        (SheetField.FULL_NAME, "Aשׁ", "Aשׁ"),  # a combining mark after NFC (found by hypothesis)
        (SheetField.FULL_NAME, "देवनागरी नाम", "देवनागरी नाम"),
        (SheetField.FULL_NAME, "J. R. R. Tolkien", "J. R. R. Tolkien"),
        (SheetField.STUDENT_NUMBER, "210 012 345", "210012345"),
        (SheetField.EMAIL, "Sam.Jones@City.AC.UK", "sam.jones@city.ac.uk"),
        (SheetField.EMAIL, "sam@student.city.ac.uk", "sam@student.city.ac.uk"),
        (SheetField.PHONE, "+44 7700 900123", "+44 7700 900123"),
        (SheetField.COURSE, "BSc Computer Science", "BSc Computer Science"),
        (SheetField.DEADLINE, "15/03/2027", "2027-03-15"),
        (SheetField.DEADLINE, "2027-03-15", "2027-03-15"),
        (SheetField.DEADLINE, "15 March", "2027-03-15"),
        (SheetField.DEADLINE, "tomorrow", "2026-11-25"),
        (SheetField.DEADLINE, "today", "2026-11-24"),
    ],
)
def test_good_answers_are_stored_normalised(field: SheetField, raw: str, stored: str) -> None:
    assert validate_text_answer(field, raw, NOW, RULES) == stored


@pytest.mark.parametrize(
    ("field", "raw", "reason"),
    [
        (SheetField.FULL_NAME, "", RejectReason.EMPTY),
        (SheetField.FULL_NAME, "x" * 101, RejectReason.TOO_LONG),
        (SheetField.FULL_NAME, "<b>Sam</b>", RejectReason.NAME_FORMAT),
        (SheetField.FULL_NAME, "Sam 2", RejectReason.NAME_FORMAT),
        (SheetField.FULL_NAME, "-Sam", RejectReason.NAME_FORMAT),
        (SheetField.FULL_NAME, "Sam_Jones", RejectReason.NAME_FORMAT),
        (SheetField.STUDENT_NUMBER, "12345", RejectReason.STUDENT_NUMBER_FORMAT),
        (SheetField.STUDENT_NUMBER, "ABCDEFGHI", RejectReason.STUDENT_NUMBER_FORMAT),
        (SheetField.EMAIL, "not an email", RejectReason.EMAIL_FORMAT),
        (SheetField.EMAIL, "sam@gmail.com", RejectReason.EMAIL_DOMAIN),
        (SheetField.EMAIL, "sam@notcity.ac.uk", RejectReason.EMAIL_DOMAIN),
        (SheetField.PHONE, "call me", RejectReason.PHONE_FORMAT),
        (SheetField.PHONE, "123", RejectReason.PHONE_FORMAT),
        (SheetField.COURSE, "42", RejectReason.NEEDS_LETTERS),
        (SheetField.DESCRIPTION, "help", RejectReason.TOO_SHORT),
        (SheetField.DESCRIPTION, "x" * 1001, RejectReason.TOO_LONG),
        (SheetField.DESCRIPTION, "1234567890123", RejectReason.NEEDS_LETTERS),
        (SheetField.DEADLINE, "soonish", RejectReason.DATE_FORMAT),
        (SheetField.DEADLINE, "31/02/2027", RejectReason.DATE_FORMAT),
        (SheetField.DEADLINE, "01/01/2020", RejectReason.DATE_PAST),
        (SheetField.DEADLINE, "01/01/2030", RejectReason.DATE_TOO_FAR),
    ],
)
def test_bad_answers_are_refused_with_a_specific_reason(
    field: SheetField, raw: str, reason: RejectReason
) -> None:
    assert rejected(field, raw) is reason


def test_too_long_says_the_limit_and_the_length() -> None:
    with pytest.raises(AnswerRejected) as caught:
        validate_text_answer(SheetField.DESCRIPTION, "a" * 1500, NOW, RULES)
    message = texts.rejection(caught.value.reason, caught.value.params)
    assert "1000" in message
    assert "1500" in message


def test_deadline_uses_the_service_time_zone_not_utc() -> None:
    # 23:30 UTC on 31 March 2027 is already 1 April in London (BST).
    late = datetime(2027, 3, 31, 23, 30, tzinfo=UTC)
    assert validate_text_answer(SheetField.DEADLINE, "today", late, RULES) == "2027-04-01"


@given(st.text(max_size=12000))
def test_any_text_is_either_accepted_or_refused_with_a_reason(raw: str) -> None:
    for field in TEXT_FIELDS:
        try:
            value = validate_text_answer(field, raw, NOW, RULES)
        except AnswerRejected as problem:
            message = texts.rejection(problem.reason, problem.params)
            assert message
            assert len(message) < 1000
        else:
            assert isinstance(value, str)
            assert len(value) <= 1000


@given(st.dates(min_value=date(2026, 11, 24), max_value=date(2028, 11, 1)))
def test_every_written_form_of_a_date_reads_back(day: date) -> None:
    today = date(2026, 11, 24)
    for form in (
        day.isoformat(),
        f"{day:%d/%m/%Y}",
        f"{day.day} {day:%B %Y}",
        f"{day.day} {day:%b %Y}",
    ):
        assert parse_date(form, today) == day


@given(st.text(alphabet=st.characters(categories=["L"]), min_size=2, max_size=40))
def test_names_of_letters_in_any_script_are_accepted(name: str) -> None:
    normalised = unicodedata.normalize("NFC", name)
    assume(len(normalised) >= 2)
    assert validate_text_answer(SheetField.FULL_NAME, name, NOW, RULES) == normalised
