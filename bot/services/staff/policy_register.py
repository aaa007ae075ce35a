"""The signature register: who acknowledged which version of the policy, when, and the digest
of the text they were shown; and who has not yet signed the current one.

The policy asks for "a copy of the Policy ... for them to sign and agree to its adherence;
copies of these will be kept in the City Students' Union office": `as_csv` is that copy, a
file any spreadsheet opens. Reading the register is audited, like any export.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.services import audit
from bot.services.deps import Deps
from bot.services.staff import staff
from bot.services.staff.policy import PolicyDocument, current_policy
from bot.vocabulary import AuditAction, Role
from storage.models import PolicyAcknowledgement, StaffMember
from storage.uow import UnitOfWork

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection): such a
# cell gets a leading apostrophe, which spreadsheets show as text and do not evaluate.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"  # so Excel reads the file as UTF-8, whatever script the names are in


@dataclass(frozen=True)
class Signature:
    name: str
    role: Role
    active: bool
    version: str
    sha256: str
    acknowledged_at: datetime


@dataclass(frozen=True)
class Unsigned:
    name: str
    role: Role


@dataclass(frozen=True)
class Register:
    current: PolicyDocument
    signatures: list[Signature]  # oldest first
    unsigned: list[Unsigned]  # active staff who have not acknowledged the current version


async def read(uow: UnitOfWork, deps: Deps) -> Register:
    """The whole register (for the command line, run by whoever runs the service)."""
    policy = await current_policy(uow)
    rows = (
        await uow.session.execute(
            select(PolicyAcknowledgement, StaffMember)
            .join(StaffMember, StaffMember.id == PolicyAcknowledgement.staff_id)
            .order_by(PolicyAcknowledgement.acknowledged_at, PolicyAcknowledgement.id)
        )
    ).all()
    names: dict[str, str] = {}
    signatures: list[Signature] = []
    signed_current: set[str] = set()
    for ack, member in rows:
        name = names.setdefault(member.id, staff.staff_name(deps, member))
        signatures.append(
            Signature(
                name,
                Role(member.role),
                member.active,
                ack.policy_version,
                ack.policy_sha256,
                ack.acknowledged_at,
            )
        )
        if (ack.policy_version, ack.policy_sha256) == (policy.version, policy.sha256):
            signed_current.add(member.id)
    active = (
        await uow.session.execute(
            select(StaffMember)
            .where(StaffMember.active.is_(True))
            .order_by(StaffMember.created_at, StaffMember.id)
        )
    ).scalars()
    unsigned = [
        Unsigned(staff.staff_name(deps, m), Role(m.role))
        for m in active
        if m.id not in signed_current
    ]
    return Register(policy, signatures, unsigned)


async def for_coordinator(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, *, page: int = 0
) -> Register:
    """/policy signatures: the coordinator only; each reading is audited (ids only)."""
    me = await staff.authorise(
        uow, deps, telegram_user_id, (Role.COORDINATOR,), command="policy signatures"
    )
    register = await read(uow, deps)
    await audit.record(
        uow, deps, AuditAction.POLICY_SIGNATURES_READ, audit.staff_actor(me.id), page=page
    )
    await uow.commit()
    return register


async def for_export(uow: UnitOfWork, deps: Deps) -> Register:
    """The register for the Students' Union office copy (command line), audited."""
    register = await read(uow, deps)
    await audit.record(
        uow,
        deps,
        AuditAction.POLICY_SIGNATURES_READ,
        audit.COMMAND_LINE,
        signatures=len(register.signatures),
    )
    await uow.commit()
    return register


def safe_cell(value: str) -> str:
    """A cell a spreadsheet shows as the text it is, never runs as a formula."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


HEADER = (
    "Name",
    "Role",
    "Policy version",
    "SHA-256 of the text acknowledged",
    "Acknowledged at (UTC)",
    "Acknowledged at ({zone})",
)


def as_csv(signatures: Iterable[Signature], zone: ZoneInfo) -> str:
    """One row per signature, under a header; starts with a byte order mark for Excel."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out)  # RFC 4180: quoted where needed, CRLF line ends
    writer.writerow([h.format(zone=zone.key) for h in HEADER])
    for s in signatures:
        at = s.acknowledged_at.astimezone(UTC)
        writer.writerow(
            [
                safe_cell(cell)
                for cell in (
                    s.name,
                    s.role.value,
                    s.version,
                    s.sha256,
                    at.isoformat(timespec="seconds").replace("+00:00", "Z"),
                    at.astimezone(zone).isoformat(timespec="seconds"),
                )
            ]
        )
    return out.getvalue()
