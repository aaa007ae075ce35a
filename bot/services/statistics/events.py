"""Counting what happens, anonymously: one counter per period and facets, incremented in the
transaction of the change it counts (so a rolled-back change counts nothing).

Every facet is from a closed vocabulary (the configured categories and outcomes, the enums),
never free text; periods are months in the service's time zone, and the removed-from-course
count is kept per academic term only, crossed with nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.services.deps import Deps
from bot.vocabulary import (
    AppointmentMode,
    AppointmentStatus,
    ConsentScope,
    DisclosureBasis,
    RecipientKind,
    StatEvent,
    YearOfStudy,
)
from storage.models import StatisticsCount
from storage.uow import UnitOfWork

OTHER = "Other"
# How long a case was open, in weeks, bucketed so a duration names no one.
WEEK_BUCKETS: tuple[tuple[int, str], ...] = (
    (1, "0-1"),
    (4, "2-4"),
    (12, "5-12"),
    (26, "13-26"),
    (52, "27-52"),
)
LONGEST_BUCKET = "53+"
FACET_NAMES = (
    "category",
    "year_of_study",
    "mode",
    "client",
    "outcome",
    "weeks_open",
    "scope",
    "basis",
    "recipient",
    "on_time",
)


def month_of(deps: Deps, moment: datetime) -> str:
    return moment.astimezone(deps.settings.zone).strftime("%Y-%m")


def term_of(day: date) -> str:
    """The academic term a day falls in: autumn (Sep–Dec), spring (Jan–Apr), summer (May–Aug),
    named by the academic year, e.g. 2026-27 autumn."""
    start = day.year if day.month >= 9 else day.year - 1
    name = "autumn" if day.month >= 9 else "spring" if day.month <= 4 else "summer"
    return f"{start}-{(start + 1) % 100:02d} {name}"


def weeks_bucket(opened: datetime, closed: datetime) -> str:
    weeks = max((closed - opened) // timedelta(weeks=1), 0)
    for upper, label in WEEK_BUCKETS:
        if weeks <= upper:
            return label
    return LONGEST_BUCKET


def category_facet(deps: Deps, typed: object) -> str:
    """A configured category; anything else (a category since removed) counts as Other."""
    return typed if isinstance(typed, str) and typed in deps.settings.categories else OTHER


def outcome_facet(deps: Deps, outcome: object) -> str:
    return outcome if isinstance(outcome, str) and outcome in deps.settings.case_outcomes else OTHER


def _closed(value: object, vocabulary: type[object]) -> str:
    allowed = {str(v) for v in vocabulary}  # type: ignore[attr-defined]
    return str(value) if str(value) in allowed else ""


COUNTER_BYTES = 256


def counter_key(deps: Deps, event: StatEvent, period: str, facets: Mapping[str, str]) -> str:
    """The keyed digest a counter is found by (its facets in a fixed order)."""
    named = "|".join(f"{name}={facets.get(name, '')}" for name in FACET_NAMES)
    return deps.index.digest("statistics", f"{period}|{event.value}|{named}")


@dataclass(frozen=True)
class Counted:
    """One counter, opened: what reports read."""

    period: str
    event: StatEvent
    facets: dict[str, str]
    tally: int


def _open(deps: Deps, row: StatisticsCount) -> Counted:
    raw = deps.cipher.open_json(row, "sealed", row.sealed)
    return Counted(raw["period"], StatEvent(raw["event"]), dict(raw["facets"]), int(raw["tally"]))


def _seal(deps: Deps, row: StatisticsCount, counted: Counted) -> None:
    row.sealed = deps.cipher.seal_json(
        row,
        "sealed",
        {
            "period": counted.period,
            "event": counted.event.value,
            "facets": counted.facets,
            "tally": counted.tally,
        },
        pad_to=COUNTER_BYTES,
    )


async def _locked(uow: UnitOfWork, key: str) -> StatisticsCount | None:
    return await uow.session.scalar(
        select(StatisticsCount).where(StatisticsCount.counter_key == key).with_for_update()
    )


async def count(
    uow: UnitOfWork, deps: Deps, event: StatEvent, period: str, by: int = 1, **facets: str
) -> None:
    """Add `by` (0 too: the row is written either way) to the counter of this event, period
    and facets, in the caller's transaction."""
    unknown = set(facets) - set(FACET_NAMES)
    if unknown:
        raise ValueError(f"not a statistics facet: {sorted(unknown)}")
    named = {name: facets.get(name, "") for name in FACET_NAMES}
    key = counter_key(deps, event, period, named)
    session = uow.session
    row = await _locked(uow, key)
    if row is None:
        try:
            async with session.begin_nested():
                row = StatisticsCount(counter_key=key)
                _seal(deps, row, Counted(period, event, named, by))
                session.add(row)
                await session.flush()
            return
        except IntegrityError:  # another transaction added this counter first
            row = await _locked(uow, key)
            assert row is not None
    before = _open(deps, row)
    _seal(deps, row, Counted(period, event, named, before.tally + by))


async def read_all(uow: UnitOfWork, deps: Deps) -> list[Counted]:
    """Every counter, opened (reports choose what they need)."""
    rows = await uow.session.execute(select(StatisticsCount))
    return [_open(deps, row) for row in rows.scalars()]


async def case_opened(
    uow: UnitOfWork,
    deps: Deps,
    at: datetime,
    *,
    category: object,
    year: object,
    mode: object,
    returning: bool,
) -> None:
    await count(
        uow,
        deps,
        StatEvent.CASE_OPENED,
        month_of(deps, at),
        category=category_facet(deps, category),
        year_of_study=_closed(year, YearOfStudy),
        mode=_closed(mode, AppointmentMode),
        client="returning" if returning else "new",
    )


async def case_closed(
    uow: UnitOfWork,
    deps: Deps,
    at: datetime,
    *,
    category: object,
    outcome: str,
    opened_at: datetime,
) -> None:
    await count(
        uow,
        deps,
        StatEvent.CASE_CLOSED,
        month_of(deps, at),
        category=category_facet(deps, category),
        outcome=outcome_facet(deps, outcome),
        weeks_open=weeks_bucket(opened_at, at),
    )


async def appointment_outcome(
    uow: UnitOfWork,
    deps: Deps,
    starts_at: datetime,
    *,
    mode: str,
    outcome: AppointmentStatus,
    by: int = 1,
) -> None:
    """Attended, no-show, cancelled by the student or by the service (counted in the month
    the appointment was for)."""
    await count(
        uow,
        deps,
        StatEvent.APPOINTMENT_OUTCOME,
        month_of(deps, starts_at),
        by,
        mode=_closed(mode, AppointmentMode),
        outcome=outcome.value,
    )


async def consent_at_submission(
    uow: UnitOfWork, deps: Deps, at: datetime, scope: ConsentScope, granted: bool
) -> None:
    """Both counters of the scope are written (one by 0), so a copy of the database cannot
    tell which choice a submission made."""
    for outcome, chosen in (("granted", granted), ("refused", not granted)):
        await count(
            uow,
            deps,
            StatEvent.CONSENT_AT_SUBMISSION,
            month_of(deps, at),
            1 if chosen else 0,
            scope=scope.value,
            outcome=outcome,
        )


async def disclosure_made(
    uow: UnitOfWork, deps: Deps, at: datetime, basis: DisclosureBasis, recipient: RecipientKind
) -> None:
    await count(
        uow,
        deps,
        StatEvent.DISCLOSURE_MADE,
        month_of(deps, at),
        basis=basis.value,
        recipient=recipient.value,
    )


async def request_answered(
    uow: UnitOfWork, deps: Deps, at: datetime, *, kind: str, on_time: bool
) -> None:
    await count(
        uow,
        deps,
        StatEvent.REQUEST_ANSWERED,
        month_of(deps, at),
        outcome=kind,
        on_time="yes" if on_time else "no",
    )


async def security_notice_sent(uow: UnitOfWork, deps: Deps, at: datetime, by: int = 1) -> None:
    """Only how many: never with whom, when or about what (by 0 where a notice's stand-in
    was queued instead, so the counter is written either way)."""
    await count(uow, deps, StatEvent.SECURITY_NOTICE, month_of(deps, at), by)


async def removed_from_course(uow: UnitOfWork, deps: Deps, at: datetime, by: int = 1) -> None:
    """A number per term, crossed with nothing (not even the month); written by 0 for every
    sheet and change of the flag that adds no one."""
    await count(
        uow,
        deps,
        StatEvent.REMOVED_FROM_COURSE,
        term_of(at.astimezone(deps.settings.zone).date()),
        by,
    )
