"""Reports: a series' counters, block by block, through the disclosure-control rule.

This is the only reader of the `statistics` table for publication, and it reads nothing
else about what happened. A request is checked by the rule first (`check_request`: whole,
ended blocks of the series' granularity, its dimensions); only then are the counters opened
(they are sealed: `events.each`, a batch at a time, once per request), each block's summed
into a table of its own, and published (`publish_report`). Nothing here returns a true
count: callers get `Report`s of `PublishedTable`s.

Every report released is audited (which series, periods and form; never a figure).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.services import audit
from bot.services.deps import Deps
from bot.services.errors import StatisticsProblem, StatisticsRequestRefused
from bot.services.staff import second_factor
from bot.services.statistics import events
from bot.services.statistics.catalogue import (
    ALL,
    CHART_DIMENSION,
    CHART_SERIES,
    Catalogue,
    Series,
    build_catalogue,
    ordered,
)
from bot.services.statistics.events import Counted
from bot.services.statistics.periods import Granularity, Month, Period, block_of
from bot.services.statistics.publication import (
    Report,
    ReportPlan,
    ReportRequest,
    check_request,
)
from bot.services.statistics.publication import publish_report as publish_plan
from bot.services.statistics.tables import CountTable, Figure
from bot.settings import Settings
from bot.vocabulary import AuditAction, Role, StatisticsForm
from storage.uow import UnitOfWork

# What the chart shows unless told: the blocks that ended in the last year.
CHART_MONTHS = 12


def this_month(deps: Deps) -> Month:
    return Month.of(deps.clock.now().astimezone(deps.settings.zone).date())


def latest_ended(granularity: Granularity, now: Month) -> Period:
    """The most recent block that is over (the one before the block holding `now`)."""
    return block_of(block_of(now, granularity).first.plus(-1), granularity)


def recent_blocks(granularity: Granularity, now: Month) -> tuple[Period, Period]:
    """The first and last of the blocks that ended in the last CHART_MONTHS months."""
    last = latest_ended(granularity, now)
    return block_of(last.last.plus(1 - CHART_MONTHS), granularity), last


def stored_periods(series: Series, block: Period) -> tuple[str, ...]:
    """The counters' periods one block is made of: its months, or the terms of the
    removed-from-course count."""
    return tuple(dict.fromkeys(block_of(m, series.counted_per).name for m in block.months))


class BlockSums:
    """The true counts of a series' blocks, summed counter by counter as they are read."""

    def __init__(self, series: Series, blocks: Sequence[Period]) -> None:
        self.series = series
        self.blocks = tuple(blocks)
        self._block_of = {name: b for b in blocks for name in stored_periods(series, b)}
        self._facets = [d.facet for d in series.dimensions if d.facet]
        self._sums: dict[Period, dict[tuple[str, ...], int]] = {b: {} for b in blocks}

    def add(self, counter: Counted) -> None:
        block = self._block_of.get(counter.period)
        if counter.event is not self.series.event or block is None:
            return
        key = tuple(counter.facets.get(f, "") for f in self._facets) or (ALL,)
        found = self._sums[block]
        found[key] = found.get(key, 0) + counter.tally

    def tables(self, settings: Settings) -> dict[Period, CountTable]:
        """Each block's table, by all the series' dimensions."""
        return {b: _table(settings, self.series, self._sums[b]) for b in self.blocks}


def block_counts(
    counted: Iterable[Counted], settings: Settings, series: Series, blocks: Sequence[Period]
) -> dict[Period, CountTable]:
    """The true counts of each block alone, by all the series' dimensions."""
    sums = BlockSums(series, blocks)
    for counter in counted:
        sums.add(counter)
    return sums.tables(settings)


async def _read(uow: UnitOfWork, deps: Deps, sums: Sequence[BlockSums]) -> None:
    """Every counter opened once, each added to every report's sums (then forgotten)."""
    async for counter in events.each(uow, deps):
        for each in sums:
            each.add(counter)


def _table(settings: Settings, series: Series, counts: dict[tuple[str, ...], int]) -> CountTable:
    # A counter corrected below zero (an outcome changed twice) counts as nothing.
    counts = {key: tally for key, tally in counts.items() if tally > 0}
    axes = []
    for position, dimension in enumerate(series.dimensions):
        listed = dimension.labels(settings)
        # A value no longer listed (a category since removed) keeps its own row in the
        # blocks that counted it, so a block's table never changes with the settings.
        extra = sorted({key[position] for key in counts} - set(listed))
        axes.append((*listed, *extra))
    if len(axes) == 1:
        return CountTable.one_way(axes[0], {key[0]: tally for key, tally in counts.items()})
    return CountTable.two_way(axes[0], axes[1], {(k[0], k[1]): t for k, t in counts.items()})


async def publish(
    uow: UnitOfWork,
    deps: Deps,
    series: Series,
    request: ReportRequest,
    *,
    most_periods: int | None = None,
) -> Report:
    """The report, if the rule allows the request (else StatisticsRequestRefused, saying why)."""
    plan = _plan(deps, series, request, most_periods)
    sums = BlockSums(series, plan.blocks)
    await _read(uow, deps, [sums])
    return publish_plan(plan, sums.tables(deps.settings))


def _plan(
    deps: Deps, series: Series, request: ReportRequest, most_periods: int | None
) -> ReportPlan:
    plan = check_request(series.publication, request, this_month(deps))
    if most_periods is not None and len(plan.blocks) > most_periods:
        raise StatisticsRequestRefused(
            StatisticsProblem.TOO_MANY_PERIODS,
            f"that is {len(plan.blocks)} periods; at most {most_periods} are shown at once",
        )
    return plan


def request_for(
    series: Series,
    periods: Sequence[str],
    now: Month,
    by: Sequence[str] = (),
) -> ReportRequest:
    """FROM and TO as typed (one period: that one alone; none: the latest that has ended)."""
    if not periods:
        latest = latest_ended(series.granularity, now).name
        periods = (latest, latest)
    elif len(periods) == 1:
        periods = (periods[0], periods[0])
    dimensions = ordered(series, by) if by else tuple(d.name for d in series.dimensions)
    return ReportRequest(periods[0], periods[1], dimensions)


async def _released(
    uow: UnitOfWork,
    deps: Deps,
    actor: str,
    form: StatisticsForm,
    series: str,
    first: str = "",
    last: str = "",
) -> None:
    await audit.record(
        uow,
        deps,
        AuditAction.STATISTICS_PUBLISHED,
        actor,
        series=series,
        first=first,
        last=last,
        form=form.value,
    )
    await uow.commit()


async def _coordinator(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> str:
    me = await second_factor.authorise(
        uow, deps, telegram_user_id, (Role.COORDINATOR,), command="stats"
    )
    return audit.staff_actor(me.id)


@dataclass(frozen=True)
class SeriesSummary:
    """One line of the overview: a series, its latest ended block, that block's total."""

    series: Series
    latest: Period
    total: Figure


async def overview(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> list[SeriesSummary]:
    """/stats: every series, with the latest block that has ended and its published total."""
    actor = await _coordinator(uow, deps, telegram_user_id)
    catalogue = build_catalogue(deps.settings)
    now = this_month(deps)
    plans = [_plan(deps, s, request_for(s, (), now), None) for s in catalogue.series]
    sums = [
        BlockSums(series, plan.blocks) for series, plan in zip(catalogue.series, plans, strict=True)
    ]
    await _read(uow, deps, sums)  # once for every series
    found = []
    for plan, summed in zip(plans, sums, strict=True):
        ((block, table),) = publish_plan(plan, summed.tables(deps.settings)).tables
        found.append(SeriesSummary(summed.series, block, table.grand_total))
    await _released(uow, deps, actor, StatisticsForm.OVERVIEW, "all")
    return found


async def for_coordinator(
    uow: UnitOfWork,
    deps: Deps,
    telegram_user_id: int,
    name: str,
    periods: Sequence[str],
    *,
    most_periods: int,
) -> tuple[Series, Report]:
    """/stats SERIES [FROM [TO]]: one series' tables, block by block, as published."""
    actor = await _coordinator(uow, deps, telegram_user_id)
    series = build_catalogue(deps.settings).find(name)
    request = request_for(series, periods, this_month(deps))
    report = await publish(uow, deps, series, request, most_periods=most_periods)
    await _released(uow, deps, actor, StatisticsForm.TEXT, series.name, request.first, request.last)
    return series, report


async def chart_for_coordinator(
    uow: UnitOfWork,
    deps: Deps,
    telegram_user_id: int,
    periods: Sequence[str],
    *,
    most_periods: int,
) -> tuple[Series, Report]:
    """/stats chart [FROM TO]: cases opened by category, block by block (the published
    margin of category × mode); by default the blocks that ended in the last year."""
    actor = await _coordinator(uow, deps, telegram_user_id)
    series = build_catalogue(deps.settings).find(CHART_SERIES)
    if not periods:
        first, last = recent_blocks(series.granularity, this_month(deps))
        periods = (first.name, last.name)
    request = request_for(series, periods, this_month(deps), by=(CHART_DIMENSION,))
    report = await publish(uow, deps, series, request, most_periods=most_periods)
    await _released(
        uow, deps, actor, StatisticsForm.CHART, series.name, request.first, request.last
    )
    return series, report


def choose_series(catalogue: Catalogue, name: str | None, by: Sequence[str]) -> Series:
    """The series a command line names, by its name or by its dimensions."""
    if name:
        return catalogue.find(name)
    return catalogue.by_dimensions(by)


async def for_export(
    uow: UnitOfWork,
    deps: Deps,
    series: Series,
    request: ReportRequest,
    form: StatisticsForm,
) -> Report:
    """A report for the command line (audited as the command line's)."""
    report = await publish(uow, deps, series, request)
    await _released(uow, deps, audit.COMMAND_LINE, form, series.name, request.first, request.last)
    return report
