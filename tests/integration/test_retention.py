"""Retention on both engines, with the injected clock: nothing younger than the period goes;
everything of an expired case goes, across every table with a personal column; a student goes
with their last case; activity restarts the clock; the audit chain survives with one sealed
entry per purge; staff are warned 30 days ahead and the coordinator told each month."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.clock import FixedClock
from bot.services import audit
from bot.services.cases import cases
from bot.services.deps import Deps
from bot.services.intake import consent
from bot.services.lifecycle import retention
from bot.services.notices import outbox
from bot.services.staff import staff
from bot.settings import SettingsError, load_settings
from bot.vocabulary import AuditAction, ConsentChannel, ConsentScope, Role
from storage import audit as chain
from storage import data_keys
from storage.models import (
    SEALED_COLUMNS,
    Appointment,
    AuditEntry,
    Base,
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
    RetentionRun,
    StaffDraft,
    StaffMember,
    StaffSecondFactor,
    StatisticsCount,
    Student,
    SubjectRequest,
)
from storage.uow import UnitOfWork
from tests.integration.test_case_records_at_rest import STAFF_TG, fill_a_case
from tests.integration.test_intake_service import STUDENT, fill_to_review

FIVE_YEARS_AND_A_DAY = timedelta(days=5 * 365 + 2)  # two leap days at most in five years

# Every model with a personal (sealed) column, and how the purge covers it.
PURGED_WITH_THE_CASE = {
    CaseEpisode,
    CaseNote,
    CaseAccessGrant,
    CaseDocument,
    Disclosure,
    ConsentRequest,
    StaffDraft,
}
PURGED_WITH_THE_STUDENT = {Student, InformationSheet, ConsentEntry, Appointment, OutboxMessage}
# Staff are not students: their rows are kept while they are staff (deactivated, not purged).
NOT_ABOUT_STUDENTS = {StaffMember, StaffSecondFactor}
# Kept with dates only once the student is gone (the link is set to NULL), as the register.
KEPT_WITHOUT_THE_STUDENT = {SubjectRequest}
# Sealed, but about no one: the anonymous counters outlive what they counted.
ANONYMOUS = {StatisticsCount}


def test_every_model_with_a_personal_column_is_covered_by_the_purge() -> None:
    sealed = set(SEALED_COLUMNS)
    uncovered = (
        sealed
        - PURGED_WITH_THE_CASE
        - PURGED_WITH_THE_STUDENT
        - NOT_ABOUT_STUDENTS
        - KEPT_WITHOUT_THE_STUDENT
        - ANONYMOUS
    )
    assert not uncovered, f"no retention rule for {sorted(m.__name__ for m in uncovered)}"


async def count(uow: UnitOfWork, model: type[Base]) -> int:
    return int(await uow.session.scalar(select(func.count()).select_from(model)) or 0)


async def add_appointment_and_message(deps: Deps, student_id: str) -> None:
    """A past appointment and a sent message of the student's, so every table has a row."""
    async with deps.uow() as uow:
        adviser = await uow.session.scalar(select(StaffMember))
        assert adviser is not None
        now = deps.clock.now()
        appointment = Appointment(
            student_id=student_id,
            staff_id=adviser.id,
            starts_at=now - timedelta(hours=2),
            ends_at=now - timedelta(hours=1),
            mode="in person",
            status="attended",
            created_at=now,
            updated_at=now,
            scheduled_at=now,
        )
        await data_keys.bind(uow.session, appointment)
        appointment.security_enc = deps.cipher.seal_padded(appointment, "security_enc", "", 64)
        uow.session.add(appointment)
        await outbox.enqueue(
            uow,
            deps,
            kind=outbox.STUDENT_NOTICE,
            chat_id=STUDENT,
            html="Your appointment is confirmed.",
            dedupe_key=f"retention-test:{student_id}",
            student_id=student_id,
        )
        await uow.commit()


async def expired_case(deps: Deps, clock: FixedClock) -> Case:
    case = await fill_a_case(deps)
    await add_appointment_and_message(deps, case.student_id)
    return case


async def test_nothing_younger_than_the_period_goes(deps: Deps, clock: FixedClock) -> None:
    case = await expired_case(deps, clock)
    clock.advance(timedelta(days=5 * 365 - 1))
    assert retention.years_before(clock.now(), 5) < case.last_activity_at
    purged = await retention.purge(deps)
    assert purged.empty
    async with deps.uow() as uow:
        for model in PURGED_WITH_THE_CASE | PURGED_WITH_THE_STUDENT:
            assert await count(uow, model) >= 1, model.__name__
        assert await count(uow, RetentionRun) == 0


async def test_everything_of_an_expired_case_goes_across_every_table(
    deps: Deps, clock: FixedClock
) -> None:
    await expired_case(deps, clock)
    async with deps.uow() as uow:
        before = {m: await count(uow, m) for m in PURGED_WITH_THE_CASE | PURGED_WITH_THE_STUDENT}
    assert all(before.values()), before
    clock.advance(FIVE_YEARS_AND_A_DAY)
    purged = await retention.purge(deps)
    assert (purged.cases, purged.notes, purged.documents, purged.disclosures) == (1, 2, 1, 1)
    assert purged.students == 1
    async with deps.uow() as uow:
        for model in PURGED_WITH_THE_CASE | PURGED_WITH_THE_STUDENT | {Case}:
            assert await count(uow, model) == 0, f"{model.__name__} rows survived the purge"
        # Staff stay: they are not the student's records.
        assert await count(uow, StaffMember) == 1
    again = await retention.purge(deps)
    assert again.empty


async def test_the_audit_chain_survives_with_one_sealed_entry_per_purge(
    deps: Deps, clock: FixedClock
) -> None:
    await expired_case(deps, clock)
    async with deps.uow() as uow:
        entries_before = await count(uow, AuditEntry)
    clock.advance(FIVE_YEARS_AND_A_DAY)
    await retention.purge(deps)
    async with deps.uow() as uow:
        report = await chain.verify(uow.session, deps.cipher, deps.audit_key)
        assert report.ok, report.reason
        assert await count(uow, AuditEntry) == entries_before + 1
        purges = [
            e
            async for e in chain.entries(
                uow.session, deps.cipher, action=AuditAction.RETENTION_PURGE.value
            )
        ]
    assert len(purges) == 1
    assert purges[0].actor == audit.SYSTEM and purges[0].subject is None
    assert purges[0].detail["cases"] == 1 and purges[0].detail["students"] == 1
    assert purges[0].detail["notes"] == 2


async def test_activity_on_a_case_restarts_its_clock(deps: Deps, clock: FixedClock) -> None:
    case = await expired_case(deps, clock)
    clock.advance(timedelta(days=4 * 365))
    async with deps.uow() as uow:
        member = await staff.find_staff(uow, deps, STAFF_TG)
        assert member is not None
        found = await uow.session.get(Case, case.id)
        assert found is not None
        await cases.close(uow, deps, member, found, 0)
        await cases.reopen(uow, deps, member, found, "A new letter arrived")
        await uow.commit()
    clock.advance(timedelta(days=2 * 365))
    assert (await retention.purge(deps)).empty
    async with deps.uow() as uow:
        assert await count(uow, CaseNote) == 2
    clock.advance(timedelta(days=4 * 365))
    assert (await retention.purge(deps)).cases == 1


async def test_a_newer_case_keeps_the_student_and_their_current_consent(
    deps: Deps, clock: FixedClock
) -> None:
    old = await expired_case(deps, clock)
    async with deps.uow() as uow:
        scopes_before = await count(uow, ConsentEntry)
        member = await staff.find_staff(uow, deps, STAFF_TG)
        found = await uow.session.get(Case, old.id)
        assert member is not None and found is not None
        await cases.close(uow, deps, member, found, 0)
        await uow.commit()
    clock.advance(timedelta(days=3 * 365))
    async with deps.uow() as uow:
        # A newer case opens (its own sheet aside), then the student changes one choice.
        uow.session.add(
            Case(
                student_id=old.student_id,
                reference=cases.new_reference(),
                status="open",
                opened_at=clock.now(),
                last_activity_at=clock.now(),
            )
        )
        await uow.commit()
    async with deps.uow() as uow:
        await consent.record_consent(
            uow,
            deps,
            student_id=old.student_id,
            scope=ConsentScope.SCHOOL,
            granted=False,
            channel=ConsentChannel.BOT,
            actor=audit.student_actor(old.student_id),
        )
        await uow.commit()
    clock.advance(timedelta(days=2 * 365 + 2))
    purged = await retention.purge(deps)
    assert purged.cases == 1 and purged.students == 0
    async with deps.uow() as uow:
        assert await count(uow, Case) == 1
        assert await count(uow, Student) == 1
        assert await count(uow, CaseNote) == 0
        assert await count(uow, Appointment) == 0  # the old case's, long over
        # Superseded choices older than the newer case went; the current one per scope stayed.
        entries = (await uow.session.execute(select(ConsentEntry))).scalars().all()
        assert len(entries) < scopes_before + 1
        assert {e.scope for e in entries} == {s.value for s in ConsentScope}
        current = await consent.current_consents(uow, deps, old.student_id)
    assert current[ConsentScope.SCHOOL].granted is False


async def test_a_student_who_never_finished_a_sheet_goes_after_the_period(
    deps: Deps, clock: FixedClock
) -> None:
    await fill_to_review(deps)
    clock.advance(timedelta(days=5 * 365 - 1))
    assert (await retention.purge(deps)).empty
    clock.advance(timedelta(days=3))
    purged = await retention.purge(deps)
    assert (purged.cases, purged.students) == (0, 1)
    async with deps.uow() as uow:
        assert await count(uow, Student) == 0
        assert await count(uow, InformationSheet) == 0


async def test_a_student_back_in_touch_stays_when_their_last_case_goes(
    deps: Deps, clock: FixedClock
) -> None:
    case = await expired_case(deps, clock)
    clock.advance(FIVE_YEARS_AND_A_DAY)
    async with deps.uow() as uow:
        student = await uow.session.get(Student, case.student_id)
        assert student is not None
        student.last_activity_at = clock.now() - timedelta(days=1)
        await uow.commit()
    purged = await retention.purge(deps)
    assert (purged.cases, purged.students) == (1, 0)
    async with deps.uow() as uow:
        assert await count(uow, Student) == 1
        assert await count(uow, ConsentEntry) == 0
        assert await count(uow, InformationSheet) == 0
        assert await count(uow, Appointment) == 0


async def coordinator_and_adviser(deps: Deps, case: Case) -> tuple[StaffMember, StaffMember]:
    async with deps.uow() as uow:
        coordinator = await staff.find_staff(uow, deps, STAFF_TG)
        adviser = await staff.add_staff(
            uow, deps, telegram_user_id=STAFF_TG + 1, name="Ada B", role=Role.ADVISER, actor="t"
        )
        found = await uow.session.get(Case, case.id)
        assert coordinator is not None and found is not None
        found.assigned_staff_id = adviser.id
        await uow.commit()
    return coordinator, adviser


async def notices(deps: Deps) -> list[tuple[str, str]]:
    """Queued retention messages as (chat, text), opened."""
    async with deps.uow() as uow:
        rows = (await uow.session.execute(select(OutboxMessage))).scalars().all()
        opened = []
        for row in rows:
            if row.body_enc is None or row.recipient_enc is None:
                continue
            body = deps.cipher.open(row, "body_enc", row.body_enc) or ""
            chat = deps.cipher.open(row, "recipient_enc", row.recipient_enc) or ""
            if "retention" in body or "will be deleted" in body:
                opened.append((chat, body))
    return opened


async def test_adviser_and_coordinator_are_warned_30_days_ahead_once_with_the_reference_only(
    deps: Deps, clock: FixedClock
) -> None:
    case = await expired_case(deps, clock)
    await coordinator_and_adviser(deps, case)
    async with deps.uow() as uow:
        found = await uow.session.get(Case, case.id)
        assert found is not None
        reference, last = found.reference, found.last_activity_at
    clock.set(retention.years_before(last, -5) - timedelta(days=31))
    assert await retention.warn_upcoming(deps) == 0
    clock.advance(timedelta(days=2))
    assert await retention.warn_upcoming(deps) == 1
    assert await retention.warn_upcoming(deps) == 0  # once
    sent = await notices(deps)
    assert sorted(chat.strip() for chat, _ in sent) == sorted([str(STAFF_TG), str(STAFF_TG + 1)])
    for _, body in sent:
        assert reference in body
        assert "Canary" not in body and "zqxjk" not in body
    # Activity restarts the clock: no warning until the new date comes near, then one more.
    async with deps.uow() as uow:
        found = await uow.session.get(Case, case.id)
        assert found is not None
        found.last_activity_at = clock.now()
        await uow.commit()
    assert await retention.warn_upcoming(deps) == 0
    clock.advance(timedelta(days=5 * 365 - 20))
    assert await retention.warn_upcoming(deps) == 1


async def test_the_coordinator_gets_one_summary_a_month_with_counts_only(
    deps: Deps, clock: FixedClock
) -> None:
    await expired_case(deps, clock)
    clock.set(datetime(2031, 11, 30, 12, tzinfo=UTC))
    purged = await retention.purge(deps)
    assert purged.cases == 1
    assert await retention.send_monthly_summary(deps)  # October's, empty
    clock.set(datetime(2031, 12, 1, 9, tzinfo=UTC))
    assert await retention.send_monthly_summary(deps)
    assert not await retention.send_monthly_summary(deps)
    bodies = [body for _, body in await notices(deps)]
    november = [b for b in bodies if "November 2031" in b]
    assert len(november) == 1
    assert "1 case reached the end of the retention period" in november[0]
    assert "2 notes and 1 document" in november[0]
    assert any("October 2031: none" in b for b in bodies)


async def test_a_dry_run_counts_by_month_and_changes_nothing(deps: Deps, clock: FixedClock) -> None:
    case = await expired_case(deps, clock)
    clock.advance(FIVE_YEARS_AND_A_DAY)
    lines = await retention.preview(deps)
    month = case.last_activity_at.astimezone(deps.settings.zone).strftime("%Y-%m")
    assert [(x.month, x.cases, x.notes, x.documents, x.students) for x in lines] == [
        (month, 1, 2, 1, 1)
    ]
    async with deps.uow() as uow:
        assert await count(uow, Case) == 1
        assert await count(uow, CaseNote) == 2
    assert await retention.due_now(deps) == 1


def test_start_up_refuses_a_retention_period_longer_than_the_policy_allows() -> None:
    for years in (6, 0):
        with pytest.raises(SettingsError) as refused:
            load_settings(_env_file=None, retention_years=years)
        assert "USS_RETENTION_YEARS" in str(refused.value)
    assert load_settings(_env_file=None, retention_years=3).retention_years == 3
