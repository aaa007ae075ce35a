"""Publication periods: fixed blocks (calendar months, academic terms, academic years).

Statistics are only ever published for whole blocks, each counted on its own (see
`publication` for why). How a caller names them:

- a month: ``2026-09``;
- a term: ``2026-autumn`` (September to December 2026), ``2027-spring`` (January to April
  2027), ``2027-summer`` (May to August 2027): the year is the calendar year the term falls
  in, which is one year for every term;
- an academic year: ``2026/27`` (September 2026 to August 2027), written with a slash so it
  is never mistaken for a month (``2011-12`` is December 2011).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import Enum

from bot.services.errors import StatisticsProblem, StatisticsRequestRefused

MONTHS_IN_YEAR = 12
ACADEMIC_YEAR_START = 9  # September


class Granularity(Enum):
    MONTH = "month"
    TERM = "term"
    ACADEMIC_YEAR = "academic year"


class Term(Enum):
    AUTUMN = "autumn"  # September to December
    SPRING = "spring"  # January to April
    SUMMER = "summer"  # May to August


TERM_FIRST_MONTH = {Term.AUTUMN: 9, Term.SPRING: 1, Term.SUMMER: 5}
MONTHS_IN = {Granularity.MONTH: 1, Granularity.TERM: 4, Granularity.ACADEMIC_YEAR: 12}


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month; the finest time any statistic holds."""

    year: int
    number: int

    def __post_init__(self) -> None:
        if not 1 <= self.number <= MONTHS_IN_YEAR:
            raise ValueError(f"no month {self.number}")

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    @property
    def name(self) -> str:
        return f"{self.year:04d}-{self.number:02d}"

    def plus(self, months: int) -> Month:
        index = self.year * MONTHS_IN_YEAR + self.number - 1 + months
        return Month(index // MONTHS_IN_YEAR, index % MONTHS_IN_YEAR + 1)

    @property
    def term(self) -> Term:
        return next(t for t, first in TERM_FIRST_MONTH.items() if first <= self.number < first + 4)

    @property
    def academic_year(self) -> int:
        """The calendar year in which this month's academic year begins."""
        return self.year if self.number >= ACADEMIC_YEAR_START else self.year - 1


@dataclass(frozen=True, order=True)
class Period:
    """One fixed block of months that statistics are published for."""

    first: Month
    granularity: Granularity

    @property
    def last(self) -> Month:
        return self.first.plus(MONTHS_IN[self.granularity] - 1)

    @property
    def months(self) -> tuple[Month, ...]:
        return tuple(self.first.plus(i) for i in range(MONTHS_IN[self.granularity]))

    @property
    def name(self) -> str:
        if self.granularity is Granularity.MONTH:
            return self.first.name
        if self.granularity is Granularity.TERM:
            return f"{self.first.year:04d}-{self.first.term.value}"
        return f"{self.first.year:04d}/{(self.first.year + 1) % 100:02d}"

    def contains(self, month: Month) -> bool:
        return self.first <= month <= self.last


def block_of(month: Month, granularity: Granularity) -> Period:
    """The one block of this granularity that holds the month."""
    if granularity is Granularity.MONTH:
        return Period(month, granularity)
    if granularity is Granularity.TERM:
        return Period(Month(month.year, TERM_FIRST_MONTH[month.term]), granularity)
    return Period(Month(month.academic_year, ACADEMIC_YEAR_START), granularity)


_MONTH = re.compile(r"(\d{4})-(\d{2})")
_TERM = re.compile(r"(\d{4})-(autumn|spring|summer)")
_YEAR = re.compile(r"(\d{4})/(\d{2})")


def parse_period(text: str) -> Period:
    """A month, term or academic year from its name (``2026-09``, ``2026-autumn``, ``2026/27``)."""
    name = text.strip().lower()
    if found := _MONTH.fullmatch(name):
        number = int(found[2])
        if 1 <= number <= MONTHS_IN_YEAR:
            return Period(Month(int(found[1]), number), Granularity.MONTH)
    elif found := _TERM.fullmatch(name):
        term = Term(found[2])
        return Period(Month(int(found[1]), TERM_FIRST_MONTH[term]), Granularity.TERM)
    elif (found := _YEAR.fullmatch(name)) and int(found[2]) == (int(found[1]) + 1) % 100:
        return Period(Month(int(found[1]), ACADEMIC_YEAR_START), Granularity.ACADEMIC_YEAR)
    raise StatisticsRequestRefused(
        StatisticsProblem.UNKNOWN_PERIOD,
        "a period is a month (2026-09), a term (2026-autumn) or an academic year (2026/27)",
    )


def blocks_between(first: Month, last: Month, granularity: Granularity) -> tuple[Period, ...]:
    """The blocks of this granularity from the one holding `first` to the one holding `last`."""
    blocks: list[Period] = []
    block = block_of(first, granularity)
    while block.first <= last:
        blocks.append(block)
        block = block_of(block.last.plus(1), granularity)
    return tuple(blocks)


def has_ended(period: Period, now: Month) -> bool:
    """A block is over once the month after its last has begun; until then its counts move."""
    return period.last < now


def publishable_periods(
    granularity: Granularity, *, since: Month, now: Month
) -> tuple[Period, ...]:
    """Every block of this granularity a report may be published for: whole, and over."""
    return tuple(b for b in blocks_between(since, now, granularity) if has_ended(b, now))
