"""The words of the data lifecycle (retention and its notices): the texts catalogue's third
module. Like bot/texts.py, HTML is escaped here, where messages are built, and only here."""

from __future__ import annotations

from datetime import date
from html import escape

from bot.vocabulary import PauseReason, RequestKind


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def retention_warning(reference: str, deleted_on: date, years: int) -> str:
    """To a case's adviser and the coordinator, 30 days ahead: the reference and the day only."""
    return (
        f"Case <b>{escape(reference)}</b> will be deleted on "
        f"{deleted_on.strftime('%d %B %Y').lstrip('0')}: nothing has happened on it for "
        f"{_plural(years, 'year', 'years')}, the most the policy keeps a record. "
        "Anything new on the case (a note, a booking, reopening it) restarts the clock; "
        "the date cannot be put off otherwise."
    )


def retention_summary(month: date, cases: int, notes: int, documents: int, students: int) -> str:
    """To the coordinator, once a month: counts only."""
    named = month.strftime("%B %Y")
    if cases == 0 and students == 0:
        return f"Records deleted under the retention policy in {named}: none."
    return (
        f"Records deleted under the retention policy in {named}: "
        f"{_plural(cases, 'case', 'cases')} reached the end of the retention period and "
        f"{'was' if cases == 1 else 'were'} deleted, with "
        f"{_plural(notes, 'note', 'notes')} and {_plural(documents, 'document', 'documents')}; "
        f"{_plural(students, 'student', 'students')} with nothing left on file "
        f"{'was' if students == 1 else 'were'} removed."
    )


def _day(day: date) -> str:
    return day.strftime("%d %B %Y").lstrip("0")


# --- Subject requests: what the student reads ---------------------------------------------

_ASKED = {
    RequestKind.ACCESS: "a copy of everything we hold about you",
    RequestKind.ERASURE: "us to delete your records",
}


def request_taken(kind: RequestKind, due: date) -> str:
    """To the student who asked in the bot."""
    if kind is RequestKind.ACCESS:
        return (
            "Thank you. We have your request for a copy of everything we hold about you. "
            f"We will send it to you here by {_day(due)}. "
            "The coordinator checks it first. If we need to ask you something, we will "
            "message you here."
        )
    return (
        "Thank you. We have your request to delete your records. The coordinator will "
        f"decide by {_day(due)} and tell you here. "
        "We may keep records we still need, for example while your case is open. "
        "If so, we will tell you why."
    )


def request_extended(kind: RequestKind, due: date, reason: str) -> str:
    return (
        f"About your request for {_ASKED[kind]}: we need more time. "
        f"We will reply by {_day(due)}. The reason: {escape(reason)}"
    )


def request_due_again(kind: RequestKind, due: date) -> str:
    return f"About your request for {_ASKED[kind]}: we will reply by {_day(due)}."


_PAUSED = {
    PauseReason.IDENTITY: (
        "Before we go on, we need to check that the request comes from you. "
        "Please reply to the Union Support Service (by email or at the office) to confirm it."
    ),
    PauseReason.CLARIFY: (
        "Before we go on, we need to know a little more about what you are asking for. "
        "Please reply to the Union Support Service (by email or at the office)."
    ),
}


def request_paused(kind: RequestKind, why: PauseReason) -> str:
    return (
        f"About your request for {_ASKED[kind]}: {_PAUSED[why]} "
        "The time we have to reply stops until we hear from you."
    )


DELETION_DONE = (
    "We have deleted your records, as you asked. This includes your information sheet, "
    "your consent choices, your appointments and your case notes. "
    "If you write to me again, I will treat you as new."
)


def deletion_declined(reason: str) -> str:
    return (
        "About your request to delete your records: we cannot delete them now. "
        f"The reason: {escape(reason)} "
        "You can ask the coordinator about this, or complain to the Information "
        "Commissioner's Office (ico.org.uk)."
    )


REQUEST_PROBLEMS = {
    "unknown": "I can't find an open request with that reference. Send /requests to see them.",
    "nothing_held": "We hold nothing about you yet, so there is nothing to send or delete.",
    "already_open": "That request is already open. We will reply by the date we gave.",
    "future_date": "The day it was received can't be in the future.",
    "too_old": "That day is more than a year ago. Please check the date.",
    "reason_needed": "Please give a reason (up to 500 characters): the student is told it.",
    "extension_length": "An extension is of 1 or 2 months.",
    "already_extended": "This request was extended already: it can be extended only once.",
    "not_extended": "This request has no extension to take back.",
    "first_month_over": "The first month is over: an extension can only be made within it.",
    "already_paused": "The clock is already stopped for this request.",
    "not_paused": "The clock is not stopped for this request.",
    "wrong_kind": "That does not apply to this kind of request.",
    "bad_date": "I could not read that date. Write today, or like 2026-12-01 or 1/12/2026.",
}


# --- Subject requests: what staff read -----------------------------------------------------

_KIND_NAMES = {RequestKind.ACCESS: "copy of their data", RequestKind.ERASURE: "deletion"}


def _case(case_reference: str | None) -> str:
    return f"case {escape(case_reference)}" if case_reference else "no case"


def request_received(
    reference: str, kind: RequestKind, case_reference: str | None, received: date, due: date
) -> str:
    """To the coordinators: a new request, by reference only."""
    return (
        f"New request <b>{escape(reference)}</b>: {_KIND_NAMES[kind]} ({_case(case_reference)}), "
        f"received {_day(received)}, due {_day(due)}. Send /requests to see every open one."
    )


def request_reminder(
    reference: str, kind: RequestKind, case_reference: str | None, due: date, days_left: int
) -> str:
    if days_left < 0:
        return (
            f"Overdue: request <b>{escape(reference)}</b> ({_KIND_NAMES[kind]}, "
            f"{_case(case_reference)}) was due {_day(due)}."
        )
    when = "tomorrow" if days_left == 1 else f"in {days_left} days"
    return (
        f"Request <b>{escape(reference)}</b> ({_KIND_NAMES[kind]}, {_case(case_reference)}) "
        f"is due {when}, on {_day(due)}."
    )


# --- /mydata: the student's own view --------------------------------------------------------

BTN_ASK_COPY = "Ask for a copy of everything you hold about me"
BTN_ASK_DELETE = "Ask us to delete my records"
BTN_DELETE_YES = "Yes, ask to delete my records"
BTN_DELETE_NO = "No, keep them"

NOTHING_HELD = (
    "<b>Your data</b>\n"
    "We hold nothing about you yet. When you fill in the information sheet, "
    "you can come back here to see what we hold."
)


def _line(count: int, one: str, many: str) -> str:
    return f"• {_plural(count, one, many)}"


def my_data(
    *,
    sheets: int,
    consent_choices: int,
    appointments: int,
    cases: int,
    notes: int,
    documents: int,
    disclosures: int,
    deleted_on: date | None,
    requests: list[tuple[RequestKind, str, date, date, date | None]],
) -> str:
    """What we hold (counts, never the contents), why, who sees it, when it goes."""
    held = []
    if sheets:
        held.append(
            _line(sheets, "information sheet you filled in", "information sheets you filled in")
        )
    if consent_choices:
        held.append(
            _line(consent_choices, "consent choice", "consent choices")
            + " (we keep each change, so we can show what you agreed to and when)"
        )
    if appointments:
        held.append(_line(appointments, "appointment", "appointments"))
    if cases:
        held.append(
            f"• Your case record: {_plural(notes, 'note', 'notes')} and "
            f"{_plural(documents, 'document', 'documents')}"
        )
    if disclosures:
        held.append(
            _line(disclosures, "record", "records")
            + " of what we shared about you (/mysheet lists them)"
        )
    parts = [
        "<b>Your data</b>",
        "<b>What we hold about you</b>\n" + "\n".join(held),
        "<b>Why</b>\nTo give you advice, and to book and run your appointments.",
        "<b>Who can see it</b>\nYour adviser and the coordinator. Nobody else, unless you "
        "agree. The only exceptions are in our policy: for example, if we are seriously "
        "worried about your safety. /privacy explains.",
    ]
    if deleted_on is not None:
        parts.append(
            "<b>When we delete it</b>\n"
            f"On {_day(deleted_on)}, if nothing more happens on your case. "
            "We keep records for five years at most."
        )
    if requests:
        parts.append("<b>Your requests</b>\n" + "\n".join(_request_line(*r) for r in requests))
    parts.append(
        "You can ask for a copy of everything we hold about you, or ask us to delete it. "
        "You can also ask any of our staff, in any words."
    )
    return "\n\n".join(parts)


_STATUS_WORDS = {
    "open": "we will reply by {due}",
    "paused": "we are waiting to hear from you",
    "sent": "sent on {closed}",
    "accepted": "done on {closed}",
    "declined": "declined on {closed}",
}


def _request_line(
    kind: RequestKind, status: str, received: date, due: date, closed: date | None
) -> str:
    what = "A copy of your data" if kind is RequestKind.ACCESS else "Deleting your records"
    state = _STATUS_WORDS[status].format(
        due=_day(due), closed=_day(closed) if closed is not None else ""
    )
    return f"• {what}, asked on {_day(received)}: {state}"


DELETE_CONFIRM = (
    "Do you want to ask us to delete your records? This includes your information sheet, "
    "consent choices, appointments and case notes. "
    "The coordinator decides, and tells you here. If your case is still open, we may need "
    "to keep it for now."
)
DELETE_KEPT = "Fine. Nothing has changed."


# --- /request and /requests: staff ----------------------------------------------------------

REQUEST_USAGE = (
    "Record a request a student made another way (email, in person, a letter, a phone call, "
    "or a message in the chat):\n"
    "/request CASE copy DATE HOW: a copy of their data\n"
    "/request CASE delete DATE HOW: deleting their records\n"
    "DATE is the day it was <b>received</b> (today, or like 2026-12-01 or 1/12/2026): the "
    "one-month clock starts then. HOW is one of: email, in-person, letter, phone, chat.\n"
    "Example: /request 7K3PQX copy 2026-12-01 email"
)


def request_recorded(reference: str, kind: RequestKind, due: date) -> str:
    return (
        f"Recorded as <b>{escape(reference)}</b> ({_KIND_NAMES[kind]}), due {_day(due)}. "
        "The coordinator has been told."
    )


REQUESTS_USAGE = (
    "/requests: every open request, soonest due first\n"
    "/requests extend REF 1|2 REASON: extend once, within the first month "
    "(the student is told the reason)\n"
    "/requests unextend REF: take an extension back\n"
    "/requests pause REF identity|clarify: stop the clock while you wait for the student\n"
    "/requests resume REF: start the clock again\n"
    "/requests sent REF: a copy was sent (closes an access request)\n"
    "/requests accept REF: delete the student's records now (a deletion request)\n"
    "/requests decline REF REASON: decline a deletion request (the student is told)"
)

NO_OPEN_REQUESTS = "No request is open."


def open_requests(
    rows: list[tuple[str, RequestKind, str | None, str, date, date, int]], today: date
) -> str:
    """The coordinator's register of open requests, soonest due first."""
    lines = ["<b>Open requests</b> (soonest due first)"]
    for reference, kind, case_reference, status, received, due, extended in rows:
        left = (due - today).days
        when = (
            f"<b>overdue</b> since {_day(due)}"
            if left < 0
            else f"due {_day(due)} ({_plural(left, 'day', 'days')} left)"
        )
        extra = ", extended" if extended else ""
        paused = ", clock stopped" if status == "paused" else ""
        lines.append(
            f"• <b>{escape(reference)}</b>: {_KIND_NAMES[kind]}, {_case(case_reference)}, "
            f"received {_day(received)}, {when}{extra}{paused}"
        )
    lines.append("Send /requests help for what you can do with one.")
    return "\n".join(lines)


def request_changed(reference: str, due: date, status: str) -> str:
    if status in ("sent", "accepted", "declined"):
        return f"Request <b>{escape(reference)}</b> is closed ({status})."
    if status == "paused":
        return f"Request <b>{escape(reference)}</b>: the clock is stopped."
    return f"Request <b>{escape(reference)}</b> is now due {_day(due)}."
