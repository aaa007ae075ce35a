"""The information sheet: its questions, in order, and how each answer is validated."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

from bot.vocabulary import (
    AppointmentMode,
    RejectReason,
    SheetField,
    SheetStep,
    YearOfStudy,
    YesNo,
)

NAME_MAX = 100
COURSE_MAX = 150
ACCESSIBILITY_MAX = 500
DESCRIPTION_MIN = 10
EMAIL_MAX = 254
DEADLINE_HORIZON_DAYS = 2 * 365

_NAME_SEPARATORS = frozenset(" '’.,-")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@((?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,})$")
_PHONE = re.compile(r"^\+?[\d ()-]+$")
_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}


class QuestionKind(Enum):
    TEXT = "text"
    CHOICE = "choice"
    DATE = "date"


@dataclass(frozen=True)
class Question:
    field: SheetField
    kind: QuestionKind
    optional: bool = False


QUESTIONS: tuple[Question, ...] = (
    Question(SheetField.FULL_NAME, QuestionKind.TEXT),
    Question(SheetField.STUDENT_NUMBER, QuestionKind.TEXT),
    Question(SheetField.EMAIL, QuestionKind.TEXT),
    Question(SheetField.PHONE, QuestionKind.TEXT, optional=True),
    Question(SheetField.COURSE, QuestionKind.TEXT),
    Question(SheetField.YEAR, QuestionKind.CHOICE),
    Question(SheetField.CATEGORY, QuestionKind.CHOICE),
    Question(SheetField.DESCRIPTION, QuestionKind.TEXT),
    Question(SheetField.DEADLINE, QuestionKind.DATE, optional=True),
    Question(SheetField.REMOVED, QuestionKind.CHOICE),
    Question(SheetField.ACCESSIBILITY, QuestionKind.TEXT, optional=True),
    Question(SheetField.MODE, QuestionKind.CHOICE),
)
QUESTION_BY_FIELD = {q.field: q for q in QUESTIONS}
FIELD_ORDER = tuple(q.field for q in QUESTIONS)


def question(field: SheetField) -> Question:
    return QUESTION_BY_FIELD[field]


def next_step(after: SheetField) -> SheetStep:
    """The step after answering `after` on the first pass: the next question, then review."""
    index = FIELD_ORDER.index(after)
    if index + 1 < len(FIELD_ORDER):
        return SheetStep.of(FIELD_ORDER[index + 1])
    return SheetStep.REVIEW


class AnswerRejected(Exception):
    """An answer failed validation; `reason` and `params` let texts explain why."""

    def __init__(self, reason: RejectReason, **params: object) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.params = params


@dataclass(frozen=True)
class SheetRules:
    """The configurable parts of validation, taken from settings."""

    student_number_pattern: str
    student_number_hint: str
    email_domains: tuple[str, ...]
    categories: tuple[str, ...]
    description_max: int
    zone: ZoneInfo

    def choices(self, field: SheetField) -> Sequence[str]:
        """The stored values a choice question accepts, in the order they are offered."""
        if field is SheetField.YEAR:
            return [y.value for y in YearOfStudy]
        if field is SheetField.CATEGORY:
            return list(self.categories)
        if field is SheetField.REMOVED:
            return [v.value for v in YesNo]
        if field is SheetField.MODE:
            return [m.value for m in AppointmentMode]
        raise ValueError(f"{field.value} is not a choice question")


def _clean(text: str) -> str:
    """Normalise Unicode and white space; drop control and invisible format characters."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(
        ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf")
    )
    return re.sub(r"[ \t]+", " ", text).strip()


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", _clean(text))


def _bounded(text: str, *, maximum: int, minimum: int = 1) -> str:
    if not text:
        raise AnswerRejected(RejectReason.EMPTY)
    if len(text) > maximum:
        raise AnswerRejected(RejectReason.TOO_LONG, maximum=maximum, length=len(text))
    if len(text) < minimum:
        raise AnswerRejected(RejectReason.TOO_SHORT, minimum=minimum)
    return text


def _is_name(name: str) -> bool:
    """Letters of any script with their combining marks, and the separators names use."""

    def kind(ch: str) -> str:
        return unicodedata.category(ch)[0]

    if kind(name[0]) != "L" or not (kind(name[-1]) in "LM" or name[-1] == "."):
        return False
    return all(kind(ch) in "LM" or ch in _NAME_SEPARATORS for ch in name)


def validate_full_name(raw: str) -> str:
    name = _bounded(_one_line(raw), maximum=NAME_MAX, minimum=2)
    if not _is_name(name):
        raise AnswerRejected(RejectReason.NAME_FORMAT)
    return name


def validate_student_number(raw: str, rules: SheetRules) -> str:
    number = re.sub(r"\s+", "", _clean(raw)).upper()
    _bounded(number, maximum=40)
    if not re.fullmatch(rules.student_number_pattern, number):
        raise AnswerRejected(RejectReason.STUDENT_NUMBER_FORMAT, hint=rules.student_number_hint)
    return number


def validate_email(raw: str, rules: SheetRules) -> str:
    email = _bounded(_one_line(raw).lower(), maximum=EMAIL_MAX)
    match = _EMAIL.match(email)
    if not match:
        raise AnswerRejected(RejectReason.EMAIL_FORMAT)
    domain = match.group(1)
    if rules.email_domains and not any(
        domain == allowed or domain.endswith("." + allowed) for allowed in rules.email_domains
    ):
        raise AnswerRejected(RejectReason.EMAIL_DOMAIN, domains=", ".join(rules.email_domains))
    return email


def validate_phone(raw: str) -> str:
    phone = _bounded(_one_line(raw), maximum=30)
    digits = re.sub(r"\D", "", phone)
    if not _PHONE.match(phone) or not 7 <= len(digits) <= 15:
        raise AnswerRejected(RejectReason.PHONE_FORMAT)
    return phone


def _with_letters(text: str) -> str:
    if not any(ch.isalpha() for ch in text):
        raise AnswerRejected(RejectReason.NEEDS_LETTERS)
    return text


def validate_course(raw: str) -> str:
    return _with_letters(_bounded(_one_line(raw), maximum=COURSE_MAX, minimum=2))


def validate_description(raw: str, rules: SheetRules) -> str:
    text = _bounded(_clean(raw), maximum=rules.description_max, minimum=DESCRIPTION_MIN)
    return _with_letters(text)


def validate_accessibility(raw: str) -> str:
    return _with_letters(_bounded(_clean(raw), maximum=ACCESSIBILITY_MAX, minimum=2))


def parse_date(raw: str, today: date) -> date:
    """Read the date forms people type: 2027-03-15, 15/03/2027, 15 March 2027, 15 Mar, tomorrow."""
    text = _one_line(raw).lower().rstrip(".")
    if text in ("today",):
        return today
    if text in ("tomorrow", "tmrw"):
        return today + timedelta(days=1)
    numeric = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text)
    if numeric:
        year, month, day = (int(g) for g in numeric.groups())
        return _make_date(year, month, day)
    numeric = re.fullmatch(r"(\d{1,2})[/.-](\d{1,2})(?:[/.-](\d{2}|\d{4}))?", text)
    if numeric:
        day, month = int(numeric.group(1)), int(numeric.group(2))
        year_text = numeric.group(3)
        return _with_year(day, month, year_text, today)
    words = re.fullmatch(r"(?:[a-z]+,? )?(\d{1,2})(?:st|nd|rd|th)? ([a-z]+),?(?: (\d{4}))?", text)
    if words and words.group(2) in _MONTHS:
        return _with_year(int(words.group(1)), _MONTHS[words.group(2)], words.group(3), today)
    raise AnswerRejected(RejectReason.DATE_FORMAT)


def _with_year(day: int, month: int, year_text: str | None, today: date) -> date:
    if year_text is None:
        candidate = _make_date(today.year, month, day)
        return candidate if candidate >= today else _make_date(today.year + 1, month, day)
    year = int(year_text)
    return _make_date(year + 2000 if year < 100 else year, month, day)


def _make_date(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise AnswerRejected(RejectReason.DATE_FORMAT) from None


def validate_deadline(raw: str, now: datetime, rules: SheetRules) -> str:
    today = now.astimezone(rules.zone).date()
    deadline = parse_date(raw, today)
    if deadline < today:
        raise AnswerRejected(RejectReason.DATE_PAST)
    if deadline > today + timedelta(days=DEADLINE_HORIZON_DAYS):
        raise AnswerRejected(RejectReason.DATE_TOO_FAR)
    return deadline.isoformat()


def validate_text_answer(field: SheetField, raw: str, now: datetime, rules: SheetRules) -> str:
    """Validate a typed answer to a text or date question; returns the value to store."""
    if field is SheetField.FULL_NAME:
        return validate_full_name(raw)
    if field is SheetField.STUDENT_NUMBER:
        return validate_student_number(raw, rules)
    if field is SheetField.EMAIL:
        return validate_email(raw, rules)
    if field is SheetField.PHONE:
        return validate_phone(raw)
    if field is SheetField.COURSE:
        return validate_course(raw)
    if field is SheetField.DESCRIPTION:
        return validate_description(raw, rules)
    if field is SheetField.DEADLINE:
        return validate_deadline(raw, now, rules)
    if field is SheetField.ACCESSIBILITY:
        return validate_accessibility(raw)
    raise ValueError(f"{field.value} is answered with a button")
