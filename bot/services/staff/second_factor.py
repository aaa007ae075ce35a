"""A staff member's second factor: a time-based one-time code (RFC 6238) and the session it
unlocks.

Reading anything about a student needs an unlocked session, so a Telegram account alone (a
lost phone, a hijacked account) opens nothing. The secret is made here, sealed like every
personal field, and shown once, as a QR code and as text; the first code confirms it. A code
counts for its own 30-second step or one step either side (clocks drift), and never twice:
the step of the last accepted code is kept in the database and only a conditional UPDATE
moves it forward, so two instances cannot both accept one code. Five wrong codes in a row
lock the account until a coordinator resets it, and the coordinators are told. Every set-up,
confirmation, unlock, failure, lock-out and reset is audited; a code never is.
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

import pyotp
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm.attributes import set_committed_value

from bot import texts
from bot.services import audit
from bot.services.deps import Deps
from bot.services.errors import (
    NotAuthorised,
    SecondFactorLockedOut,
    SecondFactorNeeded,
    SessionLocked,
    StaleAction,
    UnknownStaff,
    WrongCode,
)
from bot.services.notices import outbox
from bot.services.staff import staff
from bot.vocabulary import ADVISING_ROLES, AuditAction, FactorState, Role
from storage.models import StaffMember, StaffSecondFactor
from storage.uow import NOT_ASKED, UnitOfWork

STEP_SECONDS = 30
DIGITS = 6
DRIFT_STEPS = 1  # one step either side of now, as RFC 6238 section 5.2 recommends
FAILURES_BEFORE_LOCKOUT = 5
SECRET_BYTES = 20  # 160 bits, RFC 4226's recommended length
COMMAND = "unlock"
_CODE = re.compile(rf"[0-9]{{{DIGITS}}}")  # ASCII digits only (\d takes any script's)


@dataclass(frozen=True)
class Setup:
    """What the staff member's authenticator app needs, shown once."""

    secret: str  # base32, as apps take it typed in
    uri: str  # the otpauth:// provisioning URI the QR code carries
    earlier_messages: tuple[int, ...]  # an earlier set-up's messages, still in the chat


@dataclass(frozen=True)
class Accepted:
    """A code that unlocked the session (and, the first time, finished the set-up)."""

    confirmed: bool
    until: datetime
    setup_messages: tuple[int, ...]  # the set-up's QR code and key, to delete now


def code_typed(text: str) -> str | None:
    """The six digits of a code as people type it ("123456", "123 456"), or None."""
    digits = "".join(text.split())
    return digits if _CODE.fullmatch(digits) else None


def step_at(moment: datetime) -> int:
    """RFC 6238's time step T: whole 30-second periods since the Unix epoch."""
    return int(moment.timestamp()) // STEP_SECONDS


def code_for(secret: str, step: int) -> str:
    """The code an authenticator app shows during `step`."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).generate_otp(step)


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The step within the drift window whose code this is (the latest, if several), or None."""
    current = step_at(now)
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(code_for(secret, step), code):
            found = step  # no early return: every code costs the same comparisons
    return found


def _question(member: StaffMember) -> tuple[str, str]:
    return ("second-factor", member.id)


async def _factor(uow: UnitOfWork, member: StaffMember) -> StaffSecondFactor | None:
    """The member's factor, asked once per unit of work (the gate asks, then the service)."""
    known = uow.known(_question(member))
    if known is not NOT_ASKED:
        return cast(StaffSecondFactor | None, known)
    factor = await uow.session.scalar(
        select(StaffSecondFactor).where(StaffSecondFactor.staff_id == member.id)
    )
    uow.keep(_question(member), factor)
    return factor


def _state(factor: StaffSecondFactor | None, now: datetime) -> FactorState:
    if factor is None:
        return FactorState.NOT_SET_UP
    if factor.locked_at is not None:
        return FactorState.LOCKED_OUT
    if factor.confirmed_at is None:
        return FactorState.AWAITING_CODE
    if factor.unlocked_until is not None and factor.unlocked_until > now:
        return FactorState.UNLOCKED
    return FactorState.SESSION_LOCKED


def _secret(deps: Deps, factor: StaffSecondFactor) -> str:
    return deps.cipher.open(factor, "secret_enc", factor.secret_enc) or ""


def _message_ids(factor: StaffSecondFactor) -> tuple[int, ...]:
    kept = factor.setup_message_ids or ""
    return tuple(int(part) for part in kept.split(",") if part.isdigit())


async def require(uow: UnitOfWork, deps: Deps, member: StaffMember, *, unlocked: bool) -> None:
    """Refuse unless `member` (active advising staff) has a working second factor and, with
    `unlocked`, a session unlocked with it: SecondFactorNeeded, SecondFactorLockedOut or
    SessionLocked. Security never has one: it can read nothing."""
    if not member.active or Role(member.role) not in ADVISING_ROLES:
        raise NotAuthorised(ADVISING_ROLES)
    state = _state(await _factor(uow, member), deps.clock.now())
    if state in (FactorState.NOT_SET_UP, FactorState.AWAITING_CODE):
        raise SecondFactorNeeded
    if state is FactorState.LOCKED_OUT:
        raise SecondFactorLockedOut
    if unlocked and state is not FactorState.UNLOCKED:
        raise SessionLocked


async def authorise(
    uow: UnitOfWork,
    deps: Deps,
    telegram_user_id: int,
    roles: tuple[Role, ...],
    *,
    command: str,
) -> StaffMember:
    """`staff.authorise`, and an unlocked session: the check of every service that reads or
    acts on a student's information."""
    member = await staff.authorise(uow, deps, telegram_user_id, roles, command=command)
    await require(uow, deps, member, unlocked=True)
    return member


async def state_of(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> FactorState | None:
    """Where this person's second factor stands; None for anyone who never has one (students,
    Security, former staff)."""
    member = await staff.find_staff(uow, deps, telegram_user_id)
    if member is None or not member.active or Role(member.role) not in ADVISING_ROLES:
        return None
    return _state(await _factor(uow, member), deps.clock.now())


async def setup_shown(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> bool:
    """Whether a set-up waiting for its first code is still in the caller's chat."""
    member = await staff.find_staff(uow, deps, telegram_user_id)
    factor = await _factor(uow, member) if member is not None else None
    return (
        factor is not None
        and _state(factor, deps.clock.now()) is FactorState.AWAITING_CODE
        and bool(_message_ids(factor))
    )


async def begin_setup(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> Setup:
    """A secret for the caller's authenticator app (committed here).

    A set-up not yet confirmed keeps its secret, so an app that already scanned it goes on
    working; StaleAction once the factor is confirmed, SecondFactorLockedOut when locked.
    """
    member = await staff.authorise(uow, deps, telegram_user_id, ADVISING_ROLES, command=COMMAND)
    factor = await _factor(uow, member)
    if factor is not None and factor.locked_at is not None:
        raise SecondFactorLockedOut
    if factor is not None and factor.confirmed_at is not None:
        raise StaleAction
    earlier: tuple[int, ...] = ()
    again = factor is not None
    if factor is None:
        secret = base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")
        factor = StaffSecondFactor(staff_id=member.id, created_at=deps.clock.now(), failures=0)
        factor.secret_enc = deps.cipher.seal(factor, "secret_enc", secret)  # type: ignore[assignment]
        uow.session.add(factor)
        uow.keep(_question(member), factor)
    else:
        secret = _secret(deps, factor)
        earlier = _message_ids(factor)
        factor.setup_message_ids = None
    await audit.record(
        uow,
        deps,
        AuditAction.SECOND_FACTOR_SETUP,
        audit.staff_actor(member.id),
        audit.staff_actor(member.id),
        again=again,
    )
    await uow.commit()
    uri = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=staff.staff_name(deps, member), issuer_name=deps.settings.service_name
    )
    return Setup(secret, uri, earlier)


async def keep_setup_messages(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, message_ids: tuple[int, ...]
) -> None:
    """Remember the set-up's messages in the caller's chat, to delete them on confirmation."""
    member = await staff.find_staff(uow, deps, telegram_user_id)
    factor = await _factor(uow, member) if member is not None else None
    if factor is None or factor.confirmed_at is not None:
        return
    factor.setup_message_ids = ",".join(str(i) for i in message_ids)
    await uow.commit()


async def present_code(uow: UnitOfWork, deps: Deps, telegram_user_id: int, code: str) -> Accepted:
    """A code from the caller's app: it confirms a set-up or unlocks the session (committed).

    WrongCode if it is not a current code or was used before (a failure, committed and
    audited; after five in a row, SecondFactorLockedOut), SecondFactorNeeded with nothing set
    up. Set-up failures are audited but never lock: the person is still finding their app.
    """
    member = await staff.authorise(uow, deps, telegram_user_id, ADVISING_ROLES, command=COMMAND)
    factor = await _factor(uow, member)
    if factor is None:
        raise SecondFactorNeeded
    if factor.locked_at is not None:
        raise SecondFactorLockedOut
    now = deps.clock.now()
    setting_up = factor.confirmed_at is None
    shown = _message_ids(factor) if setting_up else ()
    typed = code_typed(code)
    step = _matching_step(_secret(deps, factor), typed, now) if typed is not None else None
    until = now + timedelta(hours=deps.settings.staff_session_hours)
    if step is None or not await _accept(uow, factor, step, now, until):
        await _failed(uow, deps, member, factor, used_before=step is not None)
    actor = audit.staff_actor(member.id)
    if setting_up:
        await audit.record(uow, deps, AuditAction.SECOND_FACTOR_CONFIRMED, actor, actor)
    await audit.record(
        uow,
        deps,
        AuditAction.SESSION_UNLOCKED,
        actor,
        actor,
        hours=deps.settings.staff_session_hours,
    )
    await uow.commit()
    return Accepted(setting_up, until, shown)


async def _accept(
    uow: UnitOfWork, factor: StaffSecondFactor, step: int, now: datetime, until: datetime
) -> bool:
    """Move the last accepted step forward to `step` and open the session, if no code of this
    step or a later one was accepted before (by this instance or another)."""
    values = {
        "last_step": step,
        "failures": 0,
        "unlocked_until": until,
        "confirmed_at": factor.confirmed_at or now,
        "setup_message_ids": None,
    }
    moved = await uow.session.execute(
        update(StaffSecondFactor)
        .where(
            StaffSecondFactor.id == factor.id,
            StaffSecondFactor.locked_at.is_(None),
            or_(StaffSecondFactor.last_step.is_(None), StaffSecondFactor.last_step < step),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if getattr(moved, "rowcount", 0) != 1:
        return False
    for name, value in values.items():
        set_committed_value(factor, name, value)
    return True


async def _failed(
    uow: UnitOfWork,
    deps: Deps,
    member: StaffMember,
    factor: StaffSecondFactor,
    *,
    used_before: bool,
) -> None:
    """Count a wrong code (committed), then raise WrongCode, or SecondFactorLockedOut at the
    fifth in a row."""
    actor = audit.staff_actor(member.id)
    if factor.confirmed_at is None:
        await audit.record(
            uow, deps, AuditAction.SECOND_FACTOR_FAILED, actor, actor, setting_up=True
        )
        await uow.commit()
        raise WrongCode(used_before=used_before, attempts_left=None)
    await uow.session.execute(
        update(StaffSecondFactor)
        .where(StaffSecondFactor.id == factor.id)
        .values(failures=StaffSecondFactor.failures + 1)
        .execution_options(synchronize_session=False)
    )
    failures = int(
        await uow.session.scalar(
            select(StaffSecondFactor.failures).where(StaffSecondFactor.id == factor.id)
        )
        or 0
    )
    set_committed_value(factor, "failures", failures)
    await audit.record(
        uow,
        deps,
        AuditAction.SECOND_FACTOR_FAILED,
        actor,
        actor,
        in_a_row=failures,
        used_before=used_before,
    )
    if failures < FAILURES_BEFORE_LOCKOUT:
        await uow.commit()
        raise WrongCode(used_before=used_before, attempts_left=FAILURES_BEFORE_LOCKOUT - failures)
    now = deps.clock.now()
    locked = await uow.session.execute(
        update(StaffSecondFactor)
        .where(StaffSecondFactor.id == factor.id, StaffSecondFactor.locked_at.is_(None))
        .values(locked_at=now, unlocked_until=None)
        .execution_options(synchronize_session=False)
    )
    if getattr(locked, "rowcount", 0) == 1:
        set_committed_value(factor, "locked_at", now)
        set_committed_value(factor, "unlocked_until", None)
        await audit.record(uow, deps, AuditAction.SECOND_FACTOR_LOCKED_OUT, actor, actor)
        await outbox.alert_coordinators(
            uow,
            deps,
            texts.second_factor_locked_out_alert(staff.staff_name(deps, member)),
            dedupe_key=f"second-factor-lockout:{factor.id}:{step_at(now)}",
        )
    await uow.commit()
    raise SecondFactorLockedOut


async def lock(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> bool:
    """End the caller's session (committed); whether it was open."""
    member = await staff.authorise(uow, deps, telegram_user_id, ADVISING_ROLES, command="lock")
    factor = await _factor(uow, member)
    was_open = _state(factor, deps.clock.now()) is FactorState.UNLOCKED
    if factor is not None and factor.unlocked_until is not None:
        factor.unlocked_until = None
        actor = audit.staff_actor(member.id)
        await audit.record(uow, deps, AuditAction.SESSION_LOCKED, actor, actor, by="lock")
        await uow.commit()
    return was_open


async def states(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> dict[str, FactorState]:
    """Each advising staff member's second factor, for the coordinator's staff list."""
    await authorise(uow, deps, telegram_user_id, (Role.COORDINATOR,), command="staff")
    return await all_states(uow, deps)


async def all_states(uow: UnitOfWork, deps: Deps) -> dict[str, FactorState]:
    """Each advising staff member's second factor (for the command line, run by whoever runs
    the service; Security has none)."""
    now = deps.clock.now()
    factors = {
        f.staff_id: f for f in (await uow.session.execute(select(StaffSecondFactor))).scalars()
    }
    members = (
        await uow.session.execute(
            select(StaffMember.id).where(StaffMember.role.in_([r.value for r in ADVISING_ROLES]))
        )
    ).scalars()
    return {staff_id: _state(factors.get(staff_id), now) for staff_id in members}


async def reset(uow: UnitOfWork, deps: Deps, telegram_user_id: int, staff_id: str) -> str:
    """A coordinator (in an unlocked session) clears a staff member's second factor, its lock
    and session: a new set-up comes at their next staff command. Their name (committed)."""
    coordinator = await authorise(
        uow, deps, telegram_user_id, (Role.COORDINATOR,), command="reset second factor"
    )
    member = await uow.session.get(StaffMember, staff_id)
    if member is None or Role(member.role) not in ADVISING_ROLES:
        raise UnknownStaff
    await _reset(uow, deps, member, audit.staff_actor(coordinator.id))
    await uow.commit()
    return staff.staff_name(deps, member)


async def reset_from_command_line(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> str:
    """The same reset by whoever runs the service, for the day the only coordinator loses
    their phone. Their name (committed); UnknownStaff if the account is not staff."""
    member = await staff.find_staff(uow, deps, telegram_user_id)
    if member is None:
        raise UnknownStaff
    await _reset(uow, deps, member, audit.COMMAND_LINE)
    await uow.commit()
    return staff.staff_name(deps, member)


async def _reset(uow: UnitOfWork, deps: Deps, member: StaffMember, actor: str) -> None:
    removed = await uow.session.execute(
        delete(StaffSecondFactor)
        .where(StaffSecondFactor.staff_id == member.id)
        .execution_options(synchronize_session=False)
    )
    uow.keep(_question(member), None)
    await audit.record(
        uow,
        deps,
        AuditAction.SECOND_FACTOR_RESET,
        actor,
        audit.staff_actor(member.id),
        had_one=getattr(removed, "rowcount", 0) == 1,
    )
