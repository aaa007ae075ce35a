"""The consent gate (/disclose) and the disclosure register: nothing leaves without a basis that
holds now, exceptions are reported to the coordinator without details, and welfare stays
between the adviser and the person contacted."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import func, select

from bot import case_texts, texts
from bot.callbacks import Action, Press, encode
from bot.services import audit
from bot.services.cases import disclosure_register, disclosures
from bot.services.cases.disclosures import Grounds, Verdict, basis_holds
from bot.services.intake import consent
from bot.services.intake.consent import StaffDetails
from bot.services.intake.students import register_student, seal_removed_flag
from bot.services.notices import outbox, security
from bot.services.staff import staff, staff_drafts
from bot.transport import LocalChat, LocalUser, check_html
from bot.vocabulary import (
    AppointmentMode,
    AppointmentStatus,
    AuditAction,
    ConsentChannel,
    ConsentScope,
    DisclosureBasis,
    GateRefusal,
    LegalDuty,
    RecipientKind,
    Role,
    YesNo,
)
from storage.audit import entries as audit_entries
from storage.models import Appointment, Disclosure, OutboxMessage
from tests.conftest import Database
from tests.handlers.conftest import (
    ADVISER,
    COORDINATOR,
    SECURITY,
    STUDENT,
    Bot,
    add_staff,
    submit_sheet,
)
from tests.handlers.test_bad_input import awkward_text
from tests.handlers.test_booking_journey import (
    adviser_with_tuesdays,
    book_first_in_person,
    deliver,
)
from tests.handlers.test_staff_consent import given_a_case
from tests.integration.test_storage_protection import _raw_contents

ROOT = Path(__file__).resolve().parents[2]
LABEL = case_texts.RECIPIENT_LABELS
BASIS = case_texts.BASIS_LABELS


async def disclose(
    adviser: LocalChat, reference: str, kind: RecipientKind, basis: DisclosureBasis
) -> None:
    """Up to the choice of basis: recipient kind, name, what was shared, the basis."""
    await adviser.send(f"/disclose {reference}")
    await adviser.press(LABEL[kind])
    await adviser.send("Dr Canaryrecipient Qzx")
    await adviser.send("Canarycontent: asked about an extension for the zqx appeal")
    await adviser.press(BASIS[basis])


async def disclosure_rows(bot: Bot) -> list[Disclosure]:
    async with bot.deps.uow() as uow:
        return list((await uow.session.execute(select(Disclosure))).scalars())


async def audited(bot: Bot, action: AuditAction) -> list[dict[str, object]]:
    async with bot.deps.uow() as uow:
        found = audit_entries(uow.session, bot.deps.cipher, action=action.value)
        return [entry.detail async for entry in found]


async def coordinator_alerts(bot: Bot) -> int:
    async with bot.deps.uow() as uow:
        return int(
            await uow.session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.kind == outbox.COORDINATOR_ALERT)
            )
            or 0
        )


def expected(grounds: Grounds) -> GateRefusal | None:
    """What the policy says of each combination, for a ledger where school was never asked,
    university was refused and external was granted then withdrawn."""
    if grounds.basis is DisclosureBasis.CONSENT:
        return {
            RecipientKind.SCHOOL: GateRefusal.CONSENT_NEVER_ASKED,
            RecipientKind.UNIVERSITY: GateRefusal.CONSENT_REFUSED,
            RecipientKind.HEALTH_CENTRE: GateRefusal.CONSENT_REFUSED,
            RecipientKind.LEARNING_SUCCESS: GateRefusal.CONSENT_REFUSED,
            RecipientKind.EXTERNAL: GateRefusal.CONSENT_WITHDRAWN,
            RecipientKind.AUTHORITY: GateRefusal.CONSENT_WITHDRAWN,
            RecipientKind.SECURITY: GateRefusal.NOT_A_BASIS,
        }[grounds.recipient]
    if grounds.basis is DisclosureBasis.WELFARE:
        welfare = (RecipientKind.HEALTH_CENTRE, RecipientKind.LEARNING_SUCCESS)
        return None if grounds.recipient in welfare else GateRefusal.WELFARE_WRONG_RECIPIENT
    if grounds.basis is DisclosureBasis.LEGAL_OBLIGATION:
        if grounds.duty is None:
            return GateRefusal.NO_DUTY_NAMED
        if grounds.duty is LegalDuty.OTHER and not (grounds.duty_text or "").strip():
            return GateRefusal.DUTY_TEXT_MISSING
        return None
    return GateRefusal.NOT_A_BASIS


async def test_the_gate_refuses_every_combination_it_should_and_allows_the_rest(bot: Bot) -> None:
    deps = bot.deps
    async with deps.uow() as uow:
        student = await register_student(uow, deps, 424242)
        for scope, granted in (
            (ConsentScope.UNIVERSITY, False),
            (ConsentScope.EXTERNAL, True),
            (ConsentScope.EXTERNAL, False),
        ):
            await consent.record_consent(
                uow,
                deps,
                student_id=student.id,
                scope=scope,
                granted=granted,
                channel=ConsentChannel.BOT,
                actor="test",
            )
        await uow.commit()
    combinations = [
        Grounds(kind, basis, duty, text)
        for kind in RecipientKind
        for basis in DisclosureBasis
        for duty, text in (
            (None, None),
            (LegalDuty.CHILDREN_ACT, None),
            (LegalDuty.TERRORISM_ACT, None),
            (LegalDuty.COURT_ORDER, None),
            (LegalDuty.OTHER, None),
            (LegalDuty.OTHER, "  "),
            (LegalDuty.OTHER, "Care Act 2014, section 42"),
        )
    ]
    async with deps.uow() as uow:
        for grounds in combinations:
            verdict = await basis_holds(uow, deps, student.id, grounds)
            assert verdict.refusal is expected(grounds), grounds
        allowed = sum(1 for g in combinations if expected(g) is None)
        assert 0 < allowed < len(combinations)

        # Granted (after a refusal), with a limitation: it holds, and the limitation comes back.
        await consent.record_consent(
            uow,
            deps,
            student_id=student.id,
            scope=ConsentScope.UNIVERSITY,
            granted=True,
            channel=ConsentChannel.VERBAL,
            actor="test",
            note="said yes on the phone",
            details=StaffDetails(limitation="only Registry"),
        )
        verdict = await basis_holds(
            uow, deps, student.id, Grounds(RecipientKind.UNIVERSITY, DisclosureBasis.CONSENT)
        )
    assert verdict == Verdict(None, ConsentScope.UNIVERSITY, "only Registry")


async def test_a_disclosure_with_consent_is_recorded_sealed_and_audited(
    bot: Bot, student: LocalChat
) -> None:
    reference, _ = await given_a_case(bot, student, consent=True)
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    adviser = bot.chat(ADVISER)
    await disclose(adviser, reference, RecipientKind.SCHOOL, DisclosureBasis.CONSENT)
    assert adviser.last_text.startswith(f"Record this for case {reference}?")
    await adviser.press(case_texts.BTN_RECORD_IT)
    assert adviser.last_text == f"Recorded for case {reference}."

    [row] = await disclosure_rows(bot)
    view = disclosure_register.open_disclosure(bot.deps, row, reader_staff_id=None)
    assert (view.basis, view.recipient_kind, view.scope) == (
        DisclosureBasis.CONSENT,
        RecipientKind.SCHOOL,
        ConsentScope.SCHOOL,
    )
    assert view.recipient == "Dr Canaryrecipient Qzx"
    assert view.content == "Canarycontent: asked about an extension for the zqx appeal"
    assert [d["basis"] for d in await audited(bot, AuditAction.DISCLOSURE_MADE)] == ["consent"]
    # Consent is no exception: the coordinator is told nothing, though the outbox holds a row
    # shaped like the alert an exception queues (a copy of it cannot tell the two apart).
    before = len(bot.api.messages(COORDINATOR.id))
    await deliver(bot)
    assert len(bot.api.messages(COORDINATOR.id)) == before
    assert await coordinator_alerts(bot) == 1


async def test_a_refusal_says_which_consent_is_missing_and_offers_to_ask_the_student(
    bot: Bot, student: LocalChat
) -> None:
    reference, _ = await given_a_case(bot, student, consent=False)
    adviser = bot.chat(ADVISER)
    await disclose(adviser, reference, RecipientKind.HEALTH_CENTRE, DisclosureBasis.CONSENT)
    university = texts.CONSENT_SHORT[ConsentScope.UNIVERSITY]
    assert adviser.last_text.startswith("Not recorded, and not allowed: the student said no to")
    assert university in adviser.last_text
    assert await disclosure_rows(bot) == []
    [refused] = await audited(bot, AuditAction.DISCLOSURE_REFUSED)
    assert refused["refusal"] == GateRefusal.CONSENT_REFUSED.value

    await adviser.press(case_texts.btn_ask_for(ConsentScope.UNIVERSITY))
    assert adviser.last_text.startswith(f"Asking the student about: {university}")
    await adviser.send("to tell the Health Centre about your appointment")
    assert adviser.last_text.startswith(f"Sent to the student of case {reference}")


async def test_a_consent_withdrawn_after_the_choice_is_refused_when_saving(
    bot: Bot, student: LocalChat
) -> None:
    reference, _ = await given_a_case(bot, student, consent=True)
    adviser = bot.chat(ADVISER)
    await disclose(adviser, reference, RecipientKind.EXTERNAL, DisclosureBasis.CONSENT)
    await student.send("/consent")
    await student.press(texts.btn_consent_change(ConsentScope.EXTERNAL))
    await student.press(texts.BTN_NO)
    await adviser.press(case_texts.BTN_RECORD_IT)
    assert "the student withdrew" in adviser.last_text
    assert await disclosure_rows(bot) == []


async def test_a_consents_limitation_is_shown_to_the_adviser_to_confirm(
    bot: Bot, student: LocalChat
) -> None:
    reference, student_id = await given_a_case(bot, student, consent=False)
    async with bot.deps.uow() as uow:
        await consent.record_consent(
            uow,
            bot.deps,
            student_id=student_id,
            scope=ConsentScope.SCHOOL,
            granted=True,
            channel=ConsentChannel.VERBAL,
            actor="test",
            note="yes, but only the programme director",
            details=StaffDetails(limitation="only the programme director"),
        )
        await uow.commit()
    adviser = bot.chat(ADVISER)
    await disclose(adviser, reference, RecipientKind.SCHOOL, DisclosureBasis.CONSENT)
    assert "only the programme director" in adviser.last_text
    assert adviser.buttons() == [case_texts.BTN_WITHIN_LIMIT]
    async with bot.deps.uow() as uow:
        reads = [
            e.detail.get("part")
            async for e in audit_entries(
                uow.session, bot.deps.cipher, action=AuditAction.CASE_READ.value
            )
            if e.actor.startswith("staff:")
        ]
    assert reads == ["consent"]  # the limitation shown is a read of the consent record
    await adviser.press(case_texts.BTN_WITHIN_LIMIT)
    assert "Within the limitation: only the programme director" in adviser.last_text
    await adviser.press(case_texts.BTN_RECORD_IT)
    [row] = await disclosure_rows(bot)
    view = disclosure_register.open_disclosure(bot.deps, row, reader_staff_id=None)
    assert view.limitation == "only the programme director"


async def test_welfare_goes_only_to_health_or_learning_success_and_the_coordinator_is_told(
    bot: Bot, student: LocalChat
) -> None:
    reference, _ = await given_a_case(bot, student, consent=False)
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    adviser = bot.chat(ADVISER)
    await disclose(adviser, reference, RecipientKind.SCHOOL, DisclosureBasis.WELFARE)
    assert "a welfare concern may go only to the Student Health Centre" in adviser.last_text
    assert not any(b.startswith("Ask the student") for b in adviser.buttons())
    await adviser.send("/cancel")

    await disclose(adviser, reference, RecipientKind.HEALTH_CENTRE, DisclosureBasis.WELFARE)
    await adviser.press(case_texts.BTN_RECORD_IT)
    assert "The coordinator has been told" in adviser.last_text
    assert len(await disclosure_rows(bot)) == 1

    coordinator = bot.chat(COORDINATOR)
    before = len(coordinator.api.messages(COORDINATOR.id))
    await deliver(bot)
    [alert] = coordinator.api.messages(COORDINATOR.id)[before:]
    assert reference in alert.plain_text
    assert "Alex Adviser" in alert.plain_text and BASIS[DisclosureBasis.WELFARE] in alert.plain_text
    for detail in ("Canary", "Sam", "Jones", "Health Centre", "210012345"):
        assert detail not in alert.plain_text


async def test_an_obligation_in_law_names_its_duty_and_other_needs_it_typed(
    bot: Bot, student: LocalChat
) -> None:
    reference, _ = await given_a_case(bot, student, consent=False)
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    adviser = bot.chat(ADVISER)
    await disclose(adviser, reference, RecipientKind.AUTHORITY, DisclosureBasis.LEGAL_OBLIGATION)
    assert adviser.last_text == case_texts.CHOOSE_DUTY
    await adviser.press(case_texts.DUTY_LABELS[LegalDuty.OTHER])
    assert adviser.last_text == case_texts.ASK_DUTY_TEXT
    await adviser.send("  ")
    assert "empty" in adviser.last_text
    await adviser.send("Care Act 2014, section 42")
    assert "Duty: Care Act 2014, section 42" in adviser.last_text
    await adviser.press(case_texts.BTN_RECORD_IT)
    [row] = await disclosure_rows(bot)
    view = disclosure_register.open_disclosure(bot.deps, row, reader_staff_id=None)
    assert (view.statute, view.statute_text) == (LegalDuty.OTHER, "Care Act 2014, section 42")
    assert await coordinator_alerts(bot) == 1
    # Not shown to the student: telling them could itself be an offence (tipping off).
    await student.send("/mysheet")
    sheet = "\n".join(m.plain_text for m in student.replies)
    assert "Care Act" not in sheet and "Canarycontent" not in sheet


async def test_welfare_content_is_for_its_author_and_the_student_alone(
    bot: Bot, student: LocalChat
) -> None:
    reference, _ = await given_a_case(bot, student, consent=False)
    adviser = bot.chat(ADVISER)
    await disclose(adviser, reference, RecipientKind.LEARNING_SUCCESS, DisclosureBasis.WELFARE)
    await adviser.press(case_texts.BTN_RECORD_IT)
    [row] = await disclosures_rows_and_author(bot)
    other = disclosure_register.open_disclosure(bot.deps, row[0], reader_staff_id="f" * 32)
    author = disclosure_register.open_disclosure(bot.deps, row[0], reader_staff_id=row[1])
    assert other.content is None and other.recipient is None
    assert author.content is not None and author.content.startswith("Canarycontent")

    await student.send("/mysheet")
    sheet = "\n".join(m.plain_text for m in student.replies)
    assert "Shared about you" in sheet
    assert "Canarycontent: asked about an extension" in sheet
    assert "Learning Success: Dr Canaryrecipient Qzx (out of concern for your wellbeing)" in sheet


async def disclosures_rows_and_author(bot: Bot) -> list[tuple[Disclosure, str]]:
    return [(row, row.staff_id) for row in await disclosure_rows(bot)]


async def test_the_register_counts_by_basis_with_security_notices_and_no_content(
    bot: Bot, student: LocalChat
) -> None:
    reference, _ = await given_a_case(bot, student, consent=True)
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    adviser = bot.chat(ADVISER)
    await disclose(adviser, reference, RecipientKind.HEALTH_CENTRE, DisclosureBasis.WELFARE)
    await adviser.press(case_texts.BTN_RECORD_IT)
    await disclose(adviser, reference, RecipientKind.SCHOOL, DisclosureBasis.CONSENT)
    await adviser.press(case_texts.BTN_RECORD_IT)
    async with bot.deps.uow() as uow:  # as bot/services/notices/security.py records a notice
        await audit.record(
            uow,
            bot.deps,
            AuditAction.DISCLOSURE_MADE,
            audit.SYSTEM,
            "e" * 32,
            basis=DisclosureBasis.SECURITY_TIMES.value,
            notice="expected",
            recipients=1,
        )
        await uow.commit()

    coordinator = bot.chat(COORDINATOR)
    await coordinator.send("/disclosures")
    register = "\n".join(m.plain_text for m in coordinator.replies)
    assert "Disclosures, 24/11/2025 to 24/11/2026" in register
    assert f"{BASIS[DisclosureBasis.CONSENT]}: 1" in register
    assert f"{BASIS[DisclosureBasis.WELFARE]}: 1" in register
    assert f"{BASIS[DisclosureBasis.LEGAL_OBLIGATION]}: 0" in register
    assert f"{BASIS[DisclosureBasis.SECURITY_TIMES]}: 1" in register
    assert f"24/11/2026  {reference}  {BASIS[DisclosureBasis.WELFARE]}" in register
    for detail in ("Canary", "zqx", "Sam", "Health Centre"):
        assert detail not in register

    await coordinator.send("/disclosures 2026-01 2026-06")
    assert "None in this period." in coordinator.last_text
    await coordinator.send("/disclosures last year")
    assert coordinator.last_text == case_texts.REGISTER_USAGE
    await adviser.send("/disclosures")
    assert adviser.last_text == texts.NOT_AUTHORISED


async def test_every_disclosure_row_is_made_behind_the_gate(
    bot: Bot, student: LocalChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    construct = re.compile(r"(?<!class )\bDisclosure\(")
    makers = [
        path.relative_to(ROOT).as_posix()
        for folder in ("bot", "storage")
        for path in (ROOT / folder).rglob("*.py")
        if construct.search(path.read_text(encoding="utf-8"))
    ]
    assert makers == ["bot/services/cases/disclosures.py"]

    reference, _ = await given_a_case(bot, student, consent=True)
    adviser = bot.chat(ADVISER)
    await disclose(adviser, reference, RecipientKind.HEALTH_CENTRE, DisclosureBasis.WELFARE)
    assert adviser.buttons() == [case_texts.BTN_RECORD_IT]

    async def refuse_everything(*args: object, **kwargs: object) -> Verdict:
        return Verdict(GateRefusal.NOT_A_BASIS)

    monkeypatch.setattr(disclosures, "basis_holds", refuse_everything)
    await adviser.press(case_texts.BTN_RECORD_IT)
    assert adviser.last_text.startswith("Not recorded, and not allowed")
    assert await disclosure_rows(bot) == []

    # Security's times are a disclosure too: with the gate refusing, a removed student's
    # in-person booking queues Security a stand-in and nothing it would be sent.
    await adviser_with_tuesdays(bot, user=LocalUser(3002, "Ada", "Tuesday"))
    await add_staff(bot, SECURITY, Role.SECURITY)
    removed = bot.chat(LocalUser(1002, "Kim", "Lee"))
    await submit_sheet(removed, removed=True)
    await book_first_in_person(removed)
    assert texts.SECURITY_TOLD_AT_BOOKING not in removed.last_text
    async with bot.deps.uow() as uow:
        chats = await security.security_chats(uow, bot.deps)
    assert chats == [SECURITY.id]
    assert await security_rows(bot) == 1  # the stand-in, shaped like a notice
    await deliver(bot)
    assert bot.api.messages(SECURITY.id) == []
    assert [
        e
        for e in await audited(bot, AuditAction.DISCLOSURE_MADE)
        if e.get("basis") == DisclosureBasis.SECURITY_TIMES.value
    ] == []
    assert len(await audited(bot, AuditAction.SECURITY_ASSESSED)) == 1

    # The refusal alone held the times back: with the gate as it is, the same appointment's
    # times go to Security.
    monkeypatch.undo()
    async with bot.deps.uow() as uow:
        appointment = await uow.session.scalar(select(Appointment))
        assert appointment is not None
        assert await security.sync(uow, bot.deps, appointment, actor="test") == 1
        await uow.commit()
    await deliver(bot)
    sent = [m.plain_text for m in bot.api.messages(SECURITY.id)]
    assert len(sent) == 1
    assert "Tuesday 1 December 2026 from 10:00 to 10:45" in sent[0]


async def security_rows(bot: Bot) -> int:
    async with bot.deps.uow() as uow:
        return int(
            await uow.session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.kind == outbox.SECURITY_NOTICE)
            )
            or 0
        )


async def test_security_may_have_times_only_of_a_removed_students_future_in_person_booking(
    bot: Bot,
) -> None:
    deps = bot.deps
    now = deps.clock.now()
    async with deps.uow() as uow:
        removed = await register_student(uow, deps, 424242)
        seal_removed_flag(deps, removed, YesNo.YES)
        kept = await register_student(uow, deps, 434343)
        seal_removed_flag(deps, kept, YesNo.NO)
        await uow.commit()

    def appointment(
        student_id: str,
        *,
        mode: AppointmentMode = AppointmentMode.IN_PERSON,
        status: AppointmentStatus = AppointmentStatus.BOOKED,
        starts_in: timedelta = timedelta(days=1),
    ) -> Appointment:
        # Never saved: the gate reads the appointment it is given and nothing else of it.
        return Appointment(
            student_id=student_id,
            starts_at=now + starts_in,
            ends_at=now + starts_in + timedelta(minutes=45),
            mode=mode.value,
            status=status.value,
        )

    async def verdict(
        student_id: str,
        booking: Appointment | None,
        recipient: RecipientKind = RecipientKind.SECURITY,
    ) -> GateRefusal | None:
        grounds = Grounds(recipient, DisclosureBasis.SECURITY_TIMES, appointment=booking)
        async with deps.uow() as uow:
            return (await basis_holds(uow, deps, student_id, grounds)).refusal

    assert await verdict(removed.id, appointment(removed.id)) is None
    # Under way, not yet ended: the student is on campus now.
    under_way = appointment(removed.id, starts_in=timedelta(minutes=-10))
    assert await verdict(removed.id, under_way) is None

    refusals = {
        "not removed": (kept.id, appointment(kept.id), GateRefusal.SECURITY_NOT_REMOVED),
        "by phone": (
            removed.id,
            appointment(removed.id, mode=AppointmentMode.PHONE),
            GateRefusal.SECURITY_NOT_IN_PERSON,
        ),
        "by video": (
            removed.id,
            appointment(removed.id, mode=AppointmentMode.VIDEO),
            GateRefusal.SECURITY_NOT_IN_PERSON,
        ),
        "ended": (
            removed.id,
            appointment(removed.id, starts_in=timedelta(hours=-1)),
            GateRefusal.SECURITY_ENDED,
        ),
        "cancelled": (
            removed.id,
            appointment(removed.id, status=AppointmentStatus.CANCELLED),
            GateRefusal.SECURITY_NOT_BOOKED,
        ),
        "attended": (
            removed.id,
            appointment(removed.id, status=AppointmentStatus.ATTENDED),
            GateRefusal.SECURITY_NOT_BOOKED,
        ),
        "another student's": (kept.id, appointment(removed.id), GateRefusal.NOT_A_BASIS),
        "no appointment": (removed.id, None, GateRefusal.NOT_A_BASIS),
    }
    for case, (student_id, booking, why) in refusals.items():
        assert await verdict(student_id, booking) is why, case
    for kind in disclosures.ADVISER_RECIPIENTS:
        assert await verdict(removed.id, appointment(removed.id), kind) is GateRefusal.NOT_A_BASIS
    # Nor may an adviser choose Security, or its basis.
    assert RecipientKind.SECURITY not in disclosures.ADVISER_RECIPIENTS
    assert DisclosureBasis.SECURITY_TIMES not in disclosures.ADVISER_BASES


async def test_disclosure_text_and_consent_notes_never_reach_the_database_in_plaintext(
    bot: Bot, student: LocalChat, database: Database
) -> None:
    reference, _ = await given_a_case(bot, student, consent=True)
    adviser = bot.chat(ADVISER)
    await disclose(adviser, reference, RecipientKind.HEALTH_CENTRE, DisclosureBasis.WELFARE)
    await adviser.press(case_texts.BTN_RECORD_IT)
    await adviser.send(f"/consentfor {reference}")
    await adviser.press(case_texts.BTN_RECORD_CONSENT)
    await adviser.press(texts.CONSENT_SHORT[ConsentScope.EXTERNAL])
    await adviser.press(case_texts.BTN_CONSENT_GIVEN)
    await adviser.press(case_texts.BTN_VERBALLY)
    await adviser.send("Canarynature landlord zqx permission")
    await adviser.send("Canarylimit only the zqx landlord")
    await adviser.press(case_texts.BTN_RECORD_IT)
    await adviser.send(f"/consentfor {reference}")
    await adviser.press(case_texts.BTN_RECORD_CONSENT)
    await adviser.press(texts.CONSENT_SHORT[ConsentScope.SCHOOL])
    await adviser.press(case_texts.BTN_CONSENT_GIVEN)
    await adviser.press(case_texts.BTN_BY_EMAIL)
    await adviser.send("20/11/2026")
    await adviser.send("Canaryemailref zqx subject")
    await adviser.press(case_texts.BTN_NO_LIMITATION)
    await adviser.press(case_texts.BTN_RECORD_IT)
    await adviser.send(f"/consentfor {reference}")
    await adviser.press(case_texts.BTN_ASK_STUDENT)
    await adviser.press(texts.CONSENT_SHORT[ConsentScope.UNIVERSITY])
    await adviser.send("Canarypurpose about the zqx deadline")
    await adviser.send(f"/disclose {reference}")  # a draft left open, typed text in it
    await adviser.press(LABEL[RecipientKind.EXTERNAL])
    await adviser.send("Canarydraftname zqx")

    raw = await _raw_contents(database)
    assert len(raw) > 1000
    for needle in (
        "Canaryrecipient",
        "Canarycontent",
        "Canarynature",
        "Canarylimit",
        "Canaryemailref",
        "Canarypurpose",
        "Canarydraftname",
    ):
        assert needle.encode() not in raw, f"{needle} in plaintext in the {database.kind} database"


async def test_a_student_with_nothing_shared_is_told_so_in_mysheet(
    bot: Bot, student: LocalChat
) -> None:
    await given_a_case(bot, student)
    await student.send("/mysheet")
    assert "Nothing has been shared with anyone on your behalf." in student.last_text
    assert STUDENT.first_name  # the sheet itself is shown above it, as before


_case_of_bot: dict[int, str] = {}


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=awkward_text, content=awkward_text)
async def test_any_recipient_and_content_gets_a_valid_reply_and_reads_back_exactly(
    bot: Bot, student: LocalChat, name: str, content: str
) -> None:
    if id(bot.app) not in _case_of_bot:
        _case_of_bot[id(bot.app)] = (await given_a_case(bot, student))[0]
    reference = _case_of_bot[id(bot.app)]
    adviser = bot.chat(ADVISER)
    known = {row.id for row in await disclosure_rows(bot)}
    before = len(bot.api.calls)
    await adviser.send(f"/disclose {reference}")
    await adviser.press(LABEL[RecipientKind.HEALTH_CENTRE])
    replies = [*(await adviser.send(name) if name.strip() else [])]
    replies += await adviser.send(content) if content.strip() else []
    if adviser.buttons() == [BASIS[b] for b in disclosures.ADVISER_BASES]:
        replies += await adviser.press(BASIS[DisclosureBasis.WELFARE])
        replies += await adviser.press(case_texts.BTN_RECORD_IT)
    assert [c for c in bot.api.calls[before:] if not c.ok] == []
    for reply in replies:
        assert reply.text is not None
        check_html(reply.text)
        assert len(reply.plain_text) <= 4096
    if adviser.last_text.startswith("Recorded for case"):
        [newest] = [row for row in await disclosure_rows(bot) if row.id not in known]
        view = disclosure_register.open_disclosure(bot.deps, newest, reader_staff_id=None)
        assert view.recipient == " ".join(name.split())
        assert view.content == content.strip()


async def test_an_adviser_is_never_offered_security_and_a_forged_press_for_it_has_expired(
    bot: Bot, student: LocalChat
) -> None:
    reference, _ = await given_a_case(bot, student, consent=True)
    adviser = bot.chat(ADVISER)
    await adviser.send(f"/disclose {reference}")
    assert adviser.buttons() == [LABEL[kind] for kind in disclosures.ADVISER_RECIPIENTS]
    assert LABEL[RecipientKind.SECURITY] not in adviser.buttons()
    forged = Press(Action.DISCLOSE_RECIPIENT, case=reference, recipient=RecipientKind.SECURITY)
    await adviser.deliver(bot.factory.callback(adviser.user, adviser.last, encode(forged)))
    assert adviser.last_text.startswith(texts.EXPIRED_PLAIN)
    async with bot.deps.uow() as uow:
        me = await staff.find_staff(uow, bot.deps, ADVISER.id)
        assert me is not None
        draft = await staff_drafts.current(uow, bot.deps, me.id)
    assert draft is not None and draft.step == disclosures.DisclosureStep.RECIPIENT.value
