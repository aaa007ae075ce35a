"""Counting what happens, anonymously: one counter per period and facets, incremented in the
transaction of the change it counts (so a rolled-back change counts nothing).

Every facet is from a closed vocabulary (the configured categories and outcomes, the enums),
never free text; periods are months in the service's time zone, and the removed-from-course
count is kept per academic term only, crossed with nothing.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import update
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


async def count(
    uow: UnitOfWork, deps: Deps, event: StatEvent, period: str, by: int = 1, **facets: str
) -> None:
    """Add `by` to the counter of this event, period and facets (in the caller's transaction)."""
    unknown = set(facets) - set(FACET_NAMES)
    if unknown:
        raise ValueError(f"not a statistics facet: {sorted(unknown)}")
    key = {name: facets.get(name, "") for name in FACET_NAMES}
    key.update(period=period, event=event.value)
    match = [getattr(StatisticsCount, name) == value for name, value in key.items()]
    session = uow.session
    done = await session.execute(
        update(StatisticsCount)
        .where(*match)
        .values(tally=StatisticsCount.tally + by)
        .execution_options(synchronize_session=False)
    )
    if getattr(done, "rowcount", 0):
        return
    try:
        async with session.begin_nested():
            session.add(StatisticsCount(**key, tally=by))
            await session.flush()
    except IntegrityError:  # another transaction added this counter first
        await session.execute(
            update(StatisticsCount)
            .where(*match)
            .values(tally=StatisticsCount.tally + by)
            .execution_options(synchronize_session=False)
        )


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
    await count(
        uow,
        deps,
        StatEvent.CONSENT_AT_SUBMISSION,
        month_of(deps, at),
        scope=scope.value,
        outcome="granted" if granted else "refused",
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


async def security_notice_sent(uow: UnitOfWork, deps: Deps, at: datetime) -> None:
    """Only how many: never with whom, when or about what."""
    await count(uow, deps, StatEvent.SECURITY_NOTICE, month_of(deps, at))


async def removed_from_course(uow: UnitOfWork, deps: Deps, at: datetime) -> None:
    """A number per term, crossed with nothing (not even the month)."""
    await count(
        uow, deps, StatEvent.REMOVED_FROM_COURSE, term_of(at.astimezone(deps.settings.zone).date())
    )
