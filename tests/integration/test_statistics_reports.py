"""Reports on both engines: a series' counters summed block by block, and published only
through the disclosure-control rule, exactly as the rule publishes the same counts."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from bot.services.deps import Deps
from bot.services.errors import StatisticsProblem, StatisticsRequestRefused
from bot.services.statistics import events, reports
from bot.services.statistics.catalogue import GRANULARITIES, build_catalogue
from bot.services.statistics.disclosure_control import publish
from bot.services.statistics.periods import Granularity, Period, parse_period
from bot.services.statistics.publication import ReportRequest
from bot.services.statistics.tables import CountTable
from bot.settings import Settings
from bot.vocabulary import AuditAction, StatEvent, StatisticsForm
from storage.audit import entries as audit_entries

AUTUMN_2025 = ("2025-09", "2025-10", "2025-11", "2025-12")
SPRING_2026 = ("2026-01", "2026-02", "2026-03", "2026-04")


Opened = tuple[str, str, str, int]  # period, category, mode, how many


def opened(period: str, category: str, mode: str, tally: int) -> Opened:
    return (period, category, mode, tally)


async def put(deps: Deps, counts: list[Opened]) -> None:
    """Cases opened, written into the (sealed) counters as years of use leave them."""
    async with deps.uow() as uow:
        for period, category, mode, tally in counts:
            await events.count(
                uow,
                deps,
                StatEvent.CASE_OPENED,
                period,
                tally,
                category=category,
                year_of_study="2",
                mode=mode,
                client="new",
            )
        await uow.commit()


async def counted_in(deps: Deps, series_name: str, block: Period) -> CountTable:
    series = build_catalogue(deps.settings).find(series_name)
    async with deps.uow() as uow:
        counted = await events.read_all(uow, deps)
    return reports.block_counts(counted, deps.settings, series, [block])[block]


def with_granularity(deps: Deps, granularity: str) -> Deps:
    settings = deps.settings.model_copy(update={"stats_granularity": granularity})
    return dataclasses.replace(deps, settings=settings)


async def test_a_term_sums_its_months_and_publishes_as_the_rule_does(deps: Deps) -> None:
    # Given counters spread over autumn's months, two of them with a year of study apart
    await put(
        deps,
        [
            opened("2025-09", "Housing", "in_person", 20),
            opened("2025-10", "Housing", "in_person", 11),
            opened("2025-11", "Housing", "phone", 16),
            opened("2025-12", "Finance", "in_person", 43),
            opened("2025-10", "Finance", "video", 12),
            opened("2025-11", "Finance", "phone", 3),
            opened("2026-01", "Finance", "phone", 50),  # spring: not in autumn's table
        ],
    )
    # Through the counter as well, in the same month: it adds to the same table
    async with deps.uow() as uow:
        await events.count(
            uow,
            deps,
            StatEvent.CASE_OPENED,
            "2025-09",
            category="Academic appeal",
            year_of_study="1",
            mode="video",
            client="returning",
        )
        await uow.commit()
    catalogue = build_catalogue(deps.settings)
    series = catalogue.find("opened")
    autumn = parse_period("2025-autumn")
    counted = await counted_in(deps, "opened", autumn)
    # Then the true table is the autumn months' sum, every category and mode listed
    categories = (*deps.settings.categories,)
    expected = CountTable.two_way(
        categories,
        ("in_person", "phone", "video"),
        {
            ("Housing", "in_person"): 31,
            ("Housing", "phone"): 16,
            ("Finance", "in_person"): 43,
            ("Finance", "video"): 12,
            ("Finance", "phone"): 3,
            ("Academic appeal", "video"): 1,
        },
    )
    assert counted == expected
    # And the report is exactly what the rule publishes of it
    async with deps.uow() as uow:
        report = await reports.publish(
            uow, deps, series, ReportRequest("2025-09", "2025-12", ("category", "mode"))
        )
    assert report.tables == ((autumn, publish(expected)),)


async def test_a_request_across_part_of_a_term_is_refused_with_the_reason(deps: Deps) -> None:
    await put(deps, [opened(m, "Housing", "phone", 9) for m in (*AUTUMN_2025, *SPRING_2026)])
    series = build_catalogue(deps.settings).find("opened")
    async with deps.uow() as uow:
        with pytest.raises(StatisticsRequestRefused) as refused:
            await reports.publish(
                uow, deps, series, ReportRequest("2025-09", "2025-11", ("category", "mode"))
            )
    assert refused.value.problem is StatisticsProblem.NOT_WHOLE_BLOCKS
    assert "2025-11 does not end one (2025-autumn ends 2025-12)" in refused.value.explanation
    assert "9" not in refused.value.explanation.split()  # a refusal holds no count


async def test_a_block_not_yet_over_is_refused(deps: Deps) -> None:
    # The clock is in November 2026: autumn 2026 is not over.
    series = build_catalogue(deps.settings).find("opened")
    async with deps.uow() as uow:
        with pytest.raises(StatisticsRequestRefused) as refused:
            await reports.publish(
                uow,
                deps,
                series,
                reports.request_for(series, ["2026-autumn"], reports.this_month(deps)),
            )
    assert refused.value.problem is StatisticsProblem.NOT_ENDED


async def test_each_block_is_its_own_table_never_a_total_across_them(deps: Deps) -> None:
    await put(
        deps,
        [opened("2025-10", "Housing", "phone", 30), opened("2026-02", "Housing", "phone", 40)],
    )
    series = build_catalogue(deps.settings).find("opened")
    async with deps.uow() as uow:
        report = await reports.publish(
            uow, deps, series, ReportRequest("2025-autumn", "2026-spring", ("category",))
        )
    assert [(p.name, t.grand_total.count) for p, t in report.tables] == [
        ("2025-autumn", 30),
        ("2026-spring", 40),
    ]


async def test_months_or_years_as_the_installation_chose(deps: Deps) -> None:
    await put(deps, [opened(m, "Housing", "phone", 10) for m in (*AUTUMN_2025, *SPRING_2026)])
    monthly = with_granularity(deps, "month")
    series = build_catalogue(monthly.settings).find("opened")
    async with monthly.uow() as uow:
        report = await reports.publish(
            uow, monthly, series, ReportRequest("2025-09", "2025-12", ("category",))
        )
        # A term's name is its months: still one table per month.
        by_term_name = await reports.publish(
            uow, monthly, series, ReportRequest("2025-autumn", "2025-autumn", ("category",))
        )
    assert [p.name for p, _ in report.tables] == list(AUTUMN_2025)
    assert by_term_name == report
    yearly = with_granularity(deps, "year")
    series = build_catalogue(yearly.settings).find("opened")
    async with yearly.uow() as uow:
        report = await reports.publish(
            uow, yearly, series, ReportRequest("2025/26", "2025/26", ("category",))
        )
    assert [(p.name, t.grand_total.count) for p, t in report.tables] == [("2025/26", 80)]


async def test_removed_from_course_is_a_count_per_term_never_per_month(deps: Deps) -> None:
    async with deps.uow() as uow:
        for day in ("2025-10-01", "2025-11-15", "2025-12-01"):
            for _ in range(4):
                moment = datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC)
                await events.removed_from_course(uow, deps, moment)
        await uow.commit()
    for granularity, block, total in (("term", "2025-autumn", 10), ("year", "2025/26", 10)):
        chosen = with_granularity(deps, granularity)
        series = build_catalogue(chosen.settings).find("removed")
        assert series.is_count
        async with chosen.uow() as uow:
            report = await reports.publish(
                uow,
                chosen,
                series,
                reports.request_for(series, [block], reports.this_month(chosen)),
            )
        ((period, table),) = report.tables
        assert (period.name, table.grand_total.count) == (block, total)
    # An installation publishing months still publishes this one per term.
    monthly = build_catalogue(with_granularity(deps, "month").settings).find("removed")
    assert monthly.granularity is Granularity.TERM


async def test_a_category_since_removed_keeps_its_row_where_it_was_counted(deps: Deps) -> None:
    await put(
        deps, [opened("2025-10", "Visa", "phone", 9), opened("2025-10", "Housing", "phone", 9)]
    )
    autumn = parse_period("2025-autumn")
    table = await counted_in(deps, "opened", autumn)
    assert table.rows == (*deps.settings.categories, "Visa")
    assert table.count("Visa", "phone") == 9


def test_the_catalogue_passes_the_rule_for_every_granularity(settings: Settings) -> None:
    for name, granularity in GRANULARITIES.items():
        catalogue = build_catalogue(settings.model_copy(update={"stats_granularity": name}))
        assert catalogue.granularity is granularity
        names = [s.name for s in catalogue.series]
        assert len(names) == len(set(names))
        shapes = [
            frozenset(d.name for d in s.dimensions) for s in catalogue.series if not s.is_count
        ]
        assert len(shapes) == len(set(shapes))  # --by names one series at most
        assert {s.event for s in catalogue.series} == set(StatEvent)
        for series in catalogue.series:
            expected = (
                Granularity.TERM
                if series.event is StatEvent.REMOVED_FROM_COURSE and name == "month"
                else granularity
            )
            assert series.granularity is expected


def test_a_series_is_found_by_name_or_dimensions_or_refused_with_the_list(
    settings: Settings,
) -> None:
    catalogue = build_catalogue(settings)
    assert catalogue.by_dimensions(["mode", "category"]).name == "opened"
    assert catalogue.by_dimensions(["year"]).name == "opened-by-year"
    with pytest.raises(StatisticsRequestRefused) as unknown:
        catalogue.find("students")
    assert "opened, opened-by-year, closed" in unknown.value.explanation
    with pytest.raises(StatisticsRequestRefused) as crossed:
        catalogue.by_dimensions(["category", "year"])
    assert crossed.value.problem is StatisticsProblem.WRONG_DIMENSIONS
    assert "opened by category,mode" in crossed.value.explanation


async def test_every_release_is_audited_without_a_figure(deps: Deps) -> None:
    await put(deps, [opened("2025-10", "Housing", "phone", 12)])
    series = build_catalogue(deps.settings).find("opened")
    request = ReportRequest("2025-autumn", "2025-autumn", ("category", "mode"))
    async with deps.uow() as uow:
        await reports.for_export(uow, deps, series, request, StatisticsForm.CSV)
    async with deps.uow() as uow:
        found = [
            e
            async for e in audit_entries(
                uow.session, deps.cipher, action=AuditAction.STATISTICS_PUBLISHED.value
            )
        ]
    assert [e.detail for e in found] == [
        {"series": "opened", "first": "2025-autumn", "last": "2025-autumn", "form": "csv"}
    ]
