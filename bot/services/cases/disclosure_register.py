"""Reading disclosures: a case's, the student's own, and the coordinator's register.

A welfare disclosure is confidential between the adviser and the person contacted: other staff
see that it was made, not what was said; the student sees everything made about them. The
register gives counts by basis and case references with dates, never content, and includes
Security's notices (recorded as audit entries by bot/services/notices/security.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from bot.services import audit
from bot.services.cases.cases import reference_for_student
from bot.services.deps import Deps
from bot.services.errors import DomainError
from bot.services.intake.students import find_student
from bot.services.staff import second_factor
from bot.vocabulary import (
    AuditAction,
    CasePart,
    ConsentScope,
    DisclosureBasis,
    LegalDuty,
    RecipientKind,
    Role,
)
from storage import audit as chain
from storage.models import Appointment, Case, Disclosure
from storage.uow import UnitOfWork


@dataclass(frozen=True)
class DisclosureView:
    """One disclosure, opened. A welfare disclosure's content (and recipient's name) is None
    for any staff reader but its author: it is confidential between them and the person
    contacted."""

    disclosure_id: str
    made_at: datetime
    staff_id: str
    basis: DisclosureBasis
    recipient_kind: RecipientKind
    recipient: str | None
    content: str | None
    statute: LegalDuty | None
    statute_text: str | None
    scope: ConsentScope | None
    limitation: str | None


def open_disclosure(deps: Deps, row: Disclosure, *, reader_staff_id: str | None) -> DisclosureView:
    """A disclosure as `reader_staff_id` may see it (None: the student it is about)."""
    raw = deps.cipher.open_json(row, "details_enc", row.details_enc)
    basis = DisclosureBasis(raw["basis"])
    hidden = (
        basis is DisclosureBasis.WELFARE
        and reader_staff_id is not None
        and reader_staff_id != row.staff_id
    )
    return DisclosureView(
        disclosure_id=row.id,
        made_at=row.made_at,
        staff_id=row.staff_id,
        basis=basis,
        recipient_kind=RecipientKind(raw["recipient_kind"]),
        recipient=None if hidden else raw.get("recipient"),
        content=None if hidden else raw.get("content"),
        statute=LegalDuty(raw["statute"]) if raw.get("statute") else None,
        statute_text=raw.get("statute_text"),
        scope=ConsentScope(raw["scope"]) if raw.get("scope") else None,
        limitation=raw.get("limitation"),
    )


async def of_case(
    uow: UnitOfWork, deps: Deps, case: Case, *, reader_staff_id: str | None
) -> list[DisclosureView]:
    """A case's disclosures, newest first (the caller has opened the case and audits it)."""
    rows = await uow.session.execute(
        select(Disclosure).where(Disclosure.case_id == case.id).order_by(Disclosure.made_at.desc())
    )
    return [open_disclosure(deps, d, reader_staff_id=reader_staff_id) for d in rows.scalars()]


async def about_me(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> list[DisclosureView]:
    """Every disclosure made about the student, welfare ones included (their own right), but
    those made under an obligation in law: telling the subject of a report under the
    Terrorism Act, or of a safeguarding referral or a court order, can itself be an offence
    or put someone at risk, so those wait for a subject access request, where the
    coordinator decides what may be released."""
    student = await find_student(uow, deps, telegram_user_id)
    if student is None:
        return []
    rows = await uow.session.execute(
        select(Disclosure)
        .join(Case, Case.id == Disclosure.case_id)
        .where(Case.student_id == student.id)
        .order_by(Disclosure.made_at.desc())
    )
    opened = [open_disclosure(deps, d, reader_staff_id=None) for d in rows.scalars()]
    found = [d for d in opened if d.basis is not DisclosureBasis.LEGAL_OBLIGATION]
    await audit.record(
        uow,
        deps,
        AuditAction.CASE_READ,
        audit.student_actor(student.id),
        part=CasePart.DISCLOSURES.value,
    )
    await uow.commit()
    return found


class PeriodInvalid(DomainError):
    """Dates for the register that cannot be read."""


@dataclass(frozen=True)
class RegisterLine:
    day: date
    reference: str
    basis: DisclosureBasis


@dataclass(frozen=True)
class Register:
    start: date
    end: date
    counts: dict[DisclosureBasis, int]
    lines: list[RegisterLine]


def _day(typed: str, *, end: bool) -> date:
    """YYYY-MM (its first or last day) or dd/mm/yyyy."""
    try:
        if len(typed) == 7 and typed[4] == "-":
            first = datetime.strptime(typed, "%Y-%m").date()  # noqa: DTZ007 - a date
            if not end:
                return first
            following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
            return following - timedelta(days=1)
        return datetime.strptime(typed, "%d/%m/%Y").date()  # noqa: DTZ007 - a date
    except ValueError:
        raise PeriodInvalid from None


def period(args: list[str], today: date) -> tuple[date, date]:
    """The register's period: the last 12 months, or FROM TO as typed."""
    if not args:
        return today - timedelta(days=365), today
    if len(args) != 2:
        raise PeriodInvalid
    start, end = _day(args[0], end=False), _day(args[1], end=True)
    if start > end:
        raise PeriodInvalid
    return start, end


async def register(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, start: date, end: date
) -> Register:
    """The coordinator's register: counts by basis and case references with dates; never what
    was shared. Security's notices (audit entries of their own) are in it with their basis."""
    me = await second_factor.authorise(
        uow, deps, telegram_user_id, (Role.COORDINATOR,), command="disclosures"
    )
    zone = deps.settings.zone
    since = datetime.combine(start, time(0), zone)
    until = datetime.combine(end + timedelta(days=1), time(0), zone)
    lines: list[RegisterLine] = []
    rows = await uow.session.execute(
        select(Disclosure, Case.reference)
        .join(Case, Case.id == Disclosure.case_id)
        .where(Disclosure.made_at >= since, Disclosure.made_at < until)
    )
    for row, reference in rows.all():
        basis = DisclosureBasis(deps.cipher.open_json(row, "details_enc", row.details_enc)["basis"])
        lines.append(RegisterLine(row.made_at.astimezone(zone).date(), reference, basis))
    notices = [
        entry
        async for entry in chain.entries(
            uow.session, deps.cipher, action=AuditAction.DISCLOSURE_MADE.value
        )
        if entry.detail.get("basis") == DisclosureBasis.SECURITY_TIMES.value
        and since <= entry.at < until
    ]
    for entry in notices:
        appointment = await uow.session.get(Appointment, entry.subject) if entry.subject else None
        reference = await reference_for_student(uow, appointment.student_id) if appointment else "-"
        lines.append(
            RegisterLine(
                entry.at.astimezone(zone).date(), reference, DisclosureBasis.SECURITY_TIMES
            )
        )
    lines.sort(key=lambda line: (line.day, line.reference))
    counts = {basis: 0 for basis in DisclosureBasis}
    for line in lines:
        counts[line.basis] += 1
    await audit.record(
        uow,
        deps,
        AuditAction.CASE_READ,
        audit.staff_actor(me.id),
        part=CasePart.DISCLOSURES.value,
        register=True,
    )
    await uow.commit()
    return Register(start, end, counts, lines)
