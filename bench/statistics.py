"""Statistics reports over ten years of events at 10,000 cases a year: time and peak memory.

    python -m bench.statistics [--years 10] [--cases 10000] [--engines sqlite,postgresql]
                               [--granularities month,term,year]

Ten academic years of events (September 2016 to August 2026) are simulated case by case with
a fixed seed (a category, year of study and mode; one or two appointments and their
outcome; the five consent answers at submission; the case closed with an outcome and weeks
open; now and then a disclosure, a request answered, a Security notice, a removal from the
course) and counted as the bot counts them: into the `statistics` table's sealed counters (by
month and facets; the removed count by term), each written once by its total rather than
event by event. Then, for each granularity, as the command line would:

- `opened`: cases opened by category × mode over all ten years, one table per block
  (120 months, 30 terms or 10 years), through the disclosure-control rule;
- every series of the catalogue over the ten years;
- the `opened` report rendered as CSV, XLSX and PNG.

Each step is timed (wall clock, `time.perf_counter`), then run again under `tracemalloc`
for its peak Python memory (tracemalloc slows it, so the two are separate runs). Prints
figures; asserts nothing on time, but stops if a report does not cover every block or a
grand total is not what was counted (rounded).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import random
import time
import tracemalloc
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from typing import TypeVar

from sqlalchemy import func, select

from bench.intake import database
from bot import statistics_files as files
from bot.app import build_deps
from bot.clock import FixedClock
from bot.services.deps import Deps
from bot.services.statistics import events, reports
from bot.services.statistics.catalogue import Series, build_catalogue
from bot.services.statistics.disclosure_control import round_to_base
from bot.services.statistics.events import FACET_NAMES, WEEK_BUCKETS, term_of
from bot.services.statistics.periods import Month, parse_period
from bot.services.statistics.publication import Report, ReportRequest
from bot.settings import Settings
from bot.vocabulary import (
    AppointmentMode,
    AppointmentStatus,
    ConsentScope,
    DisclosureBasis,
    RecipientKind,
    StatEvent,
    YearOfStudy,
)
from storage.crypto import AuditKey, BlindIndex, KeyRing, new_key_material, parse_key_spec
from storage.models import StatisticsCount

FIRST_YEAR = 2016
# After the last academic year simulated: every block is over.
NOW = datetime(2026, 9, 15, 12, 0, tzinfo=UTC)
SEED = 13
BATCH = 2000
T = TypeVar("T")
Key = tuple[str, ...]  # (period, event, *facets in FACET_NAMES order)


def _key(period: str, event: StatEvent, **facets: str) -> Key:
    return (period, event.value, *(facets.get(name, "") for name in FACET_NAMES))


def simulate(years: int, cases: int, settings: Settings) -> Counter[Key]:
    """Counters as the bot would have left them after `years` years of `cases` a year."""
    pick = random.Random(SEED)
    counts: Counter[Key] = Counter()
    categories = settings.categories
    outcomes = settings.case_outcomes
    modes = [m.value for m in AppointmentMode]
    years_of_study = [y.value for y in YearOfStudy]
    statuses = [
        AppointmentStatus.ATTENDED,
        AppointmentStatus.ATTENDED,
        AppointmentStatus.ATTENDED,
        AppointmentStatus.NO_SHOW,
        AppointmentStatus.CANCELLED,
        AppointmentStatus.CANCELLED_BY_SERVICE,
    ]
    weeks = [label for _, label in WEEK_BUCKETS]
    bases = [DisclosureBasis.CONSENT] * 8 + [
        DisclosureBasis.WELFARE,
        DisclosureBasis.LEGAL_OBLIGATION,
    ]
    for year in range(FIRST_YEAR, FIRST_YEAR + years):
        for _ in range(cases):
            month = Month(year, 9).plus(pick.randrange(12))
            period = month.name
            # Busier categories first: a skewed, realistic spread.
            category = categories[min(int(pick.expovariate(0.45)), len(categories) - 1)]
            mode = pick.choices(modes, weights=(6, 2, 3))[0]
            counts[
                _key(
                    period,
                    StatEvent.CASE_OPENED,
                    category=category,
                    year_of_study=pick.choice(years_of_study),
                    mode=mode,
                    client="returning" if pick.random() < 0.2 else "new",
                )
            ] += 1
            for scope in ConsentScope:
                answer = "granted" if pick.random() < 0.85 else "refused"
                counts[
                    _key(period, StatEvent.CONSENT_AT_SUBMISSION, scope=scope.value, outcome=answer)
                ] += 1
            for _ in range(1 + (pick.random() < 0.3)):
                status = pick.choice(statuses)
                counts[
                    _key(period, StatEvent.APPOINTMENT_OUTCOME, mode=mode, outcome=status.value)
                ] += 1
                if mode == AppointmentMode.IN_PERSON.value and pick.random() < 0.1:
                    counts[_key(period, StatEvent.SECURITY_NOTICE)] += 1
            closed = month.plus(pick.randrange(4))
            counts[
                _key(
                    closed.name,
                    StatEvent.CASE_CLOSED,
                    category=category,
                    outcome=pick.choice(outcomes),
                    weeks_open=pick.choice(weeks),
                )
            ] += 1
            if pick.random() < 0.15:
                counts[
                    _key(
                        period,
                        StatEvent.DISCLOSURE_MADE,
                        basis=pick.choice(bases).value,
                        recipient=RecipientKind.SCHOOL.value,
                    )
                ] += 1
            if pick.random() < 0.01:
                on_time = "yes" if pick.random() < 0.9 else "no"
                counts[
                    _key(period, StatEvent.REQUEST_ANSWERED, outcome="access", on_time=on_time)
                ] += 1
            if pick.random() < 0.02:
                day = datetime(month.year, month.number, 1, tzinfo=UTC).date()
                counts[_key(term_of(day), StatEvent.REMOVED_FROM_COURSE)] += 1
    return counts


async def store(deps: Deps, counts: Counter[Key]) -> None:
    """Each counter written once, by its total, through the bot's own (sealing) counter."""
    items = list(counts.items())
    for start in range(0, len(items), BATCH):
        async with deps.uow() as uow:
            for key, tally in items[start : start + BATCH]:
                facets = {n: v for n, v in zip(FACET_NAMES, key[2:], strict=True) if v}
                await events.count(uow, deps, StatEvent(key[1]), key[0], tally, **facets)
            await uow.commit()


async def measured(work: Callable[[], Awaitable[T]]) -> tuple[T, float, float]:
    """The result, the seconds it took, and (in a second run) its peak Python memory in MiB."""
    started = time.perf_counter()
    result = await work()
    seconds = time.perf_counter() - started
    tracemalloc.start()
    try:
        await work()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, seconds, peak / 2**20


def _deps(settings: Settings, engine: object) -> Deps:
    return build_deps(
        settings,
        clock=FixedClock(NOW),
        keys=KeyRing(parse_key_spec(f"k1:{new_key_material()}")),
        index=BlindIndex.from_spec(new_key_material()),
        engine=engine,  # type: ignore[arg-type]
        audit_key=AuditKey.from_spec(new_key_material()),
    )


async def run_engine(name: str, years: int, cases: int, granularities: list[str]) -> None:
    async with database(name) as db:
        if db is None:
            print(f"{name:<11}skipped (no server)")
            return
        url, engine = db
        settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
        deps = _deps(settings, engine)
        counts = simulate(years, cases, settings)
        started = time.perf_counter()
        await store(deps, counts)
        stored = time.perf_counter() - started
        async with deps.uow() as uow:
            rows = await uow.session.scalar(select(func.count()).select_from(StatisticsCount))
        print(
            f"{name}: {years} years x {cases} cases: {rows} counters "
            f"({sum(counts.values())} events), written in {stored:.1f} s"
        )
        first, last = f"{FIRST_YEAR}/{(FIRST_YEAR + 1) % 100:02d}", f"{FIRST_YEAR + years - 1}/"
        last += f"{(FIRST_YEAR + years) % 100:02d}"
        opened_true = sum(n for k, n in counts.items() if k[1] == StatEvent.CASE_OPENED.value)
        print(f"  {'granularity':<12}{'step':<34}{'tables':>7}{'seconds':>9}{'peak MiB':>10}")
        for granularity in granularities:
            chosen = dataclasses.replace(
                deps, settings=settings.model_copy(update={"stats_granularity": granularity})
            )
            series = build_catalogue(chosen.settings).find("opened")
            request = reports.request_for(series, [first, last], reports.this_month(chosen))
            report, seconds, peak = await measured(partial(publish, chosen, series, request))
            _check(report, parse_period(first).first, parse_period(last).last, opened_true)
            _line(granularity, "opened (category x mode)", len(report.tables), seconds, peak)
            tables, seconds, peak = await measured(partial(publish_all, chosen, first, last))
            _line("", "all 9 series", tables, seconds, peak)
            for label, render in (
                ("opened as CSV", files.csv_bytes),
                ("opened as XLSX", files.xlsx_bytes),
                ("opened as PNG", files.png_bytes),
            ):
                data, seconds, peak = await measured(partial(rendered, render, series, report))
                _line("", f"{label} ({len(data) // 1024} kB)", len(report.tables), seconds, peak)


async def publish(deps: Deps, series: Series, request: ReportRequest) -> Report:
    async with deps.uow(read_only=True) as uow:
        return await reports.publish(uow, deps, series, request)


async def publish_all(deps: Deps, first: str, last: str) -> int:
    """Every series of the catalogue over the same years; the number of tables published."""
    tables = 0
    async with deps.uow(read_only=True) as uow:
        for series in build_catalogue(deps.settings).series:
            request = reports.request_for(series, [first, last], reports.this_month(deps))
            tables += len((await reports.publish(uow, deps, series, request)).tables)
    return tables


async def rendered(
    render: Callable[[Series, Report], bytes], series: Series, report: Report
) -> bytes:
    return render(series, report)


def _line(granularity: str, step: str, tables: int, seconds: float, peak: float) -> None:
    print(f"  {granularity:<12}{step:<34}{tables:>7}{seconds:>9.2f}{peak:>10.1f}")


def _check(report: Report, first: Month, last: Month, opened: int) -> None:
    blocks = [period for period, _ in report.tables]
    if blocks[0].first != first or blocks[-1].last != last:
        raise SystemExit(f"FAILED: the report covers {blocks[0].name} to {blocks[-1].name}")
    totals = [table.grand_total.count for _, table in report.tables]
    if None in totals or abs(sum(t or 0 for t in totals) - opened) > 2 * len(totals):
        raise SystemExit("FAILED: the blocks' totals are not what was counted, rounded")
    if any(t is not None and t != round_to_base(t) for t in totals):
        raise SystemExit("FAILED: a total is not rounded to 5")


async def main(years: int, cases: int, engines: list[str], granularities: list[str]) -> None:
    # The libraries load once per process (the bot's first chart pays about half a second):
    # loaded here, so the figures are of the work itself.
    import matplotlib.backends.backend_agg  # noqa: F401
    import openpyxl  # noqa: F401

    for name in engines:
        await run_engine(name, years, cases, granularities)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--granularities", default="month,term,year")
    args = parser.parse_args()
    asyncio.run(
        main(args.years, args.cases, args.engines.split(","), args.granularities.split(","))
    )
