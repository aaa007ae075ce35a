"""The words of case records (cases, notes, documents, consent recorded by staff,
disclosures): the texts catalogue's second module, kept apart so each stays one idea.

Like bot/texts.py, HTML is escaped here, where messages are built, and only here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from html import escape

from bot.texts import CONSENT_SHORT, CONSENT_WORDING
from bot.vocabulary import (
    BreakGlassReason,
    ConsentChannel,
    ConsentScope,
    DetailProblem,
    DisclosureBasis,
    GateRefusal,
    LegalDuty,
    RecipientKind,
)


def case_assigned_to_you(reference: str) -> str:
    """To an adviser given a case: its reference, and nothing about the student."""
    return (
        f"The coordinator has given you case <b>{escape(reference)}</b>. "
        f"Open it with /case {escape(reference)}."
    )


DRAFT_DROPPED = "Cancelled. Nothing you were typing was saved."


# ---------------------------------------------------------------- access
BREAK_GLASS_LABELS: Mapping[BreakGlassReason, str] = {
    BreakGlassReason.COVERING: "Covering for the adviser",
    BreakGlassReason.STUDENT_CONTACTED_ME: "The student contacted me",
    BreakGlassReason.URGENT_DEADLINE: "An urgent deadline",
    BreakGlassReason.SUPERVISION: "Supervision or review",
    BreakGlassReason.OTHER: "Other (type it)",
}


def break_glass_reported(reference: str, adviser: str, reason: str) -> str:
    """To the coordinator: who opened which case that was not theirs, and the kind of reason."""
    return (
        f"{escape(adviser)} opened case <b>{escape(reference)}</b>, which is not assigned to "
        f"them. Reason given: {escape(reason)}."
    )


# ---------------------------------------------------------------- reading a case

# ---------------------------------------------------------------- notes and documents

# ---------------------------------------------------------------- consent by staff, disclosures
DETAIL_PROBLEMS: Mapping[DetailProblem, str] = {
    DetailProblem.EMPTY: "That was empty. Please type it, or /cancel to stop.",
    DetailProblem.TOO_LONG: "That is too long: at most {limit} characters, please.",
    DetailProblem.DATE_FORMAT: "Please type the date as dd/mm/yyyy, for example 03/12/2026.",
    DetailProblem.DATE_FUTURE: "That date is in the future. Please type the date of the email.",
    DetailProblem.USE_BUTTONS: "Please use the buttons above (or /cancel to stop).",
}


def detail_problem(problem: DetailProblem, limit: int | None = None) -> str:
    return DETAIL_PROBLEMS[problem].format(limit=limit or "")


def _yes_no(granted: bool) -> str:
    return "given" if granted else "withdrawn (or refused)"


def _scope(scope: ConsentScope) -> str:
    return escape(CONSENT_SHORT[scope])


def consent_for_start(reference: str) -> str:
    return (
        f"<b>Consent for case {escape(reference)}</b>\n\n"
        "Record a consent the student gave you (by email or verbally), or ask the student "
        "in the chat? /cancel stops at any point."
    )


BTN_RECORD_CONSENT = "Record consent given to me"
BTN_ASK_STUDENT = "Ask the student in the chat"
BTN_CONSENT_GIVEN = "Given"
BTN_CONSENT_WITHDRAWN = "Withdrawn or refused"
BTN_BY_EMAIL = "By email"
BTN_VERBALLY = "Verbally"
BTN_NO_LIMITATION = "No limitation (skip)"
BTN_RECORD_IT = "Record it"


def btn_scope(scope: ConsentScope) -> str:
    return CONSENT_SHORT[scope]


CHOOSE_SCOPE = "Which consent?"


def choose_decision(scope: ConsentScope) -> str:
    return f"<b>{_scope(scope)}</b>: did the student give this consent, or withdraw it?"


CHOOSE_CHANNEL = "How did the student tell you?"
ASK_EMAIL_DATE = "Type the date of the email, as dd/mm/yyyy."
ASK_EMAIL_REFERENCE = "Type the email's subject, or a reference that finds it."
ASK_VERBAL_NATURE = (
    "In your own words, what did the student give you permission for? The policy asks you to "
    "write down the nature of the permission given."
)
ASK_LIMITATION = (
    "Is the permission limited? Type the limit (for example <i>only the Academic Registry, "
    "only about the appeal</i>), or press the button if it is not."
)


def consent_confirm(
    reference: str,
    scope: ConsentScope,
    granted: bool,
    channel: ConsentChannel,
    *,
    email_date: date | None,
    email_reference: str | None,
    nature: str | None,
    limitation: str | None,
) -> str:
    lines = [
        f"<b>Record this for case {escape(reference)}?</b>",
        "",
        f"Consent: {_scope(scope)}, <b>{_yes_no(granted)}</b>",
        f"Given: {CHANNEL_LABELS[channel]}",
    ]
    if email_date is not None:
        lines.append(f"Email of {email_date:%d/%m/%Y}: {escape(email_reference or '')}")
    if nature is not None:
        lines.append(f"Nature of the permission: {escape(nature)}")
    lines.append(f"Limitation: {escape(limitation) if limitation else 'none'}")
    return "\n".join(lines)


CHANNEL_LABELS: Mapping[ConsentChannel, str] = {
    ConsentChannel.INFORMATION_SHEET: "on the information sheet",
    ConsentChannel.BOT: "in the chat",
    ConsentChannel.BOT_REQUESTED: "in the chat, when an adviser asked",
    ConsentChannel.EMAIL: "by email",
    ConsentChannel.VERBAL: "verbally",
}


def consent_recorded(reference: str, scope: ConsentScope, granted: bool) -> str:
    return (
        f"Recorded for case <b>{escape(reference)}</b>: {_scope(scope)}, "
        f"<b>{_yes_no(granted)}</b>. The student has been told in the chat."
    )


def student_told_consent_recorded(
    adviser: str,
    scope: ConsentScope,
    granted: bool,
    channel: ConsentChannel,
    limitation: str | None,
) -> str:
    """To the student: what an adviser recorded, by whom (first name), and where to see it."""
    said = "gave" if granted else "withdrew (or refused)"
    limit = f"\nLimited to: {escape(limitation)}" if limitation else ""
    return (
        f"Your adviser {escape(adviser)} recorded that you {said} your consent "
        f"{CHANNEL_LABELS[channel]}:\n<b>{_scope(scope)}</b>{limit}\n\n"
        "/consent shows your choices and lets you change any of them."
    )


def ask_purpose(scope: ConsentScope) -> str:
    return (
        f"Asking the student about: <b>{_scope(scope)}</b>.\n\nType one line (at most 200 "
        "characters) saying why, for example <i>to contact Registry about your appeal "
        "deadline</i>. The student will read it."
    )


def request_sent(reference: str, scope: ConsentScope) -> str:
    return (
        f"Sent to the student of case <b>{escape(reference)}</b>: {_scope(scope)}. "
        "You will be told their answer."
    )


def consent_request_to_student(scope: ConsentScope, purpose: str) -> str:
    return (
        "<b>Your adviser asks for your consent</b>\n\n"
        f"{escape(CONSENT_WORDING[scope])}\n\nWhy: {escape(purpose)}\n\n"
        "Saying no won't affect the help you get from us. You can change your answer later "
        "with /consent."
    )


def request_answered(scope: ConsentScope, granted: bool) -> str:
    return (
        f"Thank you. Recorded: {_scope(scope)}: <b>{'Yes' if granted else 'No'}</b>. "
        "Your adviser will be told. /consent shows and changes your choices."
    )


def adviser_told_answer(reference: str, scope: ConsentScope, granted: bool) -> str:
    """To the adviser who asked: the case reference, the scope, the answer; nothing else."""
    return (
        f"Case <b>{escape(reference)}</b>: the student answered your consent request "
        f"({_scope(scope)}): <b>{'Yes' if granted else 'No'}</b>."
    )


# Disclosures
RECIPIENT_LABELS: Mapping[RecipientKind, str] = {
    RecipientKind.SCHOOL: "Academic school or department",
    RecipientKind.UNIVERSITY: "Another University department",
    RecipientKind.EXTERNAL: "An organisation outside the University",
    RecipientKind.HEALTH_CENTRE: "Student Health Centre",
    RecipientKind.LEARNING_SUCCESS: "Learning Success",
    RecipientKind.AUTHORITY: "An authority, under a legal duty",
}
BASIS_LABELS: Mapping[DisclosureBasis, str] = {
    DisclosureBasis.CONSENT: "The student's consent",
    DisclosureBasis.WELFARE: "Welfare concern",
    DisclosureBasis.LEGAL_OBLIGATION: "Obligation in law",
    DisclosureBasis.SECURITY_TIMES: "Security: appointment times",
}
DUTY_LABELS: Mapping[LegalDuty, str] = {
    LegalDuty.CHILDREN_ACT: "Children Act 1989",
    LegalDuty.TERRORISM_ACT: "Terrorism Act 2000",
    LegalDuty.COURT_ORDER: "A court order",
    LegalDuty.OTHER: "Other (type it)",
}


def disclose_start(reference: str) -> str:
    return (
        f"<b>Record a disclosure or action for case {escape(reference)}</b>\n\n"
        "What you did, or are about to do, on the student's behalf. Whom do you contact? "
        "/cancel stops at any point."
    )


def ask_recipient_name(kind: RecipientKind) -> str:
    return (
        f"{escape(RECIPIENT_LABELS[kind])}: type the recipient's name (a person, an office or "
        "an organisation)."
    )


ASK_DISCLOSURE_CONTENT = "Type what was (or will be) shared or asked."
CHOOSE_BASIS = "On what basis?"
CHOOSE_DUTY = "Which statute or duty obliges you?"
ASK_DUTY_TEXT = "Type the statute or duty that obliges you."


def confirm_limitation(limitation: str) -> str:
    return (
        "The student's consent was recorded with this limitation:\n"
        f"<b>{escape(limitation)}</b>\n\nIs what you are recording within it?"
    )


BTN_WITHIN_LIMIT = "Yes, it is within it"


def disclosure_confirm(
    reference: str,
    kind: RecipientKind,
    recipient: str,
    content: str,
    basis: DisclosureBasis,
    duty: str | None,
    limitation: str | None,
) -> str:
    lines = [
        f"<b>Record this for case {escape(reference)}?</b>",
        "",
        f"To: {escape(RECIPIENT_LABELS[kind])}, {escape(recipient)}",
        f"What: {escape(content)}",
        f"Basis: {escape(BASIS_LABELS[basis])}",
    ]
    if duty:
        lines.append(f"Duty: {escape(duty)}")
    if limitation:
        lines.append(f"Within the limitation: {escape(limitation)}")
    return "\n".join(lines)


def disclosure_recorded(reference: str, exception: bool) -> str:
    told = (
        " The coordinator has been told that an exception was used (reference, adviser and "
        "basis only)."
        if exception
        else ""
    )
    return f"Recorded for case <b>{escape(reference)}</b>.{told}"


def refusal(why: GateRefusal, scope: ConsentScope | None, kind: RecipientKind) -> str:
    """Exactly which consent is missing, or why the exception does not apply."""
    needed = f"<b>{_scope(scope)}</b>" if scope is not None else ""
    reasons = {
        GateRefusal.CONSENT_NEVER_ASKED: f"the student has never been asked for {needed}.",
        GateRefusal.CONSENT_REFUSED: f"the student said no to {needed}.",
        GateRefusal.CONSENT_WITHDRAWN: f"the student withdrew {needed} since giving it.",
        GateRefusal.WELFARE_WRONG_RECIPIENT: (
            "a welfare concern may go only to the Student Health Centre or Learning Success, "
            f"not to: {escape(RECIPIENT_LABELS[kind])}."
        ),
        GateRefusal.NO_DUTY_NAMED: "an obligation in law needs the statute or duty named.",
        GateRefusal.DUTY_TEXT_MISSING: "'Other' needs the statute or duty typed out.",
        GateRefusal.NOT_A_BASIS: "that is not a basis for a disclosure by an adviser.",
    }
    ask = (
        "\n\nYou can ask the student for it in the chat, or choose another basis if one applies."
        if scope is not None
        else "\n\nChoose another basis if one applies, or /cancel."
    )
    return f"<b>Not recorded, and not allowed:</b> {reasons[why]}{ask}"


def btn_ask_for(scope: ConsentScope) -> str:
    return f"Ask the student: {CONSENT_SHORT[scope]}"


def exception_reported(reference: str, adviser: str, basis: DisclosureBasis) -> str:
    """To the coordinator: an exception was used. Reference, adviser and basis only."""
    return (
        f"{escape(adviser)} recorded a disclosure on case <b>{escape(reference)}</b> under "
        f"an exception: {escape(BASIS_LABELS[basis])}."
    )


def register(
    start: date,
    end: date,
    counts: Mapping[DisclosureBasis, int],
    lines: Sequence[tuple[date, str, DisclosureBasis]],
) -> str:
    """The coordinator's register: counts by basis, then references and dates; no content."""
    head = [
        f"<b>Disclosures, {start:%d/%m/%Y} to {end:%d/%m/%Y}</b>",
        "",
        *(f"{escape(BASIS_LABELS[b])}: <b>{counts.get(b, 0)}</b>" for b in DisclosureBasis),
    ]
    if not lines:
        return "\n".join([*head, "", "None in this period."])
    body = [f"{day:%d/%m/%Y}  {escape(ref)}  {escape(BASIS_LABELS[b])}" for day, ref, b in lines]
    return "\n".join([*head, "", *body])


REGISTER_USAGE = (
    "Send /disclosures for the last 12 months, or /disclosures FROM TO with dates as "
    "YYYY-MM or dd/mm/yyyy (for example /disclosures 2026-01 2026-06)."
)


BASIS_FOR_STUDENT: Mapping[DisclosureBasis, str] = {
    DisclosureBasis.CONSENT: "with your consent",
    DisclosureBasis.WELFARE: "out of concern for your wellbeing",
    DisclosureBasis.LEGAL_OBLIGATION: "because the law required it",
    DisclosureBasis.SECURITY_TIMES: "appointment times only, to Security",
}


def my_disclosures(items: Sequence[tuple[date, RecipientKind, str, DisclosureBasis, str]]) -> str:
    """The student's own view: every disclosure made about them, with what was shared."""
    if not items:
        return "<b>Shared about you</b>\nNothing has been shared with anyone on your behalf."
    lines = ["<b>Shared about you</b>"]
    for day, kind, recipient, basis, content in items:
        lines.append(
            f"• {day:%d/%m/%Y}, {escape(RECIPIENT_LABELS[kind])}: {escape(recipient)} "
            f"({escape(BASIS_FOR_STUDENT[basis])})\n  {escape(content)}"
        )
    return "\n".join(lines)


def open_case_first(reference: str) -> str:
    """An adviser asked to act on a case that is not theirs: break the glass first."""
    return (
        f"Case <b>{escape(reference)}</b> is not assigned to you. Open it with "
        f"/case {escape(reference)} first (you will be asked why), then try again."
    )


CONSENT_FOR_USAGE = (
    "Send /consentfor followed by the case reference, for example /consentfor 7KQ2MX."
)
DISCLOSE_USAGE = "Send /disclose followed by the case reference, for example /disclose 7KQ2MX."
