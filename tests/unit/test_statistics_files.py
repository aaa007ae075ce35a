"""Rendering published reports: every value a file or a chart holds is a published figure, in
the same place; true small counts never reach a renderer. No database."""

from __future__ import annotations

import csv
import io

from hypothesis import given, settings
from hypothesis import strategies as st

from bot import statistics_files as files
from bot import statistics_texts as words
from bot.services.statistics.catalogue import build_catalogue
from bot.services.statistics.periods import Month
from bot.services.statistics.publication import Report, ReportRequest, check_request, publish_report
from bot.services.statistics.tables import CountTable, Figure
from bot.settings import Settings

SETTINGS = Settings(_env_file=None)  # type: ignore[call-arg]
CATALOGUE = build_catalogue(SETTINGS)
MODES = ("in_person", "phone", "video")
NOW = Month(2027, 9)
small_skewed = st.one_of(st.integers(0, 9), st.integers(0, 60))


def report_of(name: str, tables: list[CountTable], by: tuple[str, ...] | None = None) -> Report:
    series = CATALOGUE.find(name)
    dims = by or tuple(d.name for d in series.dimensions)
    last = ("2026-autumn", "2027-spring", "2027-summer")[len(tables) - 1]
    plan = check_request(series.publication, ReportRequest("2026-autumn", last, dims), NOW)
    return publish_report(plan, dict(zip(plan.blocks, tables, strict=True)))


def figures_in_order(report: Report) -> list[Figure]:
    found: list[Figure] = []
    for _, table in report.tables:
        if table.columns:
            for cells, total in zip(table.cells, table.row_totals, strict=True):
                found.extend([*cells, total])
            found.extend([*table.column_totals, table.grand_total])
        else:
            found.extend([row[0] for row in table.cells] + [table.grand_total])
    return found


@st.composite
def opened_tables(draw: st.DrawFn) -> list[CountTable]:
    terms = draw(st.integers(1, 3))
    return [
        CountTable.two_way(
            SETTINGS.categories,
            MODES,
            {(c, m): draw(small_skewed) for c in SETTINGS.categories for m in MODES},
        )
        for _ in range(terms)
    ]


@settings(max_examples=40)
@given(opened_tables(), st.sampled_from([None, ("category",), ("mode",)]))
def test_the_csv_holds_the_published_figures_and_nothing_else(
    tables: list[CountTable], by: tuple[str, ...] | None
) -> None:
    series = CATALOGUE.find("opened")
    report = report_of("opened", tables, by)
    rows = list(csv.reader(io.StringIO(files.csv_bytes(series, report).decode("utf-8"))))
    published = figures_in_order(report)
    counts = [r[-3] for r in rows[1:]]
    assert counts == [words.MARK if f.count is None else str(f.count) for f in published]
    percents = [r[-2] for r in rows[1:]]
    assert percents == ["" if f.percent is None else str(f.percent) for f in published]
    assert not {"1", "2", "3", "4", "6", "7"} & set(counts)


def test_a_two_way_chart_draws_the_rows_totals_and_no_bar_where_hidden() -> None:
    autumn = CountTable.two_way(
        SETTINGS.categories,
        MODES,
        {("Finance", "in_person"): 43, ("Housing", "phone"): 30, ("Finance", "phone"): 3},
    )
    spring = CountTable.two_way(SETTINGS.categories, MODES, {("Housing", "video"): 5})
    series = CATALOGUE.find("opened")
    report = report_of("opened", [autumn, spring])
    periods, labels, bars = files.chart_bars(series, report)
    assert periods == ["2026-autumn", "2027-spring"]
    assert labels == list(SETTINGS.categories)
    finance = bars[labels.index("Finance")]
    assert finance[0] == report.tables[0][1].row_totals[SETTINGS.categories.index("Finance")]
    assert finance[1].suppressed  # spring: 5 people in all, nothing shown
    image = files.png_bytes(series, report)
    assert image.startswith(b"\x89PNG\r\n\x1a\n")


def test_a_bare_count_renders_its_total_alone() -> None:
    series = CATALOGUE.find("security")
    report = report_of("security", [CountTable.one_way(("all",), {"all": 12})] * 2)
    text = words.report_plain(series, report)
    assert "2026-autumn (September to December 2026): 10" in text
    assert "100%" not in text
    rows = list(csv.reader(io.StringIO(files.csv_bytes(series, report).decode("utf-8"))))
    assert rows == [
        ["period", "count", "percent", "percent of"],
        ["2026-autumn", "10", "", ""],
        ["2027-spring", "10", "", ""],
    ]
    assert files.png_bytes(series, report).startswith(b"\x89PNG")


def test_a_label_that_looks_like_a_formula_is_kept_as_text() -> None:
    odd = SETTINGS.model_copy(update={"categories": ("=SUM(A1)", "Housing")})
    series = build_catalogue(odd).find("opened")
    table = CountTable.two_way(("=SUM(A1)", "Housing", "Other"), MODES, {("Housing", "phone"): 9})
    plan = check_request(
        series.publication, ReportRequest("2026-autumn", "2026-autumn", ("category", "mode")), NOW
    )
    report = publish_report(plan, {plan.blocks[0]: table})
    assert "'=SUM(A1)" in files.csv_bytes(series, report).decode("utf-8")
