"""`python -m bot stats`: a statistics report as text, CSV, an Excel workbook or a PNG chart.

The series is named (`--series opened`) or found by its dimensions (`--by category,mode`);
`--by` with a series chooses the view (the two-way table, or one dimension's margin). The
rule (`check_request`) refuses what it does not allow, with the reason, and the command then
exits 1. Every report written is audited as the command line's.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bot import statistics_files as files
from bot import statistics_texts as words
from bot.admin import write_private
from bot.app import build_deps
from bot.clock import SystemClock
from bot.services.errors import StatisticsRequestRefused
from bot.services.statistics import reports
from bot.services.statistics.catalogue import Catalogue, Series, build_catalogue
from bot.services.statistics.publication import Report
from bot.settings import Settings
from bot.vocabulary import StatisticsForm
from storage.engine import make_engine

FORMS = {
    form.value: form
    for form in (StatisticsForm.TEXT, StatisticsForm.CSV, StatisticsForm.XLSX, StatisticsForm.PNG)
}
_BINARY = (StatisticsForm.XLSX, StatisticsForm.PNG)


def list_series(catalogue: Catalogue) -> int:
    print(
        words.SERIES_LISTED.format(granularity=words.GRANULARITY_WORDS[catalogue.granularity.value])
    )
    for series in catalogue.series:
        dimensions = (
            "" if series.is_count else " --by " + ",".join(d.name for d in series.dimensions)
        )
        print(f"  {series.name:<16}{words.title(series)}{dimensions}")
    print(words.CLI_PERIODS)
    return 0


async def stats(
    settings: Settings,
    *,
    name: str | None,
    by: str | None,
    first: str | None,
    last: str | None,
    form: str,
    output: str | None,
) -> int:
    catalogue = build_catalogue(settings)
    dimensions = [d for d in (by or "").split(",") if d.strip()]
    if name is None and not dimensions:
        return list_series(catalogue)
    chosen = FORMS[form]
    if chosen in _BINARY and output is None:
        print(words.NEEDS_OUTPUT.format(form=form.upper()), file=sys.stderr)
        return 1
    engine = make_engine(settings.database_url)
    try:
        deps = build_deps(
            settings,
            clock=SystemClock(),
            keys=settings.key_ring(),
            index=settings.blind_index(),
            engine=engine,
            audit_key=settings.audit_chain_key(),
        )
        try:
            series = reports.choose_series(catalogue, name, dimensions)
            # One of FROM and TO alone: that period on its own.
            periods = [first or last or "", last or first or ""] if first or last else []
            request = reports.request_for(series, periods, reports.this_month(deps), dimensions)
            async with deps.uow() as uow:
                report = await reports.for_export(uow, deps, series, request, chosen)
        except StatisticsRequestRefused as refusal:
            print(words.cli_refused(refusal.explanation), file=sys.stderr)
            return 1
    finally:
        await engine.dispose()
    data = _render(chosen, series, report)
    if output is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return 0
    try:
        write_private(Path(output), data)
    except OSError as problem:
        print(words.NOT_WRITTEN.format(path=output, reason=problem.strerror), file=sys.stderr)
        return 1
    print(words.written(output, form, len(report.tables)))
    return 0


def _render(form: StatisticsForm, series: Series, report: Report) -> bytes:
    if form is StatisticsForm.CSV:
        return files.csv_bytes(series, report)
    if form is StatisticsForm.XLSX:
        return files.xlsx_bytes(series, report)
    if form is StatisticsForm.PNG:
        return files.png_bytes(series, report)
    return words.report_plain(series, report).encode("utf-8")
