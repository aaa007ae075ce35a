"""Counting, once, what the database already held when the statistics began (run by
`python -m bot migrate`, which has the data keys). From then on the counters are the only
source of reports, so they outlive every record purged later."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time

from sqlalchemy import select

from bot.services.cases import cases
from bot.services.cases.disclosure_register import open_disclosure
from bot.services.deps import Deps
from bot.services.intake.consent import decision_of
from bot.services.intake.sheet_store import read_answers
from bot.services.lifecycle import requests
from bot.services.notices.security import notices_told
from bot.services.statistics import events
from bot.vocabulary import (
    AppointmentStatus,
    ConsentChannel,
    ConsentScope,
    DisclosureBasis,
    RequestStatus,
    SheetField,
    YesNo,
)
from storage.models import (
    Appointment,
    Case,
    CaseEpisode,
    ConsentEntry,
    Disclosure,
    InformationSheet,
    StatisticsBackfill,
    SubjectRequest,
)
from storage.uow import UnitOfWork

OUTCOMES = (
    AppointmentStatus.ATTENDED,
    AppointmentStatus.NO_SHOW,
    AppointmentStatus.CANCELLED,
    AppointmentStatus.CANCELLED_BY_SERVICE,
)


async def backfill(deps: Deps) -> bool:
    """Count the records held now, once (the marker row and the counts commit together).
    Returns whether it ran."""
    async with deps.uow() as uow:
        if await uow.session.get(StatisticsBackfill, 1) is not None:
            return False
        await _cases(uow, deps)
        await _appointments(uow, deps)
        await _consents(uow, deps)
        await _disclosures(uow, deps)
        await _requests(uow, deps)
        uow.session.add(StatisticsBackfill(id=1, done_at=deps.clock.now()))
        await uow.commit()
    return True


async def _sheets(uow: UnitOfWork, ids: Sequence[str | None]) -> dict[str, InformationSheet]:
    wanted = [i for i in ids if i]
    if not wanted:
        return {}
    rows = await uow.session.execute(
        select(InformationSheet).where(InformationSheet.id.in_(wanted))
    )
    return {s.id: s for s in rows.scalars()}


async def _cases(uow: UnitOfWork, deps: Deps) -> None:
    every = list((await uow.session.execute(select(Case).order_by(Case.opened_at))).scalars())
    sheets = await _sheets(uow, [c.sheet_id for c in every])
    seen: set[str] = set()
    for case in every:
        sheet = sheets.get(case.sheet_id or "")
        said = read_answers(deps, sheet) if sheet is not None else {}
        await events.case_opened(
            uow,
            deps,
            case.opened_at,
            category=said.get(SheetField.CATEGORY),
            year=said.get(SheetField.YEAR),
            mode=said.get(SheetField.MODE),
            returning=case.student_id in seen,
        )
        seen.add(case.student_id)
        if said.get(SheetField.REMOVED) == YesNo.YES.value and sheet is not None:
            await events.removed_from_course(uow, deps, sheet.submitted_at or case.opened_at)
        episodes = await uow.session.execute(
            select(CaseEpisode).where(
                CaseEpisode.case_id == case.id, CaseEpisode.closed_at.is_not(None)
            )
        )
        for episode in episodes.scalars():
            assert episode.closed_at is not None
            await events.case_closed(
                uow,
                deps,
                episode.closed_at,
                category=said.get(SheetField.CATEGORY),
                outcome=cases.episode_outcome(deps, episode) or "",
                opened_at=episode.opened_at,
            )


async def _appointments(uow: UnitOfWork, deps: Deps) -> None:
    rows = await uow.session.execute(select(Appointment))
    for appointment in rows.scalars():
        status = AppointmentStatus(appointment.status)
        if status in OUTCOMES:
            await events.appointment_outcome(
                uow, deps, appointment.starts_at, mode=appointment.mode, outcome=status
            )
        for _ in range(notices_told(deps, appointment)):
            await events.security_notice_sent(uow, deps, appointment.created_at)


async def _consents(uow: UnitOfWork, deps: Deps) -> None:
    rows = await uow.session.execute(
        select(ConsentEntry).where(ConsentEntry.channel == ConsentChannel.INFORMATION_SHEET.value)
    )
    for entry in rows.scalars():
        await events.consent_at_submission(
            uow, deps, entry.recorded_at, ConsentScope(entry.scope), decision_of(deps, entry)
        )


async def _disclosures(uow: UnitOfWork, deps: Deps) -> None:
    rows = await uow.session.execute(select(Disclosure))
    for row in rows.scalars():
        view = open_disclosure(deps, row, reader_staff_id=None)
        if view.basis is DisclosureBasis.SECURITY_TIMES:
            continue  # counted as Security notices
        await events.disclosure_made(uow, deps, row.made_at, view.basis, view.recipient_kind)


async def _requests(uow: UnitOfWork, deps: Deps) -> None:
    rows = await uow.session.execute(
        select(SubjectRequest).where(SubjectRequest.closed_on.is_not(None))
    )
    for request in rows.scalars():
        if request.status == RequestStatus.OPEN.value or request.closed_on is None:
            continue
        due = requests.due_on(
            request.received_on,
            extended_months=request.extended_months,
            paused_days=request.paused_days,
        )
        closed = datetime.combine(request.closed_on, time(12), tzinfo=deps.settings.zone)
        await events.request_answered(
            uow, deps, closed, kind=request.kind, on_time=request.closed_on <= due
        )
