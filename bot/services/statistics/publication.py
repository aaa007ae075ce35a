"""Which reports may be published: fixed blocks, one granularity, one set of dimensions.

**The differencing attack.** Two tables over overlapping periods give a third by subtraction:
a report for September to December less one for September to November is December, and a
December cell of 3 that both reports hid (or rounded away) comes back as the difference of
their totals. Rounding does not stop it: each total is within 2 of the truth, so the
difference is within 4 of December's, and beside December's own table that is often enough.
Nor do periods built from whole months: Sep-Dec and Sep-Nov are both unions of months.

**The rule.** Every kind of event is published as one *series*: one granularity (calendar
months, academic terms or academic years, chosen once) and one set of dimensions (one, or
two crossed). A report is a list of tables, one per whole block of that granularity, each
computed only from its own block's events; a report never shows a total across blocks. So:

- two reports the validator accepts cover either the same block or disjoint blocks, never
  part of one; the same block always gives the same table (the rule is deterministic, and a
  block is published only once it is over, so its counts no longer move); and the tables of
  disjoint blocks are counts of different events, bound by no equation. Subtracting one
  report from another leaves whole tables that were published anyway, each protected on its
  own (`disclosure_control`);
- a second granularity is refused, because a term is the sum of its months: publishing both
  would bring back the attack (term total less three published months);
- a report by one of a two-way series' dimensions is the published table's margin (the very
  same figures), never a table computed afresh, whose different complementary suppressions
  could be played against the two-way table's.

Two series of the same kind of event must share the granularity and no dimension
(`check_catalogue`): they then have only the block's grand total in common, which is
always shown when it is 8 or more (and taken as known by the audit) and hidden in every
table when it is 1 to 7. Rejected alternative: rounding each cell
with keyed noise so the same cell always rounds the same way. It makes differences noisy
rather than impossible, needs a key that must never leak or change, and still lets an
overlap of many reports be averaged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bot.services.errors import StatisticsProblem, StatisticsRequestRefused
from bot.services.statistics.disclosure_control import publish
from bot.services.statistics.periods import (
    Granularity,
    Month,
    Period,
    blocks_between,
    has_ended,
    parse_period,
)
from bot.services.statistics.tables import Axis, CountTable, PublishedTable


@dataclass(frozen=True)
class PublicationSeries:
    """How one kind of event is published: its dimensions and its one granularity."""

    events: str  # e.g. "case opened"
    dimensions: tuple[str, ...]  # one, or two crossed (rows, columns)
    granularity: Granularity

    def __post_init__(self) -> None:
        if len(self.dimensions) not in (1, 2) or len(set(self.dimensions)) != len(self.dimensions):
            raise ValueError("a series has one dimension or two different ones")


@dataclass(frozen=True)
class ReportRequest:
    """What someone asked for: from and to (period names), by which dimensions."""

    first: str
    last: str
    by: tuple[str, ...]
    per: Granularity | None = None  # None: the series' own


@dataclass(frozen=True)
class ReportPlan:
    """A request the rule accepts: whole blocks, all over, to be counted one by one."""

    series: PublicationSeries
    by: tuple[str, ...]
    blocks: tuple[Period, ...]


@dataclass(frozen=True)
class Report:
    """One published table per block, in order; never a total across blocks."""

    series: PublicationSeries
    by: tuple[str, ...]
    tables: tuple[tuple[Period, PublishedTable], ...]


def check_catalogue(catalogue: Iterable[PublicationSeries]) -> None:
    """Refuse series of one kind of event that could be played against each other."""
    seen: dict[str, list[PublicationSeries]] = {}
    for series in catalogue:
        for other in seen.setdefault(series.events, []):
            if other.granularity is not series.granularity:
                raise ValueError(f"{series.events}: one granularity for every series")
            if set(other.dimensions) & set(series.dimensions):
                raise ValueError(f"{series.events}: two series share a dimension")
        seen[series.events].append(series)


def check_request(series: PublicationSeries, request: ReportRequest, now: Month) -> ReportPlan:
    """The whole, ended blocks a request covers, or the reason it is refused."""
    _check_view(series, request)
    start, end = parse_period(request.first).first, parse_period(request.last).last
    if start > end:
        raise StatisticsRequestRefused(
            StatisticsProblem.REVERSED, f"{start.name} comes after {end.name}"
        )
    blocks = _whole_blocks(series, start, end)
    if not has_ended(blocks[-1], now):
        raise StatisticsRequestRefused(
            StatisticsProblem.NOT_ENDED,
            f"{blocks[-1].name} is not over yet: a period is published once it has ended, "
            "so that its figures never change",
        )
    return ReportPlan(series, request.by, blocks)


def _check_view(series: PublicationSeries, request: ReportRequest) -> None:
    if request.per is not None and request.per is not series.granularity:
        raise StatisticsRequestRefused(
            StatisticsProblem.WRONG_GRANULARITY, f"{_every(series)}, not per {request.per.value}"
        )
    if request.by not in (series.dimensions, *((d,) for d in series.dimensions)):
        raise StatisticsRequestRefused(
            StatisticsProblem.WRONG_DIMENSIONS,
            f"{series.events} statistics are published by {','.join(series.dimensions)}"
            + (" (or one of them)" if len(series.dimensions) > 1 else ""),
        )


def _whole_blocks(series: PublicationSeries, start: Month, end: Month) -> tuple[Period, ...]:
    blocks = blocks_between(start, end, series.granularity)
    first, last = blocks[0], blocks[-1]
    if first.first != start:
        raise StatisticsRequestRefused(
            StatisticsProblem.NOT_WHOLE_BLOCKS,
            f"{_every(series)}: {start.name} does not begin one "
            f"({first.name} begins {first.first.name})",
        )
    if last.last != end:
        raise StatisticsRequestRefused(
            StatisticsProblem.NOT_WHOLE_BLOCKS,
            f"{_every(series)}: {end.name} does not end one ({last.name} ends {last.last.name})",
        )
    return blocks


def _every(series: PublicationSeries) -> str:
    return f"{series.events} statistics are published per {series.granularity.value}"


def publish_report(plan: ReportPlan, counts: Mapping[Period, CountTable]) -> Report:
    """Each block's table as it may be published, by the series' dimensions or one of them.

    `counts` holds, for each block of the plan, the true counts of that block alone, by all
    the series' dimensions.
    """
    if set(counts) != set(plan.blocks):
        raise ValueError("one table for each block of the plan, and no other")
    two_way = len(plan.series.dimensions) == 2
    if any(table.is_two_way != two_way for table in counts.values()):
        raise ValueError("the tables do not have the series' dimensions")
    tables = tuple((p, _view(plan, publish(counts[p]))) for p in plan.blocks)
    return Report(plan.series, plan.by, tables)


def _view(plan: ReportPlan, table: PublishedTable) -> PublishedTable:
    if plan.by == plan.series.dimensions:
        return table
    return table.margin(Axis.ROWS if plan.by == plan.series.dimensions[:1] else Axis.COLUMNS)
