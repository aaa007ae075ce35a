"""The consent gate, disclosures on a student's behalf, and the disclosure register.

Nothing about a student leaves the service unless its basis holds now: the student's consent
for the scope that matches the recipient (its latest ledger entry grants it), or one of the
policy's exceptions: a welfare concern, to the Student Health Centre or Learning Success
only; an obligation in law, with the statute or duty named; an in-person appointment's times,
to Security, for a student removed from their course (the rule is in `security_basis`; the
notices in `security` ask this gate). `basis_holds` is that one predicate, and it fails closed:
anything it does not positively allow is refused. Every Disclosure row is written here, after
the predicate is asked again at the moment of saving.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot import case_texts
from bot.services import audit
from bot.services.cases import case_access
from bot.services.cases.staff_consent import DetailRejected, clean_line, clean_text
from bot.services.deps import Deps
from bot.services.errors import DomainError, StaleAction
from bot.services.intake import consent
from bot.services.notices import outbox, security_basis
from bot.services.staff import staff, staff_drafts
from bot.services.staff.staff_drafts import Draft
from bot.services.statistics import events as statistics
from bot.vocabulary import (
    AuditAction,
    CasePart,
    ConsentScope,
    DetailProblem,
    DisclosureBasis,
    DraftPurpose,
    GateRefusal,
    LegalDuty,
    RecipientKind,
)
from storage import data_keys
from storage.models import DISCLOSURE_BLOCK, Appointment, Case, Disclosure, StaffMember
from storage.uow import UnitOfWork

COMMAND = "disclose"
RECIPIENT_MAX = 200
CONTENT_MAX = 2000
DUTY_TEXT_MAX = 300

# The consent that covers each kind of recipient.
SCOPE_FOR_RECIPIENT: dict[RecipientKind, ConsentScope] = {
    RecipientKind.SCHOOL: ConsentScope.SCHOOL,
    RecipientKind.UNIVERSITY: ConsentScope.UNIVERSITY,
    RecipientKind.HEALTH_CENTRE: ConsentScope.UNIVERSITY,
    RecipientKind.LEARNING_SUCCESS: ConsentScope.UNIVERSITY,
    RecipientKind.EXTERNAL: ConsentScope.EXTERNAL,
    RecipientKind.AUTHORITY: ConsentScope.EXTERNAL,
}
# The policy: concerns for a student's health or wellbeing go to these, and nobody else.
WELFARE_RECIPIENTS = frozenset({RecipientKind.HEALTH_CENTRE, RecipientKind.LEARNING_SUCCESS})
EXCEPTIONS = frozenset({DisclosureBasis.WELFARE, DisclosureBasis.LEGAL_OBLIGATION})
# What an adviser may choose; Security's times are disclosed by the booking service alone.
ADVISER_BASES = (
    DisclosureBasis.CONSENT,
    DisclosureBasis.WELFARE,
    DisclosureBasis.LEGAL_OBLIGATION,
)
# Whom an adviser may choose; Security is told by the booking service alone.
ADVISER_RECIPIENTS = tuple(kind for kind in RecipientKind if kind is not RecipientKind.SECURITY)


@dataclass(frozen=True)
class Grounds:
    """What a disclosure claims as its basis."""

    recipient: RecipientKind
    basis: DisclosureBasis
    duty: LegalDuty | None = None
    duty_text: str | None = None
    # Security's times: the appointment whose times would be told.
    appointment: Appointment | None = None


@dataclass(frozen=True)
class Verdict:
    """The gate's answer: `refusal` None means the basis holds. For consent, the scope weighed
    and any limitation recorded with it (which the adviser confirms)."""

    refusal: GateRefusal | None
    scope: ConsentScope | None = None
    limitation: str | None = None

    @property
    def holds(self) -> bool:
        return self.refusal is None


async def basis_holds(uow: UnitOfWork, deps: Deps, student_id: str, grounds: Grounds) -> Verdict:
    """THE consent gate: whether `grounds` allow a disclosure about the student now."""
    if grounds.basis is DisclosureBasis.CONSENT:
        scope = SCOPE_FOR_RECIPIENT.get(grounds.recipient)
        if scope is None:
            return Verdict(GateRefusal.NOT_A_BASIS)
        history = await consent.scope_history(uow, deps, student_id, scope)
        if not history:
            return Verdict(GateRefusal.CONSENT_NEVER_ASKED, scope)
        latest = history[-1]
        if latest.granted is True:
            return Verdict(None, scope, latest.limitation)
        if any(entry.granted for entry in history):
            return Verdict(GateRefusal.CONSENT_WITHDRAWN, scope)
        return Verdict(GateRefusal.CONSENT_REFUSED, scope)
    if grounds.basis is DisclosureBasis.WELFARE:
        if grounds.recipient in WELFARE_RECIPIENTS:
            return Verdict(None)
        return Verdict(GateRefusal.WELFARE_WRONG_RECIPIENT)
    if grounds.basis is DisclosureBasis.LEGAL_OBLIGATION:
        if grounds.duty is None:
            return Verdict(GateRefusal.NO_DUTY_NAMED)
        if grounds.duty is LegalDuty.OTHER and not (grounds.duty_text or "").strip():
            return Verdict(GateRefusal.DUTY_TEXT_MISSING)
        return Verdict(None)
    if grounds.basis is DisclosureBasis.SECURITY_TIMES:
        refusal = await security_basis.security_refusal(
            uow, deps, student_id, grounds.recipient, grounds.appointment
        )
        return Verdict(refusal)
    return Verdict(GateRefusal.NOT_A_BASIS)


class DisclosureRefused(DomainError):
    """The gate refused (the refusal is audited and committed before this is raised)."""

    def __init__(self, reference: str, verdict: Verdict, recipient: RecipientKind) -> None:
        super().__init__(verdict.refusal.value if verdict.refusal else "refused")
        self.reference = reference
        self.verdict = verdict
        self.recipient = recipient


class DisclosureStep(StrEnum):
    RECIPIENT = "recipient"
    RECIPIENT_NAME = "recipient_name"
    CONTENT = "content"
    BASIS = "basis"
    DUTY = "duty"
    DUTY_TEXT = "duty_text"
    LIMITATION = "limitation"
    CONFIRM = "confirm"


@dataclass(frozen=True)
class DisclosureDraft:
    reference: str
    step: DisclosureStep
    recipient: RecipientKind | None = None
    name: str | None = None
    content: str | None = None
    basis: DisclosureBasis | None = None
    duty: LegalDuty | None = None
    duty_text: str | None = None
    limitation: str | None = None


@dataclass(frozen=True)
class Made:
    reference: str
    basis: DisclosureBasis
    exception: bool


def _view(reference: str, draft: Draft) -> DisclosureDraft:
    c = draft.content
    return DisclosureDraft(
        reference=reference,
        step=DisclosureStep(draft.step),
        recipient=RecipientKind(c["recipient"]) if c.get("recipient") else None,
        name=c.get("name"),
        content=c.get("content"),
        basis=DisclosureBasis(c["basis"]) if c.get("basis") else None,
        duty=LegalDuty(c["duty"]) if c.get("duty") else None,
        duty_text=c.get("duty_text"),
        limitation=c.get("limitation"),
    )


def _grounds(content: dict[str, Any]) -> Grounds:
    return Grounds(
        RecipientKind(content["recipient"]),
        DisclosureBasis(content["basis"]),
        LegalDuty(content["duty"]) if content.get("duty") else None,
        content.get("duty_text"),
    )


async def _draft_case(
    uow: UnitOfWork,
    deps: Deps,
    telegram_user_id: int,
    steps: tuple[DisclosureStep, ...],
    reference: str | None = None,
) -> tuple[StaffMember, Case, Draft]:
    return await case_access.open_drafted_case(
        uow,
        deps,
        telegram_user_id,
        (DraftPurpose.DISCLOSURE,),
        tuple(s.value for s in steps),
        command=COMMAND,
        reference=reference,
    )


async def _move(
    uow: UnitOfWork,
    deps: Deps,
    me: StaffMember,
    case: Case,
    step: DisclosureStep,
    content: dict[str, Any],
) -> DisclosureDraft:
    draft = await staff_drafts.save(uow, deps, me.id, step=step.value, content=content)
    await uow.commit()
    return _view(case.reference, draft)


async def _refuse(
    uow: UnitOfWork,
    deps: Deps,
    me: StaffMember,
    case: Case,
    content: dict[str, Any],
    verdict: Verdict,
) -> DisclosureRefused:
    """Audit the refusal, take the draft back to the choice of basis, and commit."""
    grounds = _grounds(content)
    await audit.record(
        uow,
        deps,
        AuditAction.DISCLOSURE_REFUSED,
        audit.staff_actor(me.id),
        case.id,
        basis=grounds.basis.value,
        recipient=grounds.recipient.value,
        refusal=verdict.refusal.value if verdict.refusal else None,
    )
    kept: dict[str, Any] = {k: content[k] for k in ("recipient", "name", "content") if k in content}
    await staff_drafts.save(uow, deps, me.id, step=DisclosureStep.BASIS.value, content=kept)
    await uow.commit()
    return DisclosureRefused(case.reference, verdict, grounds.recipient)


async def _after_gate(
    uow: UnitOfWork, deps: Deps, me: StaffMember, case: Case, content: dict[str, Any]
) -> DisclosureDraft:
    """Ask the gate about the draft's grounds: refused, or on to confirm (the limitation
    first, when the consent carries one)."""
    verdict = await basis_holds(uow, deps, case.student_id, _grounds(content))
    if not verdict.holds:
        raise await _refuse(uow, deps, me, case, content, verdict)
    if verdict.limitation:
        # The limitation is part of the consent record: showing it is a read of the case.
        await case_access.audit_read(uow, deps, me, case, CasePart.CONSENT)
        content = {**content, "limitation": verdict.limitation}
        return await _move(uow, deps, me, case, DisclosureStep.LIMITATION, content)
    return await _move(uow, deps, me, case, DisclosureStep.CONFIRM, content)


async def start(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, reference: str
) -> DisclosureDraft:
    """/disclose REF: open the case (least privilege) and begin a disclosure draft."""
    me, case = await case_access.open_case(uow, deps, telegram_user_id, reference, command=COMMAND)
    draft = await staff_drafts.begin(
        uow,
        deps,
        me.id,
        DraftPurpose.DISCLOSURE,
        case_id=case.id,
        step=DisclosureStep.RECIPIENT.value,
    )
    await uow.commit()
    return _view(case.reference, draft)


async def choose_recipient(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, reference: str, kind: RecipientKind
) -> DisclosureDraft:
    if kind not in ADVISER_RECIPIENTS:
        raise StaleAction
    me, case, _ = await _draft_case(
        uow, deps, telegram_user_id, (DisclosureStep.RECIPIENT,), reference
    )
    return await _move(
        uow, deps, me, case, DisclosureStep.RECIPIENT_NAME, {"recipient": kind.value}
    )


async def typed(uow: UnitOfWork, deps: Deps, telegram_user_id: int, text: str) -> DisclosureDraft:
    """A typed detail for the step the disclosure draft is at; the next step."""
    me, case, draft = await _draft_case(uow, deps, telegram_user_id, tuple(DisclosureStep))
    content = dict(draft.content)
    step = DisclosureStep(draft.step)
    if step is DisclosureStep.RECIPIENT_NAME:
        content["name"] = clean_line(text, RECIPIENT_MAX)
        return await _move(uow, deps, me, case, DisclosureStep.CONTENT, content)
    if step is DisclosureStep.CONTENT:
        content["content"] = clean_text(text, CONTENT_MAX)
        return await _move(uow, deps, me, case, DisclosureStep.BASIS, content)
    if step is DisclosureStep.DUTY_TEXT:
        content["duty_text"] = clean_line(text, DUTY_TEXT_MAX)
        return await _after_gate(uow, deps, me, case, content)
    raise DetailRejected(DetailProblem.USE_BUTTONS)


async def choose_basis(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, reference: str, basis: DisclosureBasis
) -> DisclosureDraft:
    """The basis: the gate is asked at once (a legal obligation first names its duty)."""
    if basis not in ADVISER_BASES:
        raise StaleAction
    me, case, draft = await _draft_case(
        uow, deps, telegram_user_id, (DisclosureStep.BASIS,), reference
    )
    content = {k: draft.content[k] for k in ("recipient", "name", "content")}
    content["basis"] = basis.value
    if basis is DisclosureBasis.LEGAL_OBLIGATION:
        return await _move(uow, deps, me, case, DisclosureStep.DUTY, content)
    return await _after_gate(uow, deps, me, case, content)


async def choose_duty(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, reference: str, duty: LegalDuty
) -> DisclosureDraft:
    me, case, draft = await _draft_case(
        uow, deps, telegram_user_id, (DisclosureStep.DUTY,), reference
    )
    content = {**draft.content, "duty": duty.value, "duty_text": None}
    if duty is LegalDuty.OTHER:
        return await _move(uow, deps, me, case, DisclosureStep.DUTY_TEXT, content)
    return await _after_gate(uow, deps, me, case, content)


async def within_limitation(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, reference: str
) -> DisclosureDraft:
    """The adviser confirms the disclosure is within the consent's limitation."""
    me, case, draft = await _draft_case(
        uow, deps, telegram_user_id, (DisclosureStep.LIMITATION,), reference
    )
    content = {**draft.content, "confirmed_limitation": draft.content.get("limitation")}
    return await _move(uow, deps, me, case, DisclosureStep.CONFIRM, content)


async def save(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, reference: str
) -> Made | DisclosureDraft:
    """Ask the gate again, now, and write the disclosure; or refuse (DisclosureRefused).

    If the consent's limitation changed since the adviser confirmed it, the draft goes back to
    confirming the new one (returned) and nothing is written.
    """
    me, case, draft = await _draft_case(
        uow, deps, telegram_user_id, (DisclosureStep.CONFIRM,), reference
    )
    content = dict(draft.content)
    grounds = _grounds(content)
    verdict = await basis_holds(uow, deps, case.student_id, grounds)
    if not verdict.holds:
        raise await _refuse(uow, deps, me, case, content, verdict)
    if verdict.limitation and verdict.limitation != content.get("confirmed_limitation"):
        content["limitation"] = verdict.limitation
        return await _move(uow, deps, me, case, DisclosureStep.LIMITATION, content)
    now = deps.clock.now()
    disclosure = Disclosure(case_id=case.id, staff_id=me.id, made_at=now)
    await data_keys.bind(uow.session, disclosure)
    disclosure.details_enc = deps.cipher.seal_json(
        disclosure,
        "details_enc",
        {
            "basis": grounds.basis.value,
            "recipient_kind": grounds.recipient.value,
            "recipient": content["name"],
            "content": content["content"],
            "statute": grounds.duty.value if grounds.duty else None,
            "statute_text": grounds.duty_text,
            "scope": verdict.scope.value if verdict.scope else None,
            "limitation": verdict.limitation,
        },
        pad_to=DISCLOSURE_BLOCK,
    )
    uow.session.add(disclosure)
    await statistics.disclosure_made(uow, deps, now, grounds.basis, grounds.recipient)
    await audit.record(
        uow,
        deps,
        AuditAction.DISCLOSURE_MADE,
        audit.staff_actor(me.id),
        case.id,
        disclosure=disclosure.id,
        basis=grounds.basis.value,
    )
    case.last_activity_at = now
    exception = grounds.basis in EXCEPTIONS
    if exception:
        await outbox.alert_coordinators(
            uow,
            deps,
            case_texts.exception_reported(
                case.reference, staff.staff_name(deps, me), grounds.basis
            ),
            dedupe_key=f"disclosure-exception:{disclosure.id}",
        )
    else:
        # The same rows, never sent: the outbox must not tell an exception from consent.
        await outbox.stand_in_for_coordinator_alerts(
            uow, deps, dedupe_key=f"disclosure-exception:{disclosure.id}"
        )
    await staff_drafts.finish(uow, me.id)
    await uow.commit()
    return Made(case.reference, grounds.basis, exception)
