"""Advisers keep their own availability: weekly windows, days off and extra times."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time

from sqlalchemy import Select, select

from bot.services import audit
from bot.services.booking.adviser_day import booked_within
from bot.services.booking.availability import (
    ChangeKind,
    DayChange,
    InvalidRange,
    RangeProblem,
    WeeklyWindow,
    booking_rules,
    parse_weekly_range,
)
from bot.services.deps import Deps
from bot.services.errors import StaleAction
from bot.services.intake.sheet import AnswerRejected, parse_date
from bot.services.staff import staff
from bot.vocabulary import ADVISING_ROLES, AppointmentMode, AuditAction, Role
from storage.models import AvailabilityChange, AvailabilityWindow, StaffMember
from storage.uow import UnitOfWork


@dataclass(frozen=True)
class WindowView:
    window_id: str
    window: WeeklyWindow


@dataclass(frozen=True)
class RecordedChange:
    change: DayChange
    change_id: str
    booked_inside: int


@dataclass(frozen=True)
class Schedule:
    windows: list[WindowView]
    changes: list[DayChange]
    # Whose times these are when a coordinator works on someone else's (None: the caller's own).
    owner_name: str | None = None
    can_manage_others: bool = False


@dataclass(frozen=True)
class Managed:
    """Who is acting, and whose availability they are working on."""

    me: StaffMember
    owner: StaffMember

    @property
    def actor(self) -> str:
        return audit.staff_actor(self.me.id)


@dataclass(frozen=True)
class Adviser:
    staff_id: str
    name: str
    current: bool
    is_me: bool


def _minutes(at: time) -> int:
    return at.hour * 60 + at.minute


def _time(minute: int) -> time:
    return time(minute // 60, minute % 60)


def _can_schedule(member: StaffMember | None) -> bool:
    return member is not None and member.active and Role(member.role) in ADVISING_ROLES


async def _managed(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> Managed:
    """The caller, and whose times they work on: their own, or for a coordinator the adviser
    they chose (kept in the database, so a restart changes nothing)."""
    me = await staff.authorise(uow, deps, telegram_user_id, ADVISING_ROLES, command="availability")
    return await _managed_by(uow, me)


async def _managed_by(uow: UnitOfWork, me: StaffMember) -> Managed:
    if me.role == Role.COORDINATOR.value and me.managing_staff_id:
        owner = await uow.session.get(StaffMember, me.managing_staff_id)
        if owner is not None and _can_schedule(owner):
            return Managed(me, owner)
    return Managed(me, me)


async def _coordinator(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> Managed:
    me = await staff.authorise(
        uow, deps, telegram_user_id, (Role.COORDINATOR,), command="availability"
    )
    return await _managed_by(uow, me)


async def may_change(uow: UnitOfWork, deps: Deps, telegram_user_id: int, staff_id: str) -> str:
    """The caller's audit actor if they may change `staff_id`'s availability: their own, or
    anyone's for a coordinator. Anything else is a stale or forged press."""
    me = await staff.authorise(uow, deps, telegram_user_id, ADVISING_ROLES, command="availability")
    if not staff.acts_for(me, staff_id):
        raise StaleAction
    return audit.staff_actor(me.id)


async def my_schedule(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> Schedule:
    """The weekly pattern and the one-off changes from today on, of whoever the caller manages."""
    managed = await _managed(uow, deps, telegram_user_id)
    found = await schedule_of(uow, deps, managed.owner.id)
    coordinator = managed.me.role == Role.COORDINATOR.value
    owner_name = None if managed.owner is managed.me else staff.staff_name(deps, managed.owner)
    return Schedule(found.windows, found.changes, owner_name, can_manage_others=coordinator)


async def advisers(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> list[Adviser]:
    """For a coordinator: everyone whose availability they can manage, themself first."""
    managed = await _coordinator(uow, deps, telegram_user_id)
    members = (
        await uow.session.execute(
            select(StaffMember)
            .where(
                StaffMember.active.is_(True),
                StaffMember.role.in_(ADVISING_ROLES),
            )
            .order_by(StaffMember.created_at)
        )
    ).scalars()
    me, owner = managed.me.id, managed.owner.id
    found = [Adviser(m.id, staff.staff_name(deps, m), m.id == owner, m.id == me) for m in members]
    return sorted(found, key=lambda a: not a.is_me)


async def manage(uow: UnitOfWork, deps: Deps, telegram_user_id: int, staff_id: str) -> None:
    """A coordinator chooses whose availability /availability works on from now on."""
    managed = await _coordinator(uow, deps, telegram_user_id)
    owner = await uow.session.get(StaffMember, staff_id)
    if not _can_schedule(owner):
        raise StaleAction
    managed.me.managing_staff_id = None if staff_id == managed.me.id else staff_id
    await audit.record(
        uow, deps, AuditAction.AVAILABILITY_MANAGED, managed.actor, audit.staff_actor(staff_id)
    )
    await uow.commit()


async def schedule_of(uow: UnitOfWork, deps: Deps, staff_id: str) -> Schedule:
    """An adviser's weekly windows and their one-off changes from today on."""
    return (await schedules_of(uow, deps, [staff_id])).get(staff_id, Schedule([], []))


async def schedules_of(
    uow: UnitOfWork, deps: Deps, staff: Select[str] | list[str]
) -> dict[str, Schedule]:
    """The schedules of several advisers at once (the ids, or a query selecting them), in two
    queries whatever their number; an adviser with no windows and no changes is left out."""
    today = deps.clock.now().astimezone(deps.settings.zone).date()
    windows = (
        await uow.session.execute(
            select(AvailabilityWindow)
            .where(AvailabilityWindow.staff_id.in_(staff))
            .order_by(AvailabilityWindow.weekday, AvailabilityWindow.start_minute)
        )
    ).scalars()
    changes = (
        await uow.session.execute(
            select(AvailabilityChange)
            .where(AvailabilityChange.staff_id.in_(staff), AvailabilityChange.day >= today)
            .order_by(AvailabilityChange.day, AvailabilityChange.start_minute)
        )
    ).scalars()
    found: dict[str, Schedule] = {}
    for w in windows:
        window = WeeklyWindow(
            w.weekday, _time(w.start_minute), _time(w.end_minute), AppointmentMode(w.mode)
        )
        found.setdefault(w.staff_id, Schedule([], [])).windows.append(WindowView(w.id, window))
    for c in changes:
        change = DayChange(
            c.day,
            ChangeKind(c.kind),
            _time(c.start_minute) if c.start_minute is not None else None,
            _time(c.end_minute) if c.end_minute is not None else None,
            AppointmentMode(c.mode) if c.mode else None,
        )
        found.setdefault(c.staff_id, Schedule([], [])).changes.append(change)
    return found


async def add_weekly(uow: UnitOfWork, deps: Deps, telegram_user_id: int, text: str) -> WeeklyWindow:
    """Add a weekly window typed as 'Tue 10:00-12:30 in person'; overlaps are refused."""
    managed = await _managed(uow, deps, telegram_user_id)
    window = parse_weekly_range(text, booking_rules(deps.settings))
    await add_window(uow, deps, managed.owner.id, window, actor=managed.actor)
    await uow.commit()
    return window


async def add_window(
    uow: UnitOfWork, deps: Deps, staff_id: str, window: WeeklyWindow, *, actor: str
) -> None:
    """Insert one weekly window unless it overlaps another on that weekday (caller commits)."""
    existing = (
        await uow.session.execute(
            select(AvailabilityWindow).where(
                AvailabilityWindow.staff_id == staff_id,
                AvailabilityWindow.weekday == window.weekday,
            )
        )
    ).scalars()
    start, end = _minutes(window.start), _minutes(window.end)
    if any(start < w.end_minute and w.start_minute < end for w in existing):
        raise InvalidRange(RangeProblem.OVERLAP)
    row = AvailabilityWindow(
        staff_id=staff_id,
        weekday=window.weekday,
        start_minute=start,
        end_minute=end,
        mode=window.mode.value,
        created_at=deps.clock.now(),
    )
    uow.session.add(row)
    await uow.session.flush()
    await audit.record(uow, deps, AuditAction.AVAILABILITY_CHANGED, actor, row.id, change="add")


async def remove_weekly(uow: UnitOfWork, deps: Deps, telegram_user_id: int, window_id: str) -> None:
    """Remove a weekly window the caller may change (bookings already made stand)."""
    row = await uow.session.get(AvailabilityWindow, window_id)
    if row is None:
        raise StaleAction
    actor = await may_change(uow, deps, telegram_user_id, row.staff_id)
    await uow.session.delete(row)
    await audit.record(
        uow, deps, AuditAction.AVAILABILITY_CHANGED, actor, window_id, change="remove"
    )
    await uow.commit()


_CLOCK = r"\d{1,2}(?::\d{2})?"
_DAY_RANGE = re.compile(
    rf"^(?P<day>.+?)\s+(?P<start>{_CLOCK})\s*[-–]\s*(?P<end>{_CLOCK})(?P<mode>[a-z -]*)$"
)


async def add_change(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, kind: ChangeKind, text: str
) -> RecordedChange:
    """A day off ('8/12/2026'), time off ('8/12 14:00-16:00'), or an extra time
    ('9/12 14:00-16:00 phone')."""
    managed = await _managed(uow, deps, telegram_user_id)
    owner_id = managed.owner.id
    text = " ".join(text.lower().split())
    today = deps.clock.now().astimezone(deps.settings.zone).date()
    match = _DAY_RANGE.match(text)
    day_text = match.group("day") if match else text
    try:
        day = parse_date(day_text, today)
    except AnswerRejected:
        raise InvalidRange(RangeProblem.DATE) from None
    if day < today:
        raise InvalidRange(RangeProblem.DATE)
    start = end = None
    mode: AppointmentMode | None = None
    if match:
        weekday = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[day.weekday()]
        parsed = parse_weekly_range(
            f"{weekday} {match.group('start')}-{match.group('end')} {match.group('mode')}",
            booking_rules(deps.settings),
        )
        start, end, mode = parsed.start, parsed.end, parsed.mode
    elif kind is ChangeKind.ADD:
        raise InvalidRange(RangeProblem.FORMAT)
    row = AvailabilityChange(
        staff_id=owner_id,
        day=day,
        kind=kind.value,
        start_minute=_minutes(start) if start else None,
        end_minute=_minutes(end) if end else None,
        mode=mode.value if mode and kind is ChangeKind.ADD else None,
        created_at=deps.clock.now(),
    )
    uow.session.add(row)
    await uow.session.flush()
    await audit.record(
        uow,
        deps,
        AuditAction.AVAILABILITY_CHANGED,
        managed.actor,
        row.id,
        change=kind.value,
    )
    inside = 0 if kind is ChangeKind.ADD else len(await booked_within(uow, deps, owner_id, row))
    await uow.commit()
    change = DayChange(day, kind, start, end, mode if kind is ChangeKind.ADD else None)
    return RecordedChange(change, row.id, inside)
