"""The statistics this service publishes: its catalogue of series.

Each series is one kind of event (`StatEvent`) by fixed dimensions (one, or two crossed),
published for the one granularity the installation chose (`USS_STATS_GRANULARITY`: months,
terms or academic years, chosen once). Two series of the same event share that granularity
and no dimension, which `check_catalogue` enforces when the catalogue is built (at start-up,
and by the command line): then they have only the block's grand total in common (see
`publication`).

The removed-from-course count is kept per term and crossed with nothing: its series is a
bare count, per term (or per academic year, where that is the installation's choice), never
per month.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.services.errors import StatisticsProblem, StatisticsRequestRefused
from bot.services.statistics.events import OTHER
from bot.services.statistics.periods import Granularity
from bot.services.statistics.publication import PublicationSeries, check_catalogue
from bot.settings import Settings
from bot.vocabulary import (
    AppointmentMode,
    AppointmentStatus,
    ConsentScope,
    DisclosureBasis,
    StatEvent,
    YearOfStudy,
)

GRANULARITIES = {
    "month": Granularity.MONTH,
    "term": Granularity.TERM,
    "year": Granularity.ACADEMIC_YEAR,
}
# The only row of a bare count.
ALL = "all"
# How long each kind of period is counted in: every event by the month, but the
# removed-from-course count, which only ever holds a term.
COUNTED_PER = {StatEvent.REMOVED_FROM_COURSE: Granularity.TERM}
_COARSENESS = (Granularity.MONTH, Granularity.TERM, Granularity.ACADEMIC_YEAR)
# How the rule's explanations name each kind of event (one name per kind: the rule groups
# series by it).
EVENT_NAMES = {
    StatEvent.CASE_OPENED: "cases opened",
    StatEvent.CASE_CLOSED: "cases closed",
    StatEvent.APPOINTMENT_OUTCOME: "appointment outcomes",
    StatEvent.CONSENT_AT_SUBMISSION: "consent at submission",
    StatEvent.DISCLOSURE_MADE: "disclosures",
    StatEvent.REQUEST_ANSWERED: "requests answered",
    StatEvent.SECURITY_NOTICE: "Security notices",
    StatEvent.REMOVED_FROM_COURSE: "removed from course",
}


@dataclass(frozen=True)
class Dimension:
    """What a table's rows (or columns) are: one facet of the counters, and its values.

    Every value is listed, used or not (so a category nobody used shows as 0): the
    vocabulary's, or the configured list's (`configured`, with `Other` for values since
    removed). A bare count has no facet and one row.
    """

    name: str  # as a request names it
    facet: str | None  # the `statistics` column it reads; None: the count alone
    values: tuple[str, ...] = ()
    configured: str | None = None  # the Settings list its values come from

    def labels(self, settings: Settings) -> tuple[str, ...]:
        if self.configured is None:
            return self.values
        listed: tuple[str, ...] = getattr(settings, self.configured)
        return listed if OTHER in listed else (*listed, OTHER)


CATEGORY = Dimension("category", "category", configured="categories")
MODE = Dimension("mode", "mode", tuple(m.value for m in AppointmentMode))
YEAR = Dimension("year", "year_of_study", tuple(y.value for y in YearOfStudy))
CASE_OUTCOME = Dimension("outcome", "outcome", configured="case_outcomes")
APPOINTMENT_OUTCOME = Dimension(
    "outcome",
    "outcome",
    tuple(
        s.value
        for s in (
            AppointmentStatus.ATTENDED,
            AppointmentStatus.NO_SHOW,
            AppointmentStatus.CANCELLED,
            AppointmentStatus.CANCELLED_BY_SERVICE,
        )
    ),
)
SCOPE = Dimension("scope", "scope", tuple(s.value for s in ConsentScope))
ANSWER = Dimension("answer", "outcome", ("granted", "refused"))
BASIS = Dimension(
    "basis",
    "basis",
    tuple(b.value for b in DisclosureBasis if b is not DisclosureBasis.SECURITY_TIMES),
)
ON_TIME = Dimension("on-time", "on_time", ("yes", "no"))
COUNT = Dimension(ALL, None, (ALL,))


@dataclass(frozen=True)
class Series:
    """One published series: its name, the events it counts, by what, and for which periods."""

    name: str
    event: StatEvent
    dimensions: tuple[Dimension, ...]
    granularity: Granularity

    @property
    def publication(self) -> PublicationSeries:
        """What the disclosure-control rule knows of it."""
        return PublicationSeries(
            EVENT_NAMES[self.event], tuple(d.name for d in self.dimensions), self.granularity
        )

    @property
    def is_count(self) -> bool:
        return self.dimensions == (COUNT,)

    @property
    def counted_per(self) -> Granularity:
        return COUNTED_PER.get(self.event, Granularity.MONTH)

    def dimension(self, name: str) -> Dimension:
        return next(d for d in self.dimensions if d.name == name)


# (name, event, dimensions): the series, in the order they are listed.
_SERIES: tuple[tuple[str, StatEvent, tuple[Dimension, ...]], ...] = (
    ("opened", StatEvent.CASE_OPENED, (CATEGORY, MODE)),
    ("opened-by-year", StatEvent.CASE_OPENED, (YEAR,)),
    ("closed", StatEvent.CASE_CLOSED, (CASE_OUTCOME,)),
    ("appointments", StatEvent.APPOINTMENT_OUTCOME, (MODE, APPOINTMENT_OUTCOME)),
    ("consent", StatEvent.CONSENT_AT_SUBMISSION, (SCOPE, ANSWER)),
    ("disclosures", StatEvent.DISCLOSURE_MADE, (BASIS,)),
    ("requests", StatEvent.REQUEST_ANSWERED, (ON_TIME,)),
    ("security", StatEvent.SECURITY_NOTICE, (COUNT,)),
    ("removed", StatEvent.REMOVED_FROM_COURSE, (COUNT,)),
)
# The series the chart draws: cases opened, by category (the margin of category × mode).
CHART_SERIES = "opened"
CHART_DIMENSION = "category"


@dataclass(frozen=True)
class Catalogue:
    """Every series this installation publishes, checked against the rule."""

    granularity: Granularity
    series: tuple[Series, ...]

    def find(self, name: str) -> Series:
        """The series of that name, or a refusal listing the names there are."""
        for series in self.series:
            if series.name == name.strip().lower():
                return series
        raise StatisticsRequestRefused(
            StatisticsProblem.UNKNOWN_SERIES,
            f"there is no series {name.strip()!r}; there are: {self.names()}",
        )

    def by_dimensions(self, names: Sequence[str]) -> Series:
        """The series published by exactly these dimensions (in either order)."""
        wanted = {n.strip().lower() for n in names if n.strip()}
        for series in self.series:
            if not series.is_count and {d.name for d in series.dimensions} == wanted:
                return series
        listed = "; ".join(
            f"{s.name} by {','.join(d.name for d in s.dimensions)}"
            for s in self.series
            if not s.is_count
        )
        raise StatisticsRequestRefused(
            StatisticsProblem.WRONG_DIMENSIONS,
            f"no series is published by {','.join(sorted(wanted)) or 'nothing'}; "
            f"there are: {listed} (and the bare counts: "
            f"{', '.join(s.name for s in self.series if s.is_count)})",
        )

    def names(self) -> str:
        return ", ".join(s.name for s in self.series)


def build_catalogue(settings: Settings) -> Catalogue:
    """The catalogue for the granularity configured, refused if two series could be played
    against each other (`check_catalogue`)."""
    chosen = GRANULARITIES[settings.stats_granularity]
    series = tuple(
        Series(name, event, dimensions, _coarser(chosen, COUNTED_PER.get(event)))
        for name, event, dimensions in _SERIES
    )
    check_catalogue(s.publication for s in series)
    return Catalogue(chosen, series)


def _coarser(chosen: Granularity, counted: Granularity | None) -> Granularity:
    """The chosen granularity, or the one the event is counted in if that is coarser."""
    if counted is None:
        return chosen
    return max(chosen, counted, key=_COARSENESS.index)


def ordered(series: Series, names: Iterable[str]) -> tuple[str, ...]:
    """Dimension names as the series lists them (`mode,category` is `category,mode`)."""
    wanted = [n.strip().lower() for n in names if n.strip()]
    if sorted(wanted) == sorted(d.name for d in series.dimensions):
        return tuple(d.name for d in series.dimensions)
    return tuple(wanted)
