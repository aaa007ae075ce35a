"""The words of the anonymous statistics: series, labels, the key to the mark, and reports as
text (Telegram HTML for the bot, aligned plain text for the command line).

Every figure rendered here comes from a `PublishedTable` (a rounded count, a 0 or the mark),
never from a true count. Like bot/texts.py, HTML is escaped here, where messages are built.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import TYPE_CHECKING

from bot import case_texts, texts
from bot.vocabulary import AppointmentStatus, ConsentScope, StatEvent

if TYPE_CHECKING:
    from bot.services.statistics.catalogue import Series
    from bot.services.statistics.periods import Period
    from bot.services.statistics.publication import Report
    from bot.services.statistics.reports import SeriesSummary
    from bot.services.statistics.tables import Figure, PublishedTable

MARK = "*"
# The one-line key printed under every report, in every form.
KEY = (
    "* hidden: 0 to 7 people, or hidden so that such a number cannot be worked out; "
    "other counts rounded to the nearest 5, totals from the true counts (so they may not "
    "add up); percentages only where the base is 23 people or more."
)

SERIES_TITLES: Mapping[str, str] = {
    "opened": "Cases opened",
    "opened-by-year": "Cases opened",
    "closed": "Cases closed",
    "appointments": "Appointments",
    "consent": "Consent at submission",
    "disclosures": "Disclosures made",
    "requests": "Requests for a copy or deletion answered",
    "security": "Notices to Security",
    "removed": "Students removed from their course",
}
DIMENSION_TITLES: Mapping[str, str] = {
    "category": "category",
    "mode": "mode",
    "year": "year of study",
    "outcome": "outcome",
    "scope": "consent asked for",
    "answer": "answer",
    "basis": "basis",
    "on-time": "on time",
    "all": "count",
}
GRANULARITY_WORDS: Mapping[str, str] = {
    "month": "per month",
    "term": "per term",
    "academic year": "per academic year",
}
NOT_STATED = "Not stated"
NOBODY = "0 each"
COUNT_HEADER = "Count"
TOTAL = "Total"
ALL_LABEL = "All"

_OUTCOMES: Mapping[str, str] = {
    AppointmentStatus.ATTENDED.value: "Attended",
    AppointmentStatus.NO_SHOW.value: "Did not come",
    AppointmentStatus.CANCELLED.value: "Cancelled by the student",
    AppointmentStatus.CANCELLED_BY_SERVICE.value: "Cancelled by the service",
}
_SCOPES: Mapping[str, str] = {
    ConsentScope.SCHOOL.value: "Contact the school or department",
    ConsentScope.UNIVERSITY.value: "Contact other University departments",
    ConsentScope.EXTERNAL.value: "Contact organisations outside",
    ConsentScope.EMAIL.value: "Email",
    ConsentScope.REMINDERS.value: "Reminders in the chat",
}
_VALUE_LABELS: Mapping[str, Mapping[str, str]] = {
    "mode": texts.MODE_LABELS,
    "year": texts.YEAR_LABELS,
    "scope": _SCOPES,
    "answer": {"granted": "Granted", "refused": "Refused"},
    "basis": {b.value: label for b, label in case_texts.BASIS_LABELS.items()},
    "on-time": {"yes": "On time", "no": "Late"},
    "all": {"all": ALL_LABEL},
}


def value_label(series: Series, dimension: str, value: str) -> str:
    """A row's or column's label as a reader sees it (categories and outcomes are their own)."""
    if not value:
        return NOT_STATED
    if series.event is StatEvent.APPOINTMENT_OUTCOME and dimension == "outcome":
        return _OUTCOMES.get(value, value)
    return _VALUE_LABELS.get(dimension, {}).get(value, value)


def dimensions_words(by: Sequence[str]) -> str:
    return " and ".join(DIMENSION_TITLES.get(d, d) for d in by)


def title(series: Series, by: Sequence[str] | None = None) -> str:
    """`Cases opened by category and mode, per term` (a bare count: no "by")."""
    head = SERIES_TITLES.get(series.name, series.name)
    every = GRANULARITY_WORDS[series.granularity.value]
    if series.is_count:
        return f"{head}, {every}"
    return f"{head} by {dimensions_words(by or [d.name for d in series.dimensions])}, {every}"


_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def period_words(period: Period) -> str:
    """`September to December 2025`, `September 2025`, `September 2025 to August 2026`."""
    first, last = period.first, period.last
    if first == last:
        return f"{_MONTHS[first.number - 1]} {first.year}"
    if first.year == last.year:
        return f"{_MONTHS[first.number - 1]} to {_MONTHS[last.number - 1]} {last.year}"
    return f"{_MONTHS[first.number - 1]} {first.year} to {_MONTHS[last.number - 1]} {last.year}"


def figure_text(figure: Figure, *, with_percent: bool = True) -> str:
    """`45 (75%)`, `45`, `0` or `*`."""
    if figure.count is None:
        return MARK
    if with_percent and figure.percent is not None:
        return f"{figure.count} ({figure.percent}%)"
    return str(figure.count)


def _labels(
    series: Series, table: PublishedTable, by: Sequence[str]
) -> tuple[list[str], list[str]]:
    rows = [value_label(series, by[0], r) for r in table.rows]
    columns = [value_label(series, by[1], c) for c in table.columns] if table.columns else []
    return rows, columns


# ------------------------------------------------------------------- in the bot (HTML)

BTN_CHART = "Chart: cases opened by category"
USAGE = (
    "/stats: every series, with its latest period\n"
    "/stats SERIES [FROM [TO]]: one series, period by period "
    "(e.g. /stats opened 2025-autumn 2026-summer)\n"
    "/stats chart [FROM TO]: a chart of cases opened by category\n"
    "Periods are months (2026-09), terms (2026-autumn, 2027-spring, 2027-summer) or "
    "academic years (2026/27); each series is published for one kind only, whole periods "
    "that have ended."
)


def overview(summaries: Sequence[SeriesSummary]) -> str:
    """/stats: each series with its latest ended period and that period's total."""
    lines = ["<b>Statistics</b> (every figure through disclosure control)"]
    for s in summaries:
        lines.append(
            f"<b>{escape(s.series.name)}</b>: {escape(title(s.series))}. "
            f"{escape(s.latest.name)}: {figure_text(s.total)} in all"
        )
    return "\n".join([*lines, "", escape(USAGE), "", f"<i>{escape(KEY)}</i>"])


def report(series: Series, published: Report) -> str:
    """A report for the chat: each period's table as lines a phone shows whole."""
    by = list(published.by)
    blocks = [f"<b>{escape(title(series, by))}</b>"]
    for period, table in published.tables:
        blocks.append(_block_html(series, period, table, by))
    blocks.append(f"<i>{escape(KEY)}</i>")
    return "\n\n".join(blocks)


def _block_html(series: Series, period: Period, table: PublishedTable, by: Sequence[str]) -> str:
    head = f"<b>{escape(period.name)}</b> ({period_words(period)})"
    total = table.grand_total
    if series.is_count:
        return f"{head}: {figure_text(total, with_percent=False)}"
    if total.count is None:
        return f"{head}: {MARK} in all (too few people to show anything)"
    lines = [f"{head}: {figure_text(total)} in all"]
    if total.count == 0:
        return lines[0]
    rows, columns = _labels(series, table, by)
    nobody = []
    for index, label in enumerate(rows):
        row_total = table.row_totals[index] if columns else table.cells[index][0]
        if row_total.count == 0:
            nobody.append(label)  # a category nobody used: its zeros say nothing more
        elif not columns:
            lines.append(f"{escape(label)}: {figure_text(row_total)}")
        else:
            cells = ", ".join(
                f"{escape(c)} {figure_text(f)}"
                for c, f in zip(columns, table.cells[index], strict=True)
            )
            lines.append(f"{escape(label)}: {figure_text(row_total)}: {cells}")
    if nobody:
        lines.append(f"{NOBODY}: {escape(', '.join(nobody))}")
    if columns:
        margin = ", ".join(
            f"{escape(c)} {figure_text(f)}"
            for c, f in zip(columns, table.column_totals, strict=True)
        )
        lines.append(f"By {escape(DIMENSION_TITLES.get(by[1], by[1]))}: {margin}")
    return "\n".join(lines)


def refused(explanation: str) -> str:
    """A request the rule does not allow: why, and what would be."""
    return f"That report cannot be published: {escape(explanation)}.\n\n{escape(USAGE)}"


# ------------------------------------------------------------ on the command line (plain)


def report_plain(series: Series, published: Report) -> str:
    """A report as aligned plain text: one table per period, totals last, then the key."""
    by = list(published.by)
    parts = [title(series, by)]
    for period, table in published.tables:
        parts.append(_block_plain(series, period, table, by))
    parts.append(KEY)
    return "\n\n".join(parts) + "\n"


def _block_plain(series: Series, period: Period, table: PublishedTable, by: Sequence[str]) -> str:
    head = f"{period.name} ({period_words(period)})"
    if series.is_count:
        return f"{head}: {figure_text(table.grand_total, with_percent=False)}"
    rows, columns = _labels(series, table, by)
    header = [*columns, TOTAL] if columns else [COUNT_HEADER]
    body: list[list[str]] = []
    for index, label in enumerate(rows):
        cells = [figure_text(f) for f in table.cells[index]]
        if columns:
            cells.append(figure_text(table.row_totals[index]))
        body.append([label, *cells])
    if columns:
        body.append([TOTAL, *map(figure_text, table.column_totals), figure_text(table.grand_total)])
    else:
        body.append([TOTAL, figure_text(table.grand_total)])
    width = max(len(r[0]) for r in body)
    columns_width = [
        max(len(header[i]), *(len(r[i + 1]) for r in body)) for i in range(len(header))
    ]
    lines = [
        head,
        "",
        " " * width + "".join(f"  {h:>{w}}" for h, w in zip(header, columns_width, strict=True)),
    ]
    for row in body:
        shown = "".join(f"  {c:>{w}}" for c, w in zip(row[1:], columns_width, strict=True))
        lines.append(f"{row[0]:<{width}}{shown}")
    return "\n".join(lines)


# --------------------------------------------------------------------- files and the chart

CSV_PERIOD = "period"
CSV_COUNT = "count"
CSV_PERCENT = "percent"
CSV_PERCENT_OF = "percent of"
PERCENT_OF_ROW = "row total"
PERCENT_OF_ALL = "grand total"
XLSX_REPORT_SHEET = "Report"
XLSX_KEY_SHEET = "Key"
CHART_Y_LABEL = "Cases (rounded to the nearest 5)"
CHART_NOTE = (
    "* and no bar: hidden (0 to 7 people, or hidden so that such a number cannot be worked "
    "out). Counts rounded to the nearest 5."
)


def chart_title(series: Series, by: Sequence[str]) -> str:
    return title(series, by)


def chart_caption(series: Series, by: Sequence[str], first: Period, last: Period) -> str:
    span = first.name if first == last else f"{first.name} to {last.name}"
    return f"{escape(title(series, by))}, {escape(span)}.\n<i>{escape(CHART_NOTE)}</i>"


def written(path: str, form: str, periods: int) -> str:
    return f"Wrote {form.upper()} for {periods} period(s) to {path} (mode 0600)."


NEEDS_OUTPUT = "An {form} file needs --output FILE."
CLI_PERIODS = (
    "Periods: --from and --to take months (2026-09), terms (2026-autumn, 2027-spring, "
    "2027-summer) or academic years (2026/27), whole periods that have ended; without them, "
    "the latest period that has ended."
)


def cli_refused(explanation: str) -> str:
    return f"Not published: {explanation}."


NOT_WRITTEN = "Not written: cannot write {path} ({reason})."
SERIES_LISTED = "Series ({granularity}); ask for one with --series NAME:"
