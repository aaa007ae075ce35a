"""Retention: a case's personal records go once nothing has happened on it for the retention
period (five years, the policy's maximum; a setting may shorten it, never lengthen it).

A case takes its notes, documents, disclosures, consent requests, access grants, drafts,
episodes and the sheet that opened it. What belongs to the student rather than to one case
(their sheets, appointments, consent ledger, messages, the removed flag, the student row) goes
with their last case; while a newer case remains, only what is older than that case and no
longer current goes. A student who never finished a sheet goes once their own last activity
is older than the period. The audit log keeps its ids and one sealed entry per purge with
counts; nothing can extend a case past the maximum but activity on it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta

from sqlalchemy import and_, delete, exists, func, select, update
from sqlalchemy.orm import aliased

from bot import lifecycle_texts
from bot.services import audit
from bot.services.deps import Deps
from bot.services.intake.students import seal_removed_flag
from bot.services.notices import outbox
from bot.services.notices.staff_directory import active_staff_chats, staff_chat_id
from bot.vocabulary import AuditAction, Role
from storage import data_keys
from storage.crypto import OwnerKind
from storage.models import (
    Appointment,
    Case,
    CaseAccessGrant,
    CaseDocument,
    CaseEpisode,
    CaseNote,
    ConsentEntry,
    ConsentRequest,
    Disclosure,
    InformationSheet,
    OutboxMessage,
    PurgePermit,
    RetentionRun,
    RetentionSummary,
    StaffDraft,
    StaffMember,
    Student,
    SubjectRequest,
)
from storage.uow import UnitOfWork

WARN_DAYS = 30
# As bot.services.lifecycle.requests.DETAILS_BLOCK (that module imports this one).
REQUEST_DETAILS_BLOCK = 640
BATCH = 200


@dataclass
class PurgeCounts:
    """How many records one purge (or a preview of one) deletes."""

    cases: int = 0
    notes: int = 0
    documents: int = 0
    disclosures: int = 0
    sheets: int = 0
    consent_entries: int = 0
    appointments: int = 0
    messages: int = 0
    students: int = 0

    def add(self, other: PurgeCounts) -> None:
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))

    @property
    def empty(self) -> bool:
        return self.cases == 0 and self.students == 0


def years_before(moment: datetime, years: int) -> datetime:
    """The same instant `years` calendar years earlier (29 February becomes the 28th)."""
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:
        return moment.replace(year=moment.year - years, day=28)


def cutoff(deps: Deps) -> datetime:
    """Records whose last activity is before this go."""
    return years_before(deps.clock.now(), deps.settings.retention_years)


def deletion_day(deps: Deps, last_activity_at: datetime) -> date:
    """The day (service time) a case with this last activity is deleted."""
    return (
        years_before(last_activity_at, -deps.settings.retention_years)
        .astimezone(deps.settings.zone)
        .date()
    )


def _rows(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


async def _expired_case_ids(uow: UnitOfWork, before: datetime, limit: int) -> list[str]:
    rows = await uow.session.execute(
        select(Case.id)
        .where(Case.last_activity_at < before)
        .order_by(Case.last_activity_at, Case.id)
        .limit(limit)
    )
    return list(rows.scalars())


async def _caseless_student_ids(uow: UnitOfWork, before: datetime, limit: int) -> list[str]:
    rows = await uow.session.execute(
        select(Student.id)
        .where(
            Student.last_activity_at < before,
            ~exists().where(Case.student_id == Student.id),
        )
        .order_by(Student.last_activity_at, Student.id)
        .limit(limit)
    )
    return list(rows.scalars())


async def _delete_cases(uow: UnitOfWork, case_ids: Sequence[str]) -> PurgeCounts:
    """Every row that belongs to these cases, then the cases; their sheets unless still used."""
    counts = PurgeCounts()
    session = uow.session
    sheet_ids = [
        s
        for s in (
            await session.execute(select(Case.sheet_id).where(Case.id.in_(case_ids)))
        ).scalars()
        if s is not None
    ]
    counts.notes = _rows(
        await session.execute(delete(CaseNote).where(CaseNote.case_id.in_(case_ids)))
    )
    counts.documents = _rows(
        await session.execute(delete(CaseDocument).where(CaseDocument.case_id.in_(case_ids)))
    )
    counts.disclosures = _rows(
        await session.execute(delete(Disclosure).where(Disclosure.case_id.in_(case_ids)))
    )
    for model in (ConsentRequest, CaseAccessGrant, StaffDraft, CaseEpisode):
        await session.execute(delete(model).where(model.case_id.in_(case_ids)))
    counts.cases = _rows(await session.execute(delete(Case).where(Case.id.in_(case_ids))))
    # Their data keys go in the same transaction: any copy of their records is now unreadable.
    await data_keys.destroy(session, OwnerKind.CASE, case_ids)
    if sheet_ids:
        counts.sheets = _rows(
            await session.execute(
                delete(InformationSheet).where(
                    InformationSheet.id.in_(sheet_ids),
                    ~exists().where(Case.sheet_id == InformationSheet.id),
                )
            )
        )
    return counts


async def _delete_student(uow: UnitOfWork, deps: Deps, student_id: str) -> PurgeCounts:
    """Everything of a student with no case left, then the student row."""
    session = uow.session
    counts = PurgeCounts(students=1)
    counts.messages = _rows(
        await session.execute(delete(OutboxMessage).where(OutboxMessage.student_id == student_id))
    )
    counts.appointments = _rows(
        await session.execute(delete(Appointment).where(Appointment.student_id == student_id))
    )
    counts.consent_entries = _rows(
        await session.execute(delete(ConsentEntry).where(ConsentEntry.student_id == student_id))
    )
    counts.sheets = _rows(
        await session.execute(
            delete(InformationSheet).where(InformationSheet.student_id == student_id)
        )
    )
    # The register keeps that a request was made and answered, with dates only.
    for request in (
        await session.execute(select(SubjectRequest).where(SubjectRequest.student_id == student_id))
    ).scalars():
        # Unlinked first: what is left is sealed under the key ring, not the student's key.
        request.student_id = None
        request.details_enc = deps.cipher.seal_json(
            request, "details_enc", {}, pad_to=REQUEST_DETAILS_BLOCK
        )
    await session.flush()
    await session.execute(delete(Student).where(Student.id == student_id))
    await data_keys.destroy(session, OwnerKind.STUDENT, [student_id])
    return counts


async def erase_student(uow: UnitOfWork, deps: Deps, student_id: str) -> PurgeCounts:
    """Everything about one student, now (a deletion request accepted); the caller audits
    and commits."""
    session = uow.session
    session.add(PurgePermit(id=1))
    await session.flush()
    case_ids = list(
        (await session.execute(select(Case.id).where(Case.student_id == student_id))).scalars()
    )
    counts = await _delete_cases(uow, case_ids) if case_ids else PurgeCounts()
    counts.add(await _delete_student(uow, deps, student_id))
    await session.execute(delete(PurgePermit))
    return counts


async def _trim_student(
    uow: UnitOfWork, student_id: str, since: datetime, *, keep_current_consent: bool
) -> PurgeCounts:
    """A student who stays: what is older than `since` and no longer current goes. With a
    newer case left, the latest consent choice per scope stays (that case relies on it)."""
    session = uow.session
    counts = PurgeCounts()
    counts.sheets = _rows(
        await session.execute(
            delete(InformationSheet).where(
                InformationSheet.student_id == student_id,
                func.coalesce(InformationSheet.submitted_at, InformationSheet.updated_at) < since,
                ~exists().where(Case.sheet_id == InformationSheet.id),
            )
        )
    )
    counts.appointments = _rows(
        await session.execute(
            delete(Appointment).where(
                Appointment.student_id == student_id,
                Appointment.ends_at < since,
                ~Appointment.is_booked,
            )
        )
    )
    old_entries = [
        ConsentEntry.student_id == student_id,
        ConsentEntry.recorded_at < since,
        ~exists().where(ConsentRequest.entry_id == ConsentEntry.id),
    ]
    if keep_current_consent:
        later = aliased(ConsentEntry)
        old_entries.append(
            exists().where(
                later.student_id == ConsentEntry.student_id,
                later.scope == ConsentEntry.scope,
                later.position > ConsentEntry.position,
            )
        )
    counts.consent_entries = _rows(await session.execute(delete(ConsentEntry).where(*old_entries)))
    counts.messages = _rows(
        await session.execute(
            delete(OutboxMessage).where(
                OutboxMessage.student_id == student_id,
                OutboxMessage.created_at < since,
                OutboxMessage.sent_at.is_not(None),
            )
        )
    )
    return counts


async def _after_cases_went(
    uow: UnitOfWork, deps: Deps, student_id: str, before: datetime
) -> PurgeCounts:
    """A student lost cases to the purge: they go too, unless a case or recent activity remains."""
    session = uow.session
    since = await session.scalar(
        select(func.min(Case.opened_at)).where(Case.student_id == student_id)
    )
    if since is not None:
        return await _trim_student(uow, student_id, since, keep_current_consent=True)
    student = await session.get(Student, student_id)
    if student is None:
        return PurgeCounts()
    if student.last_activity_at < before:
        return await _delete_student(uow, deps, student_id)
    # Back in touch lately, with no case left: they stay, as if new (the removed flag was
    # the last case's).
    seal_removed_flag(deps, student, None)
    return await _trim_student(uow, student_id, before, keep_current_consent=False)


async def _purge_batch(uow: UnitOfWork, deps: Deps, before: datetime) -> PurgeCounts:
    """One transaction's worth: up to BATCH expired cases, then caseless students."""
    session = uow.session
    session.add(PurgePermit(id=1))
    await session.flush()
    counts = PurgeCounts()
    case_ids = await _expired_case_ids(uow, before, BATCH)
    if case_ids:
        students = list(
            (
                await session.execute(
                    select(Case.student_id).where(Case.id.in_(case_ids)).distinct()
                )
            ).scalars()
        )
        counts.add(await _delete_cases(uow, case_ids))
        for student_id in students:
            counts.add(await _after_cases_went(uow, deps, student_id, before))
    else:
        for student_id in await _caseless_student_ids(uow, before, BATCH):
            counts.add(await _delete_student(uow, deps, student_id))
    await session.execute(delete(PurgePermit))
    if not counts.empty:
        now = deps.clock.now()
        session.add(
            RetentionRun(
                ran_at=now,
                cases=counts.cases,
                notes=counts.notes,
                documents=counts.documents,
                students=counts.students,
            )
        )
        await audit.record(
            uow,
            deps,
            AuditAction.RETENTION_PURGE,
            audit.SYSTEM,
            None,
            cases=counts.cases,
            notes=counts.notes,
            documents=counts.documents,
            disclosures=counts.disclosures,
            students=counts.students,
        )
    return counts


async def purge(
    deps: Deps, *, progress: Callable[[PurgeCounts], None] | None = None
) -> PurgeCounts:
    """Delete everything past the retention period, one committed batch at a time (a crash
    loses no more than the batch in hand, and the next run goes on where this one stopped)."""
    total = PurgeCounts()
    before = cutoff(deps)
    async with deps.uow() as uow:
        # The register of requests answered longer ago than the period goes too.
        await uow.session.execute(
            delete(SubjectRequest).where(
                SubjectRequest.closed_on.is_not(None),
                SubjectRequest.closed_on < before.astimezone(deps.settings.zone).date(),
            )
        )
        await uow.commit()
    while True:
        async with deps.uow() as uow:
            counts = await _purge_batch(uow, deps, before)
            await uow.commit()
        if counts.empty:
            return total
        total.add(counts)
        if progress is not None:
            progress(counts)


async def due_now(deps: Deps) -> int:
    """How many cases and caseless students a purge would delete now (for a progress bar)."""
    before = cutoff(deps)
    async with deps.uow() as uow:
        cases = await uow.session.scalar(
            select(func.count()).select_from(Case).where(Case.last_activity_at < before)
        )
        students = await uow.session.scalar(
            select(func.count())
            .select_from(Student)
            .where(
                Student.last_activity_at < before,
                ~exists().where(Case.student_id == Student.id),
            )
        )
    return int(cases or 0) + int(students or 0)


@dataclass(frozen=True)
class MonthDue:
    """A dry run's line: records whose last activity fell in one month (service time)."""

    month: str
    cases: int
    notes: int
    documents: int
    students: int


async def preview(deps: Deps) -> list[MonthDue]:
    """What a purge would delete now, by month of last activity; nothing is changed."""
    before = cutoff(deps)
    zone = deps.settings.zone
    async with deps.uow() as uow:
        session = uow.session
        cases = (
            await session.execute(
                select(
                    Case.id,
                    Case.student_id,
                    Case.last_activity_at,
                    Student.last_activity_at.label("seen"),
                )
                .join(Student, Student.id == Case.student_id)
                .where(Case.last_activity_at < before)
            )
        ).all()
        case_month = {c.id: c.last_activity_at.astimezone(zone).strftime("%Y-%m") for c in cases}
        notes = await _count_by_case(uow, CaseNote, list(case_month))
        documents = await _count_by_case(uow, CaseDocument, list(case_month))
        remaining = set(
            (
                await session.execute(
                    select(Case.student_id).where(Case.last_activity_at >= before).distinct()
                )
            ).scalars()
        )
        latest: dict[str, datetime] = {}
        for c in cases:
            if c.student_id not in remaining and c.seen < before:
                latest[c.student_id] = max(
                    latest.get(c.student_id, c.last_activity_at), c.last_activity_at
                )
        caseless = (
            await session.execute(
                select(Student.last_activity_at).where(
                    Student.last_activity_at < before,
                    ~exists().where(Case.student_id == Student.id),
                )
            )
        ).scalars()
    by_month: dict[str, Counter[str]] = {}
    for case_id, month in case_month.items():
        line = by_month.setdefault(month, Counter())
        line["cases"] += 1
        line["notes"] += notes.get(case_id, 0)
        line["documents"] += documents.get(case_id, 0)
    for moment in [*latest.values(), *caseless]:
        by_month.setdefault(moment.astimezone(zone).strftime("%Y-%m"), Counter())["students"] += 1
    return [
        MonthDue(m, c["cases"], c["notes"], c["documents"], c["students"])
        for m, c in sorted(by_month.items())
    ]


async def _count_by_case(
    uow: UnitOfWork, model: type[CaseNote] | type[CaseDocument], case_ids: list[str]
) -> dict[str, int]:
    counts: dict[str, int] = {}
    for start in range(0, len(case_ids), 500):
        rows = await uow.session.execute(
            select(model.case_id, func.count())
            .where(model.case_id.in_(case_ids[start : start + 500]))
            .group_by(model.case_id)
        )
        counts.update({case_id: int(n) for case_id, n in rows.all()})
    return counts


async def warn_upcoming(deps: Deps) -> int:
    """Tell each case's adviser and the coordinators, 30 days ahead, that it will be deleted
    (reference and day only), once per last activity. Returns the cases warned about."""
    soon = cutoff(deps) + timedelta(days=WARN_DAYS)
    years = deps.settings.retention_years
    warned = 0
    async with deps.uow() as uow:
        rows = await uow.session.execute(
            select(Case, StaffMember)
            .outerjoin(
                StaffMember,
                and_(StaffMember.id == Case.assigned_staff_id, StaffMember.active.is_(True)),
            )
            .where(
                Case.last_activity_at < soon,
                (Case.retention_warned_for.is_(None))
                | (Case.retention_warned_for != Case.last_activity_at),
            )
        )
        coordinators = await active_staff_chats(uow, deps, Role.COORDINATOR)
        for case, adviser in rows.all():
            html = lifecycle_texts.retention_warning(
                case.reference, deletion_day(deps, case.last_activity_at), years
            )
            chats = set(coordinators)
            if adviser is not None:
                chats.add(staff_chat_id(deps, adviser))
            stamp = case.last_activity_at.isoformat()
            for chat_id in sorted(chats):
                await outbox.enqueue(
                    uow,
                    deps,
                    kind=outbox.CASE_NOTICE,
                    chat_id=chat_id,
                    html=html,
                    dedupe_key=f"retention-warning:{case.id}:{stamp}:{chat_id}",
                )
            await uow.session.execute(
                update(Case)
                .where(Case.id == case.id)
                .values(retention_warned_for=case.last_activity_at)
                .execution_options(synchronize_session=False)
            )
            warned += 1
        await uow.commit()
    return warned


async def send_monthly_summary(deps: Deps) -> bool:
    """On the first day of a month (or the first run after it), tell the coordinators what
    last month's purges deleted, once. Returns whether a summary was queued."""
    zone = deps.settings.zone
    today = deps.clock.now().astimezone(zone).date()
    last_month_end = today.replace(day=1) - timedelta(days=1)
    month = last_month_end.strftime("%Y-%m")
    start = datetime(last_month_end.year, last_month_end.month, 1, tzinfo=zone)
    end = datetime(today.year, today.month, 1, tzinfo=zone)
    async with deps.uow() as uow:
        if await uow.session.get(RetentionSummary, month) is not None:
            return False
        totals = (
            await uow.session.execute(
                select(
                    func.coalesce(func.sum(RetentionRun.cases), 0),
                    func.coalesce(func.sum(RetentionRun.notes), 0),
                    func.coalesce(func.sum(RetentionRun.documents), 0),
                    func.coalesce(func.sum(RetentionRun.students), 0),
                ).where(RetentionRun.ran_at >= start, RetentionRun.ran_at < end)
            )
        ).one()
        html = lifecycle_texts.retention_summary(last_month_end, *(int(n) for n in totals))
        for chat_id in await active_staff_chats(uow, deps, Role.COORDINATOR):
            await outbox.enqueue(
                uow,
                deps,
                kind=outbox.CASE_NOTICE,
                chat_id=chat_id,
                html=html,
                dedupe_key=f"retention-summary:{month}:{chat_id}",
            )
        uow.session.add(RetentionSummary(month=month, sent_at=deps.clock.now()))
        await uow.commit()
    return True
