"""Every word a person reads. HTML is escaped here, where messages are built, and only here.

The consent wording is versioned: change a scope's words and bump CONSENT_WORDING_VERSION,
because the ledger keeps the version and a digest of the exact words each student saw.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from html import escape
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.message_parts import split_message as split_message  # where messages are cut
from bot.vocabulary import (
    AppointmentMode,
    ConsentScope,
    FactorState,
    NoticeChange,
    RejectReason,
    Role,
    SheetField,
    YearOfStudy,
    YesNo,
)

if TYPE_CHECKING:
    from bot.services.notices.security import AppointmentTimes, SecurityNotice

# ---------------------------------------------------------------- consent (versioned)
CONSENT_WORDING_VERSION = "2026-11.1"

CONSENT_WORDING: Mapping[ConsentScope, str] = {
    ConsentScope.SCHOOL: (
        "May your adviser contact your academic school or department about your case "
        "(for example your course officer or programme director) on your behalf?"
    ),
    ConsentScope.UNIVERSITY: (
        "May your adviser contact other University departments about your case "
        "(for example Student Services, Finance or Registry) on your behalf?"
    ),
    ConsentScope.EXTERNAL: (
        "May your adviser contact organisations outside the University about your case "
        "(for example the Office of the Independent Adjudicator, a landlord or a lender) "
        "on your behalf?"
    ),
    ConsentScope.EMAIL: "May the USS contact you by email about your case?",
    ConsentScope.REMINDERS: "May we send you appointment reminders in this chat?",
}

CONSENT_SHORT: Mapping[ConsentScope, str] = {
    ConsentScope.SCHOOL: "Contact your school or department",
    ConsentScope.UNIVERSITY: "Contact other University departments",
    ConsentScope.EXTERNAL: "Contact organisations outside the University",
    ConsentScope.EMAIL: "Contact you by email",
    ConsentScope.REMINDERS: "Appointment reminders in this chat",
}

# ---------------------------------------------------------------- labels
FIELD_LABELS: Mapping[SheetField, str] = {
    SheetField.FULL_NAME: "Full name",
    SheetField.STUDENT_NUMBER: "Student number",
    SheetField.EMAIL: "University email",
    SheetField.PHONE: "Phone",
    SheetField.COURSE: "Course or programme",
    SheetField.YEAR: "Year of study",
    SheetField.CATEGORY: "What it is about",
    SheetField.DESCRIPTION: "Description",
    SheetField.DEADLINE: "Deadline",
    SheetField.REMOVED: "Removed, suspended or excluded from your course",
    SheetField.ACCESSIBILITY: "Accessibility needs",
    SheetField.MODE: "Preferred appointment",
}

YEAR_LABELS: Mapping[str, str] = {
    YearOfStudy.FOUNDATION.value: "Foundation",
    YearOfStudy.FIRST.value: "Year 1",
    YearOfStudy.SECOND.value: "Year 2",
    YearOfStudy.THIRD.value: "Year 3",
    YearOfStudy.FOURTH.value: "Year 4",
    YearOfStudy.FIFTH_OR_LATER.value: "Year 5 or later",
    YearOfStudy.POSTGRADUATE_TAUGHT.value: "Postgraduate (taught)",
    YearOfStudy.POSTGRADUATE_RESEARCH.value: "Postgraduate (research)",
}

MODE_LABELS: Mapping[str, str] = {
    AppointmentMode.IN_PERSON.value: "In person",
    AppointmentMode.PHONE.value: "By phone",
    AppointmentMode.VIDEO.value: "By video call",
}

REMOVED_LABELS: Mapping[str, str] = {
    YesNo.YES.value: "Yes",
    YesNo.NO.value: "No",
}

ROLE_LABELS: Mapping[Role, str] = {
    Role.STUDENT: "student",
    Role.ADVISER: "adviser",
    Role.COORDINATOR: "coordinator",
    Role.SECURITY: "Security",
}


def choice_label(field: SheetField, value: str) -> str:
    """The button label for a stored choice value (categories are their own labels)."""
    table: Mapping[str, str] = {
        SheetField.YEAR: YEAR_LABELS,
        SheetField.MODE: MODE_LABELS,
        SheetField.REMOVED: REMOVED_LABELS,
    }.get(field, {})
    return table.get(value, value)


def format_date(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def format_moment(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{format_date(local.date())}, {local:%H:%M}"


def answer_text(field: SheetField, value: str | None) -> str:
    """An answer as a person reads it (escaped)."""
    if value is None:
        return "<i>skipped</i>"
    if field is SheetField.DEADLINE:
        return escape(format_date(date.fromisoformat(value)))
    return escape(choice_label(field, value))


# ---------------------------------------------------------------- welcome and privacy
def welcome(service: str) -> str:
    return (
        f"Hello, and welcome to the <b>{escape(service)}</b> (USS).\n\n"
        "I'll help you get ready for an appointment with an adviser. First, here is how "
        "we look after what you tell us."
    )


def privacy_notice(service: str, retention_years: int) -> str:
    return (
        "<b>How your information is protected</b>\n\n"
        f"• What you tell the {escape(service)} is <b>confidential</b>. Only the USS advisers "
        "and the Student Advocacy and Policy Coordinator can see your file.\n"
        "• Nothing is shared with anyone inside or outside the University without your "
        "<b>express permission</b>. You choose, one by one, what your adviser may do for you, "
        "and you can change your mind at any time with /consent.\n"
        "• There are three exceptions, set out in our confidentiality policy:\n"
        "   – if you have been <b>removed from your course</b>, University Security is told "
        "the date and time of any in-person appointment, so they know you will be on campus "
        "then. They are told the times and nothing else;\n"
        "   – if an adviser is worried about your health or wellbeing, they may contact the "
        "Student Health Centre or the Learning Success Department, in confidence;\n"
        "   – where the law requires us to disclose information.\n"
        f"• Your records are kept for at most <b>{retention_years} years</b>, then deleted.\n"
        "• You have the right to see what is on your file: ask the Student Advocacy and "
        "Policy Coordinator in writing.\n"
        "• Everything is stored encrypted, and every look at your file is recorded.\n\n"
        "The information sheet takes about five minutes. Your answers are saved as you go, "
        "so you can stop and come back with /start."
    )


BTN_CONTINUE = "Continue"
BTN_NOT_NOW = "Not now"
NOT_NOW = (
    "That's fine: nothing has been saved. Send /start whenever you are ready, "
    "or /privacy to read how we protect your information again."
)
BTN_RESUME = "Continue where I left off"
BTN_START_OVER = "Start over"
BTN_START_OVER_CONFIRM = "Yes, delete my answers and start again"
BTN_KEEP_GOING = "No, keep my answers"
START_OVER_CONFIRM = (
    "Start over? This deletes the answers you have given so far. This cannot be undone."
)


def resume(position: int, total: int) -> str:
    return (
        "Welcome back. Your information sheet is saved: you had reached "
        f"<b>question {position} of {total}</b>."
    )


RESUME_AT_REVIEW = "Welcome back. Your answers are saved: you were checking them over."
RESUME_AT_CONSENT = "Welcome back. Your answers are saved: you were making your consent choices."


def already_submitted(when: datetime, zone: ZoneInfo) -> str:
    return (
        f"Welcome back. You sent us your information sheet on {format_moment(when, zone)}.\n\n"
        "/mysheet shows what you told us and your consent choices\n"
        "/consent lets you change what your adviser may do for you\n"
        "/privacy shows how we protect your information"
    )


# ---------------------------------------------------------------- questions
def question_header(position: int, total: int) -> str:
    return f"<b>Question {position} of {total}</b>"


def prompt(field: SheetField, *, number_hint: str, description_max: int) -> str:
    """The question itself, with any limits stated up front."""
    prompts: Mapping[SheetField, str] = {
        SheetField.FULL_NAME: "What is your full name?",
        SheetField.STUDENT_NUMBER: (
            f"What is your student number? ({escape(number_hint)}; it is on your student card.)"
        ),
        SheetField.EMAIL: "What is your University email address?",
        SheetField.PHONE: (
            "What phone number can we reach you on? This is optional: press "
            "<i>Skip</i> if you would rather not say."
        ),
        SheetField.COURSE: "What course or programme are you studying?",
        SheetField.YEAR: "Which year of study are you in?",
        SheetField.CATEGORY: "What is your issue mainly about?",
        SheetField.DESCRIPTION: (
            "In a few sentences, what has happened and what would you like help with? "
            f"Please keep it to <b>{description_max} characters</b> or fewer: you can tell "
            "your adviser everything else at the appointment."
        ),
        SheetField.DEADLINE: (
            "Is there a deadline we should know about, such as an appeal or submission date? "
            "Type the date (for example 15/03/2027 or 15 March), or press <i>Skip</i> if "
            "there is none."
        ),
        SheetField.REMOVED: (
            "Have you been <b>removed, suspended or excluded</b> from your course?\n\n"
            "Why we ask: if you have, our policy obliges us to tell University Security the "
            "date and time of any <b>in-person</b> appointment, so that they know you will be "
            "on campus then. Security is told only your name, student number and the "
            "appointment times: never why you are coming or anything you tell us. Phone and "
            "video appointments are not reported."
        ),
        SheetField.ACCESSIBILITY: (
            "Do you have any accessibility needs we should plan for (for example step-free "
            "access, a quiet room, extra time, or an interpreter)? This is optional: press "
            "<i>Skip</i> if not."
        ),
        SheetField.MODE: "How would you prefer to meet your adviser?",
    }
    return prompts[field]


BTN_SKIP = "Skip"


def answered(field: SheetField, value: str | None) -> str:
    """Left on a question once it is answered, so the chat reads as a record."""
    return f"{escape(FIELD_LABELS[field])}: {answer_text(field, value)}"


# ---------------------------------------------------------------- rejections
def rejection(reason: RejectReason, params: Mapping[str, object]) -> str:
    def p(key: str) -> str:
        return escape(str(params.get(key, "")))

    messages: Mapping[RejectReason, str] = {
        RejectReason.EMPTY: "That answer looks empty. Please type it out.",
        RejectReason.TOO_LONG: (
            f"That is a little too long: please keep it to {p('maximum')} characters or fewer "
            f"(yours has {p('length')}; some emoji count as more than one). Nothing has been "
            "saved yet, so you can shorten it and send it again."
        ),
        RejectReason.TOO_SHORT: (
            f"Could you say a little more? Please use at least {p('minimum')} characters."
        ),
        RejectReason.NAME_FORMAT: (
            "Please type your name using letters, spaces, hyphens or apostrophes only, "
            "for example <i>Sam O'Neill-Khan</i>."
        ),
        RejectReason.STUDENT_NUMBER_FORMAT: (
            f"That doesn't look like a student number. It should be {p('hint')}."
        ),
        RejectReason.EMAIL_FORMAT: (
            "That doesn't look like an email address. Please type it in full, for example "
            "<i>firstname.lastname@city.ac.uk</i>."
        ),
        RejectReason.EMAIL_DOMAIN: (
            f"Please use your University email address (ending in {p('domains')}), "
            "so we know it's you."
        ),
        RejectReason.PHONE_FORMAT: (
            "That doesn't look like a phone number. Please use digits (spaces and a leading + "
            "are fine), for example <i>07700 900123</i>, or press <i>Skip</i>."
        ),
        RejectReason.NEEDS_LETTERS: "Please answer in words.",
        RejectReason.DATE_FORMAT: (
            "I couldn't read that as a date. Please type it like <i>15/03/2027</i>, "
            "<i>2027-03-15</i> or <i>15 March</i>."
        ),
        RejectReason.DATE_PAST: (
            "That date has already passed. If the deadline has gone, press <i>Skip</i> and "
            "tell your adviser at the appointment: there may still be options."
        ),
        RejectReason.DATE_TOO_FAR: "That date is more than two years away. Please check it.",
        RejectReason.NOT_A_CHOICE: "Please choose one of the buttons below.",
        RejectReason.NOT_SKIPPABLE: "This question needs an answer, so it can't be skipped.",
    }
    return messages[reason]


def wrong_kind(expected_button: bool) -> str:
    if expected_button:
        return "I can't use that here. Please choose one of the buttons below."
    return (
        "I can only read typed text here (not stickers, photos, voice notes, files or "
        "forwarded messages). Please type your answer."
    )


EDITED_MESSAGE = (
    "I noticed you edited a message. I keep what you first sent; you can change any answer "
    "on the review screen before you send your sheet."
)
USE_BUTTONS = "Please use the buttons below to carry on."

# ---------------------------------------------------------------- review
REVIEW_INTRO = (
    "<b>Please check your answers</b>\n"
    "Press a button to change any of them, or <i>Everything is correct</i> to carry on."
)
BTN_REVIEW_OK = "Everything is correct"


# The review screen's buttons, two to a row: short enough for a phone not to cut them.
CHANGE_BUTTON_MAX = 20
CHANGE_LABELS: Mapping[SheetField, str] = {
    SheetField.FULL_NAME: "Edit name",
    SheetField.STUDENT_NUMBER: "Edit student number",
    SheetField.EMAIL: "Edit email",
    SheetField.PHONE: "Edit phone",
    SheetField.COURSE: "Edit course",
    SheetField.YEAR: "Edit year",
    SheetField.CATEGORY: "Edit topic",
    SheetField.DESCRIPTION: "Edit description",
    SheetField.DEADLINE: "Edit deadline",
    SheetField.REMOVED: "Edit removal answer",
    SheetField.ACCESSIBILITY: "Edit accessibility",
    SheetField.MODE: "Edit meeting type",
}


def btn_change(field: SheetField) -> str:
    return CHANGE_LABELS[field]


def answers_block(answers: Mapping[SheetField, str | None], order: tuple[SheetField, ...]) -> str:
    return "\n".join(
        f"<b>{escape(FIELD_LABELS[f])}</b>: {answer_text(f, answers.get(f))}" for f in order
    )


# ---------------------------------------------------------------- consent
CONSENT_INTRO = (
    "<b>Last step: your consent</b>\n"
    "Before an adviser does anything on your behalf, we ask your permission. I'll ask about "
    f"{len(CONSENT_WORDING)} things, one at a time. Nothing is ticked for you, saying no "
    "won't affect the help you get from us, and you can change any answer later with /consent."
)


def consent_question(scope: ConsentScope, position: int, total: int) -> str:
    return f"<b>Consent {position} of {total}</b>\n\n{escape(CONSENT_WORDING[scope])}"


BTN_YES = "Yes"
BTN_NO = "No"


def consent_state(granted: bool | None) -> str:
    return {True: "Yes", False: "No", None: "Not asked yet"}[granted]


def consent_answered(scope: ConsentScope, granted: bool | None) -> str:
    return f"{escape(CONSENT_SHORT[scope])}: <b>{consent_state(granted)}</b>"


def submitted(service: str) -> str:
    return (
        f"<b>Thank you.</b> Your information sheet has been sent to the {escape(service)}.\n\n"
        "/mysheet shows what you told us and your consent choices\n"
        "/consent lets you change what your adviser may do for you, at any time"
    )


def consent_overview(states: Mapping[ConsentScope, bool | None]) -> str:
    lines = [f"• {escape(CONSENT_SHORT[s])}: <b>{consent_state(g)}</b>" for s, g in states.items()]
    return (
        "<b>Your consent choices</b>\n"
        + "\n".join(lines)
        + "\n\nPress a button to change one. A change applies from now on."
    )


def btn_consent_change(scope: ConsentScope) -> str:
    return f"Change: {CONSENT_SHORT[scope]}"


BTN_DONE = "Done"
CONSENT_CLOSED = "Your consent choices are saved. Send /consent to look at them again."


def consent_changed(scope: ConsentScope, before: bool | None, after: bool) -> str:
    if before is after:
        return f"Saved: <b>{escape(CONSENT_SHORT[scope])}</b> stays <b>{consent_state(after)}</b>."
    return (
        f"Changed: <b>{escape(CONSENT_SHORT[scope])}</b> is now <b>{consent_state(after)}</b> "
        f"(it was {consent_state(before)})."
    )


# ---------------------------------------------------------------- my sheet
def my_sheet(answers_html: str, consents_html: str, when: datetime, zone: ZoneInfo) -> str:
    return (
        f"<b>Your information sheet</b> (sent {format_moment(when, zone)})\n\n"
        f"{answers_html}\n\n{consents_html}"
    )


NO_SHEET = "You haven't sent an information sheet yet. Send /start to begin."
NO_SHEET_YET_CONSENT = (
    "You'll make your consent choices at the end of the information sheet. "
    "Send /start to begin or carry on."
)

# ---------------------------------------------------------------- cancel
CANCEL_CONFIRM = "Discard your information sheet? Everything you have typed so far will be deleted."
BTN_DISCARD = "Yes, delete it"
BTN_KEEP = "No, keep it"
DISCARDED = "Done: your draft has been deleted. Send /start if you want to begin again."
KEPT = "Your answers are kept. Here's where you were:"
NOTHING_TO_CANCEL = "There's nothing to cancel right now."

# ---------------------------------------------------------------- errors and edges
EXPIRED = "That button has expired. Here's where you are now:"
EXPIRED_PLAIN = "That button has expired."
EXPIRED_HELP = "That button has expired. Send /help to see what I can do."


def something_went_wrong(reference: str) -> str:
    return (
        "Sorry, something went wrong on our side. Anything you had already been thanked for "
        "is safely saved. Please try again in a moment. If it keeps happening, tell the USS "
        f"and quote <code>{escape(reference)}</code>."
    )


def message_reference(html: str, reference: str, *, to_staff: bool) -> str:
    """A queued message's own short reference at its foot; students are told what it is for."""
    if to_staff:
        return f"{html}\n\n<i>Ref {escape(reference)}</i>"
    return (
        f"{html}\n\n<i>Message ref {escape(reference)}: if you get this message twice, "
        "you can ignore the copy.</i>"
    )


PRIVATE_ONLY = (
    "To keep your information confidential I only work in private chats. "
    "Please message me directly."
)
NOT_STARTED = "Send /start to begin your information sheet, or /help to see what I can do."
UNKNOWN_COMMAND = "I don't know that command. Send /help to see what I can do."

HELP_STUDENT = (
    "<b>What I can do</b>\n"
    "/start: begin or carry on your information sheet\n"
    "/book: book an appointment with an adviser\n"
    "/appointments: your appointments, to move or cancel one\n"
    "/mysheet: see what you told us and your consent choices\n"
    "/consent: see or change what your adviser may do for you\n"
    "/mydata: what we hold about you; ask for a copy, or ask us to delete it\n"
    "/privacy: how we protect your information\n"
    "/cancel: discard an unfinished information sheet\n"
    "/help: this list"
)
HELP_ADVISER = (
    "<b>Staff commands</b>\n"
    "/availability: your weekly times, days off and extra times\n"
    "/today, /week: your appointments; mark attended or no-show, or cancel\n"
    "/removed CASE on|off: record that a student was (or was not) removed from their course\n"
    "/case CASE: a student's case record, part by part\n"
    "/find NUMBER or NAME: find a case by exact student number or full name\n"
    "/note CASE: add a note; /correct CASE N: correct note N\n"
    "/attach CASE: the next file you send goes to the case\n"
    "/consentfor CASE: record a consent given by email or verbally, or ask the student\n"
    "/disclose CASE: record what you shared or asked for the student, and why\n"
    "/request CASE copy|delete DATE HOW: record a request for a copy or deletion made another way\n"
    "/cancel: drop what you were typing\n"
    "/unlock CODE: open your session with a code from your authenticator app; /lock: end it\n"
    "/policy: read the confidentiality policy again\n"
    "/help: this list"
)
HELP_COORDINATOR = (
    "<b>Coordinator commands</b>\n"
    "/invite adviser | coordinator | security: make a single-use invite link\n"
    "/staff: list staff; deactivate someone, or reset their second factor\n"
    "/availability: weekly times, days off and extra times, yours or any adviser's\n"
    "/today, /week: your appointments; mark attended or no-show, or cancel\n"
    "/removed CASE on|off: record that a student was (or was not) removed from their course\n"
    "/reassign [CASE]: give bookings to another adviser (those that need one, or a student's)\n"
    "/case CASE: any case record, part by part; give it to another adviser from there\n"
    "/find NUMBER or NAME: find a case by exact student number or full name\n"
    "/note CASE: add a note; /correct CASE N: correct note N\n"
    "/attach CASE: the next file you send goes to the case\n"
    "/consentfor CASE: record a consent given by email or verbally, or ask the student\n"
    "/disclose CASE: record what you shared or asked for the student, and why\n"
    "/request CASE copy|delete DATE HOW: record a request for a copy or deletion made another way\n"
    "/disclosures [FROM TO]: the disclosure register (counts and references only)\n"
    "/requests: open requests for a copy or deletion, with due dates (/requests help)\n"
    "/cancel: drop what you were typing\n"
    "/unlock CODE: open your session with a code from your authenticator app; /lock: end it\n"
    "/policy: read the confidentiality policy again\n"
    "/policy publish: publish a new version approved by the Board of Trustees\n"
    "/policy signatures: who has acknowledged which version, and who has not yet\n"
    "/help: this list"
)
SECURITY_ONLY = (
    "This chat receives notices from the Union Support Service: the dates and times when a "
    "student will be on campus for an appointment. There is nothing else to do here."
)

# ---------------------------------------------------------------- staff
NOT_AUTHORISED = "Sorry, that is only for USS staff with the right role."


def policy_required(version: str, role: Role | None = None, approved_on: date | None = None) -> str:
    """The policy's caption; Security has no commands to unlock, only notices to keep safe."""
    then = (
        "The notices you receive here are confidential: please confirm you will follow it."
        if role is Role.SECURITY
        else "Staff commands work once you have confirmed you will follow it."
    )
    approved = (
        f", approved by the Board of Trustees on {format_date(approved_on)}"
        if approved_on is not None
        else ""
    )
    return (
        "<b>Before you start</b>\n"
        f"Please read the USS Confidentiality Statement (version {escape(version)}{approved}, "
        "attached). Every breach, other than the exceptions it lists, is treated as "
        f"unacceptable behaviour. {then}"
    )


BTN_ACK_POLICY = "I have read it and will follow it"


def policy_acknowledged(version: str) -> str:
    return f"Thank you. Your acknowledgement of version {escape(version)} is recorded."


def staff_welcome(name: str, role: Role) -> str:
    return f"Hello {escape(name)}. You are registered as <b>{ROLE_LABELS[role]}</b>."


INVITE_USAGE = "Usage: /invite adviser, /invite coordinator or /invite security"


INVITEE: Mapping[Role, str] = {
    Role.ADVISER: "a new adviser",
    Role.COORDINATOR: "a new coordinator",
    Role.SECURITY: "a new member of University Security",
}


def invite_created(link: str, role: Role, expires: datetime, zone: ZoneInfo) -> str:
    return (
        f"Invite for <b>{INVITEE[role]}</b>. Send this link to them privately: it "
        f"works once, until {format_moment(expires, zone)}.\n\n{escape(link)}"
    )


INVITE_PROBLEMS: Mapping[str, str] = {
    "unknown": "That invite link isn't valid. Please ask the coordinator for a new one.",
    "used": "That invite link has already been used. Please ask the coordinator for a new one.",
    "expired": "That invite link has expired. Please ask the coordinator for a new one.",
}
ALREADY_STAFF = "You are already registered as USS staff."


def staff_line(name: str, role: Role, active: bool, acknowledged: bool) -> str:
    state = "" if active else " (deactivated)"
    policy = "" if acknowledged or not active else " (policy not yet acknowledged)"
    return f"• {escape(name)}: {ROLE_LABELS[role]}{state}{policy}"


def staff_list(lines: list[str]) -> str:
    return "<b>Staff</b>\n" + "\n".join(lines) if lines else "No staff yet."


def btn_deactivate(name: str) -> str:
    return f"Deactivate {name}"


def deactivate_confirm(name: str) -> str:
    return f"Deactivate <b>{escape(name)}</b>? They will lose access at once."


BTN_DEACTIVATE = "Yes, deactivate"
BTN_CANCEL = "Cancel"


def deactivated(name: str) -> str:
    return f"{escape(name)} has been deactivated."


LAST_COORDINATOR = (
    "You can't deactivate the last active coordinator: invite another coordinator first."
)
UNKNOWN_STAFF = "I can't find that staff member."
STAFF_TEXT = "Send /help to see your commands."
CLOSED = "Closed."


# ---------------------------------------------------------------- the second factor
SECOND_FACTOR_INTRO = (
    "<b>One more step: your second factor</b>\n"
    "Students' information opens only with a code from an authenticator app on your phone "
    "(Google Authenticator, Microsoft Authenticator, 1Password, or any app for one-time "
    "codes), so your Telegram account alone is never enough."
)


def second_factor_qr_caption(service: str) -> str:
    return (
        f"Scan this QR code with your authenticator app: it adds a {escape(service)} account. "
        "This image is deleted as soon as you confirm."
    )


def second_factor_secret(secret: str) -> str:
    return (
        "Can't scan it? Add an account by hand (time-based) with this key:\n"
        f"<code>{escape(secret)}</code>\n"
        "This message is deleted as soon as you confirm. Never share the key or your codes."
    )


SECOND_FACTOR_FIRST_CODE = (
    "Then send me the 6-digit code the app shows (just the digits) to confirm it works."
)


def second_factor_confirmed(until: datetime, zone: ZoneInfo) -> str:
    return (
        "Your second factor is set up, and the QR code and key are deleted from this chat. "
        f"Your session is unlocked until {format_moment(until, zone)}. After that, or after "
        "/lock, send /unlock with a new code from the app. Send /help to see your commands."
    )


def session_unlocked(until: datetime, zone: ZoneInfo) -> str:
    return (
        f"Unlocked until {format_moment(until, zone)}. Your message with the code is deleted. "
        "/lock ends your session sooner."
    )


def wrong_code(used_before: bool, attempts_left: int | None) -> str:
    """A code that did not unlock, and (once set up) how many tries are left."""
    said = (
        "That code has been used already: each code works once. Please wait for the next "
        "one (they change every 30 seconds)."
        if used_before
        else "That code isn't right. Please send the code your app shows now for the account "
        "this chat set up."
    )
    if attempts_left is None:
        return said
    if attempts_left == 1:
        return f"{said} One more wrong code locks your account until the coordinator resets it."
    return f"{said} {attempts_left} more wrong codes lock your account."


SECOND_FACTOR_WAITING = (
    "Your second factor is waiting for its first code: send the 6 digits your authenticator "
    "app shows (the QR code and key are above). /unlock sends them again."
)
SESSION_LOCKED = (
    "Your session is locked. To read students' information, send /unlock followed by the "
    "6-digit code from your authenticator app, e.g. /unlock 123456 (I delete that message "
    "at once)."
)
SECOND_FACTOR_LOCKED_OUT = (
    "Your account is locked after 5 wrong codes in a row. Please ask the coordinator to reset "
    "your second factor; you will then set it up again."
)
SECOND_FACTOR_NEEDED = (
    "Reading students' information needs your second factor, which is not set up yet. "
    "Send /unlock to set it up."
)
UNLOCK_USAGE = (
    "Send /unlock followed by the 6-digit code from your authenticator app, e.g. /unlock 123456."
)
SESSION_ENDED = "Locked. Students' information stays closed until you /unlock again."
SESSION_ALREADY_LOCKED = "Your session is already locked. /unlock opens it."


def second_factor_locked_out_alert(name: str) -> str:
    """For the coordinators: someone's account locked itself after wrong codes."""
    return (
        f"{escape(name)} entered 5 wrong codes in a row, so their account is locked. If it "
        "was them, reset their second factor in /staff (they then set it up again). If not, "
        "their Telegram account may be in someone else's hands: consider deactivating it."
    )


FACTOR_NOTES: Mapping[FactorState, str] = {
    FactorState.NOT_SET_UP: " (second factor not set up)",
    FactorState.AWAITING_CODE: " (setting up the second factor)",
    FactorState.LOCKED_OUT: " (locked: too many wrong codes)",
}


def btn_reset_second_factor(name: str) -> str:
    return f"Reset second factor: {name}"


def reset_second_factor_confirm(name: str) -> str:
    return (
        f"Reset the second factor of <b>{escape(name)}</b>? Their session ends, any lock is "
        "lifted, and their authenticator app's code stops working: at their next staff "
        "command they set up a new one."
    )


BTN_RESET_SECOND_FACTOR = "Yes, reset"


def second_factor_reset(name: str) -> str:
    return (
        f"{escape(name)}'s second factor has been reset: they set it up again at their next "
        "staff command."
    )


# ---------------------------------------------------------------- booking
MODE_LABELS_ANY = "Any"
BOOK_CHOOSE_MODE = "<b>Book an appointment</b>\nHow would you like to meet your adviser?"
BOOK_CHOOSE_DAY = "Which day suits you? Only days with free times are shown."
BOOK_NO_SLOTS = (
    "Sorry, there are no free times in the next few weeks for that kind of appointment. "
    "Please try another kind, or try again in a day or two: advisers add times regularly."
)
BOOK_SLOT_TAKEN = "Sorry, that time has just been taken. Here are the times still free:"
BOOK_NEEDS_SHEET = "Please fill in the information sheet first: send /start."
BTN_BOOK = "Book an appointment"
BTN_CONFIRM_BOOKING = "Yes, book it"
BTN_CONFIRM_MOVE = "Yes, move it there"
BTN_CALENDAR = "Add to my calendar (.ics)"
BTN_CALENDAR_CANCELLED = "Update my calendar (.ics)"
CALENDAR_CAPTION = "Open this file to add the appointment to your calendar, or update it there."
BTN_BACK = "Back"


def book_choose_time(day: date) -> str:
    return f"Free times on <b>{escape(format_date(day))}</b>:"


def book_confirm(when: datetime, mode: str, zone: ZoneInfo) -> str:
    return (
        f"Book <b>{escape(format_moment(when, zone))}</b>, "
        f"{escape(MODE_LABELS.get(mode, mode).lower())}?"
    )


def too_many_appointments(limit: int) -> str:
    return (
        f"You already have {limit} upcoming appointment{'s' if limit != 1 else ''}, which is "
        "as many as we can book at once. /appointments shows it, and you can move or cancel "
        "it there."
    )


def booked(when: datetime, ends: datetime, mode: str, zone: ZoneInfo, office: str) -> str:
    where = {
        "in_person": f"Please come to: {escape(office)}.",
        "phone": "Your adviser will phone you on the number you gave us.",
        "video": "Your adviser will send you a video-call link by email before the appointment.",
    }[mode]
    end = ends.astimezone(zone).strftime("%H:%M")
    return (
        f"<b>Booked.</b> {escape(format_moment(when, zone))} to {end}, "
        f"{escape(MODE_LABELS.get(mode, mode).lower())}.\n{where}\n\n"
        "/appointments shows your appointments and lets you move or cancel them."
    )


SECURITY_TOLD_AT_BOOKING = (
    "Because you told us you have been removed from your course, University Security will be "
    "told the date and time of this appointment, and nothing else."
)


def intake_summary(
    *,
    when: datetime,
    ends: datetime,
    mode: str,
    zone: ZoneInfo,
    answers: Mapping[SheetField, str | None],
    consents: Mapping[ConsentScope, bool | None],
    deadline_soon: bool,
    case: str,
) -> str:
    """What an adviser receives on a booking. Deadlines come first when close."""
    lines = [
        f"<b>CONFIDENTIAL: USS intake summary</b> (case {escape(case)})",
        f"Appointment: <b>{escape(format_moment(when, zone))}</b> to "
        f"{ends.astimezone(zone):%H:%M}, {escape(MODE_LABELS.get(mode, mode).lower())}",
    ]
    deadline = answers.get(SheetField.DEADLINE)
    if deadline and deadline_soon:
        lines.append(f"⚠ <b>Deadline soon: {answer_text(SheetField.DEADLINE, deadline)}</b>")
    lines.append("")
    lines.extend(
        f"<b>{escape(FIELD_LABELS[f])}</b>: {answer_text(f, answers.get(f))}"
        for f in SheetField
        if f in answers
    )
    lines.append("")
    lines.append("<b>Consent</b>")
    lines.extend(
        f"• {escape(CONSENT_SHORT[s])}: <b>{consent_state(g)}</b>" for s, g in consents.items()
    )
    return "\n".join(lines)


def summary_needs_reassigning(when: datetime, zone: ZoneInfo) -> str:
    return (
        f"A booking for {escape(format_moment(when, zone))} is with an adviser who is not "
        "active: please reassign it (/reassign)."
    )


# ---------------------------------------------------------------- my appointments
NO_APPOINTMENTS = "You have no upcoming appointments. /book to make one."


def appointment_line(when: datetime, ends: datetime, mode: str, zone: ZoneInfo) -> str:
    return (
        f"<b>{escape(format_moment(when, zone))}</b> to {ends.astimezone(zone):%H:%M}, "
        f"{escape(MODE_LABELS.get(mode, mode).lower())}"
    )


def appointments_list(lines: list[str]) -> str:
    return "<b>Your upcoming appointments</b>\n" + "\n".join(f"• {line}" for line in lines)


def btn_cancel_appointment(when: datetime, zone: ZoneInfo) -> str:
    return f"Cancel {when.astimezone(zone):%a %d %b %H:%M}"


def btn_move_appointment(when: datetime, zone: ZoneInfo) -> str:
    return f"Move {when.astimezone(zone):%a %d %b %H:%M}"


MOVE_CHOOSE_MODE = "<b>Move your appointment</b>\nHow would you like to meet your adviser?"


def moved(old: datetime, line: str, zone: ZoneInfo) -> str:
    return (
        f"<b>Moved.</b> Your appointment is now {line} "
        f"(it was {escape(format_moment(old, zone))}). /appointments shows it."
    )


def adviser_told_moved(old: datetime, new: datetime, zone: ZoneInfo, student: str) -> str:
    return (
        "<b>CONFIDENTIAL</b>\n"
        f"The appointment with {escape(student)} on {escape(format_moment(old, zone))} has moved "
        f"to <b>{escape(format_moment(new, zone))}</b>."
    )


def cancel_appointment_confirm(line: str) -> str:
    return f"Cancel your appointment on {line}? The time will be offered to other students."


BTN_CANCEL_APPOINTMENT = "Yes, cancel it"
BTN_KEEP_APPOINTMENT = "No, keep it"
APPOINTMENT_KEPT = "Your appointment is kept."


def appointment_cancelled(line: str) -> str:
    return f"Cancelled: {line}. /book if you would like another time."


def adviser_told_cancelled(when: datetime, zone: ZoneInfo, student: str) -> str:
    return (
        "<b>CONFIDENTIAL</b>\n"
        f"The appointment on {escape(format_moment(when, zone))} with {escape(student)} "
        "was cancelled by the student."
    )


# ---------------------------------------------------------------- availability (staff)
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
AVAILABILITY_HELP = (
    "<b>Change your availability</b>\n"
    "/availability add Tue 10:00-12:30 in person: a weekly time (in person, phone or video)\n"
    "/availability off 8/12/2026: a day off (or 8/12 14:00-16:00 for part of a day)\n"
    "/availability extra 9/12/2026 14:00-16:00 phone: a one-off extra time\n"
    "Bookings already made are kept when you remove time: I'll offer to cancel them for you."
)
RANGE_PROBLEMS: Mapping[str, str] = {
    "format": "I couldn't read that. Try: Tue 10:00-12:30 in person",
    "weekday": "I didn't recognise the day. Use Mon, Tue, Wed, Thu, Fri, Sat or Sun.",
    "time": "One of the times isn't a real time. Use the 24-hour clock, like 09:30 or 14:00.",
    "order": "The end time must be after the start time.",
    "too_short": "That is shorter than one appointment slot.",
    "mode": "The kind of appointment must be in person, phone or video.",
    "overlap": "That overlaps a weekly time you already have on that day.",
    "date": "I couldn't read that date, or it has passed. Try 8/12/2026.",
}


def window_line(weekday: int, start: time, end: time, mode: str) -> str:
    return (
        f"{WEEKDAY_NAMES[weekday]} {start:%H:%M}-{end:%H:%M}, {escape(MODE_LABELS[mode].lower())}"
    )


def change_line(
    day: date, kind: str, start: time | None, end: time | None, mode: str | None
) -> str:
    when = escape(format_date(day))
    span = f" {start:%H:%M}-{end:%H:%M}" if start and end else ""
    if kind == "add":
        return f"Extra: {when}{span}, {escape(MODE_LABELS.get(mode or '', '').lower())}"
    return f"Off: {when}{span or ' (all day)'}"


def schedule(windows: list[str], changes: list[str], owner_name: str | None = None) -> str:
    weekly = "\n".join(f"• {w}" for w in windows) or "• none yet"
    one_off = "\n".join(f"• {c}" for c in changes) or "• none"
    whose = "Your" if owner_name is None else f"{escape(owner_name)}'s"
    managing = (
        ""
        if owner_name is None
        else f"You are working on <b>{escape(owner_name)}</b>'s availability.\n\n"
    )
    return (
        f"{managing}<b>{whose} weekly times</b>\n{weekly}\n\n"
        f"<b>Coming changes</b>\n{one_off}\n\n{AVAILABILITY_HELP}"
    )


BTN_MANAGE_OTHER = "Work on another adviser's times"
CHOOSE_ADVISER = (
    "Whose availability do you want to work on? Until you choose again, /availability shows "
    "and changes their times, and bookings they already have are kept."
)


def btn_adviser(name: str, *, is_me: bool, current: bool) -> str:
    label = "My own times" if is_me else name
    return f"✓ {label}" if current else label


def btn_remove_window(weekday: int, start: time) -> str:
    return f"Remove {WEEKDAY_NAMES[weekday][:3]} {start:%H:%M}"


def availability_added(line: str) -> str:
    return f"Added: {line}."


AVAILABILITY_REMOVED = "Removed. Bookings already made in that time are kept."


def reminder(when: datetime, mode: str, zone: ZoneInfo, office: str) -> str:
    where = f" at {escape(office)}" if mode == "in_person" else ""
    return (
        f"Reminder: your USS appointment is on <b>{escape(format_moment(when, zone))}</b>, "
        f"{escape(MODE_LABELS.get(mode, mode).lower())}{where}. "
        "/appointments if you need to cancel."
    )


# ---------------------------------------------------------------- the adviser's day
SERVICE_CANCEL_REASONS: Mapping[str, str] = {
    "unwell": "your adviser is unwell",
    "closed": "the office has had to close",
    "emergency": "of an emergency",
    "unavailable": "your adviser is no longer available then",
    "other": "of something we could not avoid",
}
SERVICE_CANCEL_BUTTONS: Mapping[str, str] = {
    "unwell": "Adviser unwell",
    "closed": "Office closed",
    "emergency": "Emergency",
    "other": "Other reason",
}
STATUS_LABELS: Mapping[str, str] = {
    "booked": "",
    "attended": " ✓ attended",
    "no_show": " ✗ no-show",
}


def cancelled_by_service(when: datetime, zone: ZoneInfo, reason: object) -> str:
    because = SERVICE_CANCEL_REASONS.get(str(reason), SERVICE_CANCEL_REASONS["other"])
    return (
        f"We're very sorry: your USS appointment on <b>{escape(format_moment(when, zone))}</b> "
        f"has had to be cancelled because {because}. Nothing you have told us is lost. "
        "Please choose a new time with /book; if it is urgent, tell us when you book."
    )


def agenda(title: str, lines: list[str]) -> str:
    body = "\n".join(lines) if lines else "No appointments."
    return f"<b>CONFIDENTIAL: {escape(title)}</b>\n{body}"


def agenda_line(
    starts: datetime,
    ends: datetime,
    zone: ZoneInfo,
    name: str,
    mode: str,
    category: str,
    status: str,
    case: str,
) -> str:
    local = starts.astimezone(zone)
    return (
        f"• {local:%a %d %b} <b>{local:%H:%M}</b>-{ends.astimezone(zone):%H:%M} {escape(name)}, "
        f"{escape(MODE_LABELS.get(mode, mode).lower())}, {escape(category)}, case {escape(case)}"
        f"{STATUS_LABELS.get(status, '')}"
    )


AGENDA_TODAY = "Today"
AGENDA_WEEK = "The next seven days"
MARKED = "Noted."
SERVICE_CANCELLED = "Cancelled. The student has been told, kindly, and asked to book again."


def btn_attended(starts: datetime, zone: ZoneInfo) -> str:
    return f"✓ {starts.astimezone(zone):%H:%M} attended"


def btn_no_show(starts: datetime, zone: ZoneInfo) -> str:
    return f"✗ {starts.astimezone(zone):%H:%M} no-show"


def btn_service_cancel(starts: datetime, zone: ZoneInfo) -> str:
    return f"Cancel {starts.astimezone(zone):%a %H:%M}"


SERVICE_CANCEL_ASK = "Why does it have to be cancelled? The student will be told, kindly."


def bookings_need_reassigning(adviser: str, count: int) -> str:
    plural = "s" if count != 1 else ""
    return (
        f"{escape(adviser)} has been deactivated and has {count} upcoming booking{plural}: "
        "please reassign them (/reassign) or let the students know."
    )


# ---------------------------------------------------------------- reassigning (coordinator)
REASSIGN_NONE = (
    "No upcoming booking needs a new adviser.\n"
    "To hand over a particular student's bookings: <code>/reassign CASE</code> (the case "
    "reference is on the intake summary and in /today and /week)."
)
REASSIGN_CASE_NONE = "That student has no upcoming bookings."
REASSIGN_NOBODY = (
    "No other adviser is free at that time and able to see students (active, with the "
    "current policy acknowledged). An adviser can add the time with /availability."
)
BTN_REASSIGN_CONFIRM = "Yes, reassign it"
REASSIGN_CLASH = (
    "That adviser can no longer take it (booked at that time, or no longer able to see "
    "students). /reassign to choose again."
)


def reassign_list(lines: list[str], case: str | None = None) -> str:
    title = (
        f"Upcoming bookings for case {escape(case)}" if case else "Bookings that need a new adviser"
    )
    return f"<b>{title}</b>\n" + "\n".join(f"• {line}" for line in lines)


def handover_line(
    when: datetime, ends: datetime, mode: str, zone: ZoneInfo, case: str, adviser: str, needs: bool
) -> str:
    held = f"with {escape(adviser)}" + (" (cannot see students now)" if needs else "")
    return f"{appointment_line(when, ends, mode, zone)} · case {escape(case)} · {held}"


def btn_reassign(when: datetime, zone: ZoneInfo) -> str:
    return f"Reassign {when.astimezone(zone):%a %d %b %H:%M}"


def reassign_choose(line: str) -> str:
    return (
        f"Who should see the student on {line}?\n"
        "✓ marks advisers whose published times cover it; the others are free then, but "
        "outside their published times."
    )


def btn_candidate(name: str, in_their_times: bool) -> str:
    return f"✓ {name}" if in_their_times else f"{name} (outside their times)"


def reassign_confirm(when: datetime, zone: ZoneInfo, adviser: str) -> str:
    return (
        f"Give the appointment on <b>{escape(format_moment(when, zone))}</b> to "
        f"<b>{escape(adviser)}</b>? They will get the intake summary, and the student will be "
        "told that the time is unchanged."
    )


def reassigned(when: datetime, zone: ZoneInfo, adviser: str) -> str:
    return (
        f"Reassigned: {escape(format_moment(when, zone))} is now with {escape(adviser)}. "
        "They have the intake summary; the student has been told."
    )


def adviser_told_handed_over(when: datetime, zone: ZoneInfo, case: str) -> str:
    return (
        "<b>CONFIDENTIAL</b>\n"
        f"The appointment on {escape(format_moment(when, zone))} (case {escape(case)}) has been "
        "passed to another adviser by the coordinator: you no longer need to see this student "
        "then."
    )


def student_told_handed_over(when: datetime, zone: ZoneInfo) -> str:
    return (
        f"Your appointment on <b>{escape(format_moment(when, zone))}</b> will now be with "
        "another adviser. The time and how you meet are unchanged. /appointments shows it."
    )


def time_off_has_bookings(count: int) -> str:
    plural = "s" if count != 1 else ""
    return (
        f"{count} booking{plural} fall{'s' if count == 1 else ''} in that time off. They stand "
        "until you cancel them: the students will be told kindly and asked to choose a new time."
    )


def btn_cancel_bookings_in_time_off(count: int) -> str:
    return f"Cancel {count} booking{'s' if count != 1 else ''} and tell the students"


def bookings_cancelled(count: int) -> str:
    return f"Cancelled {count} booking{'s' if count != 1 else ''}; the students are being told."


# ---------------------------------------------------------------- Security (times only)
# These templates receive a SecurityNotice and nothing else: a name, a student number and
# times. Every notice states the whole current position, so a rare duplicate misleads nobody.


def _span(times: AppointmentTimes) -> str:
    return (
        f"<b>{escape(format_date(times.day))}</b> from <b>{times.start:%H:%M}</b> "
        f"to <b>{times.end:%H:%M}</b>"
    )


def _who(notice: SecurityNotice) -> str:
    return f"{escape(notice.name)} (student number {escape(notice.student_number)})"


def security_notice(notice: SecurityNotice) -> str:
    change = notice.change
    who, span = _who(notice), _span(notice.times)
    if change is NoticeChange.EXPECTED:
        return (
            "<b>USS appointment: on campus</b>\n"
            f"{who} has a pre-arranged appointment with the Union Support Service on {span}, "
            "and will be on campus for it."
        )
    if change is NoticeChange.MOVED and notice.previous is not None:
        return (
            "<b>USS appointment moved</b>\n"
            f"{who} now has their pre-arranged appointment with the Union Support Service on "
            f"{span}. The previous time, {_span(notice.previous)}, no longer stands."
        )
    if change is NoticeChange.CANCELLED:
        return (
            "<b>USS appointment cancelled</b>\n"
            f"The appointment of {who} with the Union Support Service on {span} is cancelled: "
            "they are not expected on campus for it."
        )
    return (
        "<b>USS appointment time withdrawn</b>\n"
        f"Please disregard the time given for {who}: {span}. The Union Support Service no "
        "longer has an on-campus appointment to tell you about at that time."
    )


def security_digest(day: date, notices: Sequence[SecurityNotice]) -> str:
    heading = f"<b>USS appointments on campus tomorrow, {escape(format_date(day))}</b>"
    if not notices:
        return f"{heading}\nNone to tell you about."
    lines = [
        f"• {n.times.start:%H:%M}-{n.times.end:%H:%M} {_who(n)}"
        for n in sorted(notices, key=lambda n: (n.times.start, n.name))
    ]
    return heading + "\n" + "\n".join(lines)


def _relative_day(day: date, today: date) -> str:
    if day == today:
        return "today"
    if day == today + timedelta(days=1):
        return "tomorrow"
    return f"on {format_date(day)}"


def security_undelivered(starts: datetime, now: datetime, zone: ZoneInfo) -> str:
    local = starts.astimezone(zone)
    when = _relative_day(local.date(), now.astimezone(zone).date())
    return (
        f"A Security notice for an appointment at {local:%H:%M} {escape(when)} is undelivered. "
        "It is still being retried. Please check that Security's chat is reachable; "
        "<code>python -m bot notices</code> lists what waits."
    )


def security_digest_undelivered(day: date) -> str:
    return (
        f"The Security digest for {escape(format_date(day))} is undelivered. It is still being "
        "retried; <code>python -m bot notices</code> lists what waits."
    )


def message_refused(reference: str, kind: str, reason: str) -> str:
    """To coordinators: Telegram refused a message itself, so it is not retried."""
    return (
        f"Telegram refused a queued message (ref {escape(reference)}, {escape(kind)}): "
        f"<i>{escape(reason)}</i>. The same message would be refused again, so it is not being "
        "retried and its recipient has not received it. Please tell them another way, and "
        "report this to whoever maintains the bot."
    )


SECURITY_NOBODY_TO_TELL = (
    "A Security notice is due, but nobody is set up to receive Security notices. Invite "
    "Security with /invite security, or set USS_SECURITY_CHAT_IDS. The daily digest lists each "
    "day's appointments once someone receives it."
)


def removed_flag_told(removed: bool) -> str:
    """What the student is told when staff record or clear removal from their course."""
    if removed:
        return (
            "Your adviser has recorded that you have been removed from your course. Because of "
            "this, University Security will be told the date and time of your in-person "
            "appointments with us, and nothing else. If this is wrong, please tell your adviser."
        )
    return (
        "Your adviser has recorded that you have not been removed from your course. University "
        "Security will not be told about your appointments, and any times they were given have "
        "been withdrawn."
    )


REMOVED_USAGE = (
    "Usage: /removed CASE on, or /removed CASE off. CASE is the 8-character case reference "
    "shown on the intake summary and in /today."
)
UNKNOWN_CASE = "I couldn't find that case reference. Check it on the intake summary."


def removed_recorded(case: str, removed: bool, changed: bool, notices: int) -> str:
    state = "removed from their course" if removed else "not removed from their course"
    lines = [
        f"Recorded: case {escape(case)} is {state}."
        if changed
        else f"Case {escape(case)} was already recorded as {state}."
    ]
    if notices:
        lines.append(f"Security is being told ({notices} message{'s' if notices != 1 else ''}).")
    if changed:
        lines.append("The student is being told.")
    return " ".join(lines)


# ---------------------------------------------------------------- the audit log's head


def audit_head(day: date, head: str) -> str:
    """The daily head for coordinators to keep: sent copyable, it holds nothing personal."""
    return (
        f"Audit log head, {format_date(day)}: <code>{escape(head)}</code>\n\n"
        "Please keep this message, or forward it to the Union's records: it is how anyone "
        "can later check that nobody removed or rewrote audit entries. On the server, "
        f"<code>python -m bot audit verify --head {escape(head)}</code> checks that the log "
        "still holds every entry up to this one, unchanged."
    )
