"""Statistics reports as files: CSV, an Excel workbook, a PNG chart.

Each is drawn from a published report only (`PublishedTable`s: rounded counts, zeros and the
mark), so a file can hold nothing the rule did not allow. One row of CSV or XLSX per value:
the period, the dimensions' labels (`Total` for a total), the published count or `*`, the
percentage where the rule allows one and what it is a percentage of.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence

from bot import statistics_texts as words
from bot.services.statistics.catalogue import Series
from bot.services.statistics.publication import Report
from bot.services.statistics.tables import Figure, PublishedTable

Row = tuple[str, ...]
# Chart size in inches at CHART_DPI: wide enough for a year of months by eight categories.
CHART_DPI = 100
CHART_HEIGHT = 6.5
CHART_MIN_WIDTH = 9.0
CHART_MOST_WIDTH = 24.0
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _safe(value: str) -> str:
    """A cell a spreadsheet shows as the text it is, never runs as a formula."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def header(series: Series, report: Report) -> Row:
    dimensions = () if series.is_count else tuple(words.DIMENSION_TITLES[d] for d in report.by)
    return (words.CSV_PERIOD, *dimensions, words.CSV_COUNT, words.CSV_PERCENT, words.CSV_PERCENT_OF)


def rows(series: Series, report: Report) -> Iterator[tuple[Row, Figure]]:
    """Every published value: its period and labels (the count and percent come after)."""
    by = report.by
    for period, table in report.tables:
        if series.is_count:
            yield (period.name,), table.grand_total
            continue
        labels = [words.value_label(series, by[0], r) for r in table.rows]
        if not table.columns:
            for label, (cell,) in zip(labels, table.cells, strict=True):
                yield (period.name, label), cell
            yield (period.name, words.TOTAL), table.grand_total
            continue
        columns = [words.value_label(series, by[1], c) for c in table.columns]
        for label, cells, total in zip(labels, table.cells, table.row_totals, strict=True):
            for column, cell in zip(columns, cells, strict=True):
                yield (period.name, label, column), cell
            yield (period.name, label, words.TOTAL), total
        for column, total in zip(columns, table.column_totals, strict=True):
            yield (period.name, words.TOTAL, column), total
        yield (period.name, words.TOTAL, words.TOTAL), table.grand_total


def _percent_of(series: Series, labels: Row) -> str:
    if series.is_count or labels[1:] == (words.TOTAL,) * (len(labels) - 1):
        return ""  # a grand total is not a share of anything
    two_way = len(labels) == 3
    if two_way and words.TOTAL not in labels:
        return words.PERCENT_OF_ROW
    return words.PERCENT_OF_ALL


def records(series: Series, report: Report) -> Iterator[tuple[Row, int | str, int | None, str]]:
    """(labels, count or `*`, percent, what the percent is of) for each published value."""
    for labels, figure in rows(series, report):
        count: int | str = words.MARK if figure.count is None else figure.count
        percent = None if series.is_count else figure.percent
        yield labels, count, percent, _percent_of(series, labels) if percent is not None else ""


def csv_bytes(series: Series, report: Report) -> bytes:
    """UTF-8 CSV, one row per published value."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header(series, report))
    for labels, count, percent, of in records(series, report):
        writer.writerow([*map(_safe, labels), count, "" if percent is None else percent, of])
    return out.getvalue().encode("utf-8")


def xlsx_bytes(series: Series, report: Report) -> bytes:
    """An Excel workbook: the same rows as the CSV (counts as numbers), and the key."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = words.XLSX_REPORT_SHEET
    sheet.append([words.title(series, report.by)])
    sheet.append([])
    sheet.append(list(header(series, report)))
    for cell in sheet[3]:
        cell.font = Font(bold=True)
    for labels, count, percent, of in records(series, report):
        sheet.append([*map(_safe, labels), count, percent, of])
    sheet.freeze_panes = "A4"
    key = book.create_sheet(words.XLSX_KEY_SHEET)
    key.append([words.KEY])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def chart_bars(series: Series, report: Report) -> tuple[list[str], list[str], list[list[Figure]]]:
    """What the chart draws: the periods, the labels (the report's rows; a two-way report's
    row totals) and, for each label, its published figure in each period."""
    by = report.by
    periods = [p.name for p, _ in report.tables]
    first: PublishedTable = report.tables[0][1]
    if series.is_count:
        return (
            periods,
            [words.SERIES_TITLES[series.name]],
            [[t.grand_total for _, t in report.tables]],
        )
    labels = [words.value_label(series, by[0], r) for r in first.rows]
    keys = list(first.rows)
    for _, table in report.tables[1:]:  # a category since removed, counted in some periods
        for row in table.rows:
            if row not in keys:
                keys.append(row)
                labels.append(words.value_label(series, by[0], row))
    bars: list[list[Figure]] = []
    for key in keys:
        bars.append([_row_figure(table, key) for _, table in report.tables])
    return periods, labels, bars


def _row_figure(table: PublishedTable, key: str) -> Figure:
    if key not in table.rows:
        return Figure(0)  # not a label of that period's table: nobody was counted under it
    index = table.rows.index(key)
    return table.row_totals[index] if table.columns else table.cells[index][0]


def png_bytes(series: Series, report: Report) -> bytes:
    """A bar chart (matplotlib, Agg): one group of bars per period, one bar per label (of a
    two-way report, its rows' totals); a hidden value has no bar, and a `*` where it would
    stand."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as Drawing

    periods, labels, bars = chart_bars(series, report)
    count = len(periods) * len(labels)
    width = min(CHART_MOST_WIDTH, max(CHART_MIN_WIDTH, 2.5 + 0.28 * count))
    drawing = Drawing(figsize=(width, CHART_HEIGHT), dpi=CHART_DPI)
    FigureCanvasAgg(drawing)
    axes = drawing.add_axes((0.08, 0.2, 0.62, 0.7))
    group = 0.8
    bar = group / max(1, len(labels))
    highest = max((f.count or 0 for line in bars for f in line), default=0)
    mark_at = max(highest, 5) * 0.02
    colours = _colours(len(labels))
    for i, (label, line) in enumerate(zip(labels, bars, strict=True)):
        xs = [p - group / 2 + bar * (i + 0.5) for p in range(len(periods))]
        shown = [(x, f.count) for x, f in zip(xs, line, strict=True) if f.count is not None]
        axes.bar(
            [x for x, _ in shown],
            [c for _, c in shown],
            width=bar * 0.95,
            label=label,
            color=colours[i],
        )
        for x, figure in zip(xs, line, strict=True):
            if figure.count is None:
                axes.text(x, mark_at, words.MARK, ha="center", va="bottom", fontsize=11)
    axes.set_xticks(range(len(periods)), periods, rotation=45 if len(periods) > 6 else 0)
    axes.set_ylim(0, max(highest, 5) * 1.15)
    axes.set_ylabel(words.CHART_Y_LABEL)
    axes.set_title(words.chart_title(series, report.by[:1]), fontsize=12)
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False)
    drawing.text(0.08, 0.02, words.CHART_NOTE, fontsize=9)
    out = io.BytesIO()
    drawing.savefig(
        out, format="png", metadata={"Software": None}, bbox_inches="tight", pad_inches=0.3
    )
    return out.getvalue()


def _colours(n: int) -> Sequence[tuple[float, float, float, float]]:
    from matplotlib import colormaps

    palette = colormaps["tab20" if n > 10 else "tab10"]
    return [palette(i % palette.N) for i in range(n)]
