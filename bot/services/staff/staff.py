"""Staff: registration, role checks, invites, policy acknowledgement and deactivation."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import func, select, update

from bot import texts
from bot.services import audit
from bot.services.deps import Deps
from bot.services.errors import (
    AlreadyStaff,
    InviteInvalid,
    InviteProblem,
    LastCoordinator,
    NotAuthorised,
    PolicyNotAcknowledged,
    PolicyReplaced,
    UnknownStaff,
)
from bot.services.notices import outbox
from bot.services.staff.policy import PolicyDocument, bundled_policy, current_policy
from bot.vocabulary import AuditAction, Role
from storage.models import (
    Appointment,
    PolicyAcknowledgement,
    StaffInvite,
    StaffMember,
    StaffSecondFactor,
)
from storage.uow import NOT_ASKED, UnitOfWork

INVITE_PREFIX = "inv_"
NAME_MAX = 100


@dataclass(frozen=True)
class StaffSummary:
    staff_id: str
    name: str
    role: Role
    active: bool
    acknowledged_current_policy: bool
    created_at: datetime


@dataclass(frozen=True)
class Invite:
    token: str
    role: Role
    expires_at: datetime

    @property
    def start_payload(self) -> str:
        """What follows /start in the invite link (Telegram allows 64 characters)."""
        return INVITE_PREFIX + self.token


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def staff_name(deps: Deps, member: StaffMember) -> str:
    return deps.cipher.open(member, "name_enc", member.name_enc) or ""


async def find_staff(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> StaffMember | None:
    key = deps.telegram_key(telegram_user_id)
    known = uow.known(("staff", key))
    if known is not NOT_ASKED:
        return cast(StaffMember | None, known)
    result = await uow.session.execute(select(StaffMember).where(StaffMember.telegram_index == key))
    member = result.scalar_one_or_none()
    uow.keep(("staff", key), member)
    return member


def _summary(deps: Deps, member: StaffMember, acknowledged: bool) -> StaffSummary:
    return StaffSummary(
        member.id,
        staff_name(deps, member),
        Role(member.role),
        member.active,
        acknowledged,
        member.created_at,
    )


async def whoami(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> StaffSummary | None:
    """This account's staff record, if it has one."""
    member = await find_staff(uow, deps, telegram_user_id)
    if member is None:
        return None
    return _summary(deps, member, await has_acknowledged(uow, member))


async def role_of(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> Role:
    """Active staff have their role; everyone else is treated as a student."""
    member = await find_staff(uow, deps, telegram_user_id)
    return Role(member.role) if member is not None and member.active else Role.STUDENT


def _acknowledged(member: StaffMember, policy: PolicyDocument) -> tuple[str, str, str, str]:
    """The question "has this member signed this policy?", as a unit of work keeps it."""
    return ("acknowledged", member.id, policy.version, policy.sha256)


async def has_acknowledged(uow: UnitOfWork, member: StaffMember) -> bool:
    """Whether the member acknowledged the current version (the text with its digest)."""
    policy = await current_policy(uow)
    question = _acknowledged(member, policy)
    known = uow.known(question)
    if known is not NOT_ASKED:
        return bool(known)
    found = await uow.session.scalar(
        select(func.count())
        .select_from(PolicyAcknowledgement)
        .where(
            PolicyAcknowledgement.staff_id == member.id,
            PolicyAcknowledgement.policy_version == policy.version,
            PolicyAcknowledgement.policy_sha256 == policy.sha256,
        )
    )
    uow.keep(question, bool(found))
    return bool(found)


async def authorise(
    uow: UnitOfWork,
    deps: Deps,
    telegram_user_id: int,
    roles: tuple[Role, ...],
    *,
    command: str,
    policy: bool = True,
) -> StaffMember:
    """The caller, if active staff in one of `roles` who acknowledged the current policy.

    A refusal is audited and committed before NotAuthorised is raised.
    """
    member = await find_staff(uow, deps, telegram_user_id)
    if member is None or not member.active or Role(member.role) not in roles:
        actor = (
            audit.staff_actor(member.id)
            if member is not None
            else audit.stranger_actor(deps.telegram_key(telegram_user_id))
        )
        await audit.record(uow, deps, AuditAction.ACCESS_REFUSED, actor, command=command)
        await uow.commit()
        raise NotAuthorised(roles)
    if policy and not await has_acknowledged(uow, member):
        raise PolicyNotAcknowledged(await current_policy(uow))
    return member


def acts_for(me: StaffMember, staff_id: str) -> bool:
    """Staff act on their own times and appointments; a coordinator on anyone's."""
    return staff_id == me.id or Role(me.role) is Role.COORDINATOR


async def add_staff(
    uow: UnitOfWork,
    deps: Deps,
    *,
    telegram_user_id: int,
    name: str,
    role: Role,
    actor: str,
    created_by: str | None = None,
) -> StaffMember:
    """Register a staff member (from the command line or an invite); the caller commits."""
    if role is Role.STUDENT:
        raise ValueError("students are not registered as staff")
    name = " ".join(name.split())
    if not name or len(name) > NAME_MAX:
        raise ValueError(f"a staff name needs 1 to {NAME_MAX} characters")
    if await find_staff(uow, deps, telegram_user_id) is not None:
        raise AlreadyStaff
    member = StaffMember(
        telegram_index=deps.telegram_key(telegram_user_id),
        role=role.value,
        active=True,
        created_at=deps.clock.now(),
        created_by=created_by,
    )
    member.telegram_id_enc = deps.cipher.seal(member, "telegram_id_enc", str(telegram_user_id))  # type: ignore[assignment]
    member.name_enc = deps.cipher.seal(member, "name_enc", name)  # type: ignore[assignment]
    uow.session.add(member)
    await uow.session.flush()
    uow.keep(("staff", member.telegram_index), member)
    await audit.record(
        uow, deps, AuditAction.STAFF_ADDED, actor, audit.staff_actor(member.id), role=role.value
    )
    return member


async def acknowledge_policy(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, shown: str | None
) -> PolicyDocument:
    """Record that this staff member read and accepted the current policy version.

    `shown` is the short digest of the version their button came with (None: a button from
    before versions were published, which only ever showed the bundled statement). A button
    under a version since replaced acknowledges nothing: PolicyReplaced carries the current one.
    """
    member = await find_staff(uow, deps, telegram_user_id)
    if member is None or not member.active:
        raise NotAuthorised((Role.ADVISER, Role.COORDINATOR, Role.SECURITY))
    policy = await current_policy(uow)
    if await has_acknowledged(uow, member):
        return policy
    if (shown or bundled_policy().short_digest) != policy.short_digest:
        raise PolicyReplaced(policy)
    uow.session.add(
        PolicyAcknowledgement(
            staff_id=member.id,
            policy_version=policy.version,
            policy_sha256=policy.sha256,
            acknowledged_at=deps.clock.now(),
        )
    )
    await audit.record(
        uow,
        deps,
        AuditAction.POLICY_ACKNOWLEDGED,
        audit.staff_actor(member.id),
        version=policy.version,
    )
    uow.keep(_acknowledged(member, policy), True)
    await uow.commit()
    return policy


async def create_invite(uow: UnitOfWork, deps: Deps, telegram_user_id: int, role: Role) -> Invite:
    """A coordinator makes a single-use, expiring invite for a new staff member."""
    coordinator = await authorise(
        uow, deps, telegram_user_id, (Role.COORDINATOR,), command="invite"
    )
    if role is Role.STUDENT:
        raise ValueError("students need no invite")
    token = secrets.token_urlsafe(24)
    now = deps.clock.now()
    invite = StaffInvite(
        token_digest=_digest(token),
        role=role.value,
        created_by=coordinator.id,
        created_at=now,
        expires_at=now + timedelta(hours=deps.settings.invite_ttl_hours),
    )
    uow.session.add(invite)
    await audit.record(
        uow,
        deps,
        AuditAction.STAFF_INVITED,
        audit.staff_actor(coordinator.id),
        invite.id,
        role=role.value,
    )
    await uow.commit()
    return Invite(token, role, invite.expires_at)


async def redeem_invite(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, token: str, name: str
) -> StaffMember:
    """Turn a valid invite into a staff account for the person who opened it.

    The invite is claimed by a conditional UPDATE before anything else, so of many people
    redeeming it at once exactly one wins: the database re-checks `used_at IS NULL` under the
    row's lock, and a claim whose transaction rolls back leaves the invite for the next one.
    """
    result = await uow.session.execute(
        select(StaffInvite).where(StaffInvite.token_digest == _digest(token))
    )
    invite = result.scalar_one_or_none()
    if invite is None:
        raise InviteInvalid(InviteProblem.UNKNOWN)
    now = deps.clock.now()
    claimed = await uow.session.execute(
        update(StaffInvite)
        .where(
            StaffInvite.id == invite.id,
            StaffInvite.used_at.is_(None),
            StaffInvite.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        await uow.session.refresh(invite)
        if invite.used_at is not None:
            raise InviteInvalid(InviteProblem.USED)
        raise InviteInvalid(InviteProblem.EXPIRED)
    member = await add_staff(
        uow,
        deps,
        telegram_user_id=telegram_user_id,
        name=name,
        role=Role(invite.role),
        actor=audit.staff_actor(invite.created_by),
        created_by=invite.created_by,
    )
    invite.used_at = now
    invite.used_by = member.id
    await audit.record(
        uow, deps, AuditAction.INVITE_REDEEMED, audit.staff_actor(member.id), invite.id
    )
    await uow.commit()
    return member


async def _summaries(uow: UnitOfWork, deps: Deps) -> list[StaffSummary]:
    policy = await current_policy(uow)
    acked = set(
        (
            await uow.session.execute(
                select(PolicyAcknowledgement.staff_id).where(
                    PolicyAcknowledgement.policy_version == policy.version,
                    PolicyAcknowledgement.policy_sha256 == policy.sha256,
                )
            )
        ).scalars()
    )
    members = (
        await uow.session.execute(select(StaffMember).order_by(StaffMember.created_at))
    ).scalars()
    return [_summary(deps, m, m.id in acked) for m in members]


async def all_staff(uow: UnitOfWork, deps: Deps) -> list[StaffSummary]:
    """Every staff member, for the command line (run by whoever runs the service)."""
    return await _summaries(uow, deps)


async def list_staff(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> list[StaffSummary]:
    await authorise(uow, deps, telegram_user_id, (Role.COORDINATOR,), command="staff")
    return await _summaries(uow, deps)


async def deactivate(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, staff_id: str
) -> StaffSummary:
    """A coordinator withdraws someone's access; the last active coordinator cannot go."""
    coordinator = await authorise(
        uow, deps, telegram_user_id, (Role.COORDINATOR,), command="deactivate"
    )
    member = await uow.session.get(StaffMember, staff_id)
    if member is None:
        raise UnknownStaff
    if member.active and member.role == Role.COORDINATOR.value:
        active_coordinators = await uow.session.scalar(
            select(func.count())
            .select_from(StaffMember)
            .where(StaffMember.role == Role.COORDINATOR.value, StaffMember.active.is_(True))
        )
        if (active_coordinators or 0) <= 1:
            raise LastCoordinator
    if member.active:
        member.active = False
        member.deactivated_at = deps.clock.now()
        # Their session ends with their access (the session check asks for an active member
        # too; this leaves nothing open should they ever be registered again).
        await uow.session.execute(
            update(StaffSecondFactor)
            .where(StaffSecondFactor.staff_id == member.id)
            .values(unlocked_until=None)
        )
        await _hand_over_bookings(uow, deps, member)
        await audit.record(
            uow,
            deps,
            AuditAction.STAFF_DEACTIVATED,
            audit.staff_actor(coordinator.id),
            audit.staff_actor(member.id),
        )
        await uow.commit()
    return _summary(deps, member, acknowledged=False)


async def _hand_over_bookings(uow: UnitOfWork, deps: Deps, member: StaffMember) -> None:
    """Tell coordinators, without students' details, that these bookings need a new adviser."""
    upcoming = await uow.session.scalar(
        select(func.count())
        .select_from(Appointment)
        .where(
            Appointment.staff_id == member.id,
            Appointment.is_booked,
            Appointment.starts_at > deps.clock.now(),
        )
    )
    if not upcoming:
        return
    note = texts.bookings_need_reassigning(staff_name(deps, member), int(upcoming))
    await outbox.alert_coordinators(uow, deps, note, dedupe_key=f"handover:{member.id}")
