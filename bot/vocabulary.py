"""The service's vocabulary: roles, sheet steps, choices, consent scopes, audit actions.

A leaf module (no imports from the project) so texts and services can both name them.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    STUDENT = "student"
    ADVISER = "adviser"
    COORDINATOR = "coordinator"
    SECURITY = "security"


STAFF_ROLES = (Role.ADVISER, Role.COORDINATOR, Role.SECURITY)
# Staff who see students: they publish times, take bookings and read case details.
ADVISING_ROLES = (Role.ADVISER, Role.COORDINATOR)


class SheetStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"


class SheetField(StrEnum):
    """The questions of the information sheet, in the order they are asked."""

    FULL_NAME = "full_name"
    STUDENT_NUMBER = "student_number"
    EMAIL = "email"
    PHONE = "phone"
    COURSE = "course"
    YEAR = "year"
    CATEGORY = "category"
    DESCRIPTION = "description"
    DEADLINE = "deadline"
    REMOVED = "removed"
    ACCESSIBILITY = "accessibility"
    MODE = "mode"


class SheetStep(StrEnum):
    """Where a student is in the sheet: a question, the review, consent, or done."""

    FULL_NAME = "full_name"
    STUDENT_NUMBER = "student_number"
    EMAIL = "email"
    PHONE = "phone"
    COURSE = "course"
    YEAR = "year"
    CATEGORY = "category"
    DESCRIPTION = "description"
    DEADLINE = "deadline"
    REMOVED = "removed"
    ACCESSIBILITY = "accessibility"
    MODE = "mode"
    REVIEW = "review"
    CONSENT = "consent"
    SUBMITTED = "submitted"

    @property
    def field(self) -> SheetField | None:
        try:
            return SheetField(self.value)
        except ValueError:
            return None

    @classmethod
    def of(cls, field: SheetField) -> SheetStep:
        return cls(field.value)


class YearOfStudy(StrEnum):
    FOUNDATION = "foundation"
    FIRST = "1"
    SECOND = "2"
    THIRD = "3"
    FOURTH = "4"
    FIFTH_OR_LATER = "5+"
    POSTGRADUATE_TAUGHT = "pgt"
    POSTGRADUATE_RESEARCH = "pgr"


class AppointmentMode(StrEnum):
    IN_PERSON = "in_person"
    PHONE = "phone"
    VIDEO = "video"


class AppointmentStatus(StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"
    CANCELLED_BY_SERVICE = "cancelled_by_service"
    ATTENDED = "attended"
    NO_SHOW = "no_show"


class ServiceCancelReason(StrEnum):
    """Why the service had to cancel; each has kind words for the student in texts."""

    ADVISER_UNWELL = "unwell"
    OFFICE_CLOSED = "closed"
    EMERGENCY = "emergency"
    UNAVAILABLE = "unavailable"
    OTHER = "other"


class YesNo(StrEnum):
    YES = "yes"
    NO = "no"


class ConsentDecision(StrEnum):
    """A consent ledger entry's choice, as sealed in the ledger."""

    GRANTED = "granted"
    REFUSED = "refused"


class ConsentScope(StrEnum):
    """What an adviser may do on a student's behalf; asked one by one, never pre-ticked."""

    SCHOOL = "school"
    UNIVERSITY = "university"
    EXTERNAL = "external"
    EMAIL = "email"
    REMINDERS = "reminders"


class ConsentChannel(StrEnum):
    INFORMATION_SHEET = "information_sheet"
    BOT = "bot"
    # The student's answer in the chat to a request an adviser sent.
    BOT_REQUESTED = "bot_requested"
    EMAIL = "email"
    VERBAL = "verbal"


class CaseStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class CasePart(StrEnum):
    """The parts of a case a reader can open; each read is audited with its part."""

    SUMMARY = "summary"
    SHEET = "sheet"
    CONSENT = "consent"
    APPOINTMENTS = "appointments"
    NOTES = "notes"
    DOCUMENTS = "documents"
    DISCLOSURES = "disclosures"


class NoteKind(StrEnum):
    APPOINTMENT = "appointment"
    PHONE_CALL = "phone"
    EMAIL = "email"
    MEETING = "meeting"
    ACTION = "action"
    OTHER = "other"


class BreakGlassReason(StrEnum):
    """Why an adviser opens a case assigned to someone else."""

    COVERING = "covering"
    STUDENT_CONTACTED_ME = "contacted"
    URGENT_DEADLINE = "urgent"
    SUPERVISION = "supervision"
    OTHER = "other"


class DraftPurpose(StrEnum):
    """What a staff member is in the middle of typing (see bot/services/staff/staff_drafts.py)."""

    NOTE = "note"
    CORRECTION = "correction"
    BREAK_GLASS = "break_glass"
    CLOSE = "close"
    REOPEN = "reopen"
    CONSENT = "consent"
    CONSENT_REQUEST = "consent_request"
    DISCLOSURE = "disclosure"
    ATTACH = "attach"
    POLICY_PUBLISH = "policy_publish"


class FactorState(StrEnum):
    """Where a staff member's second factor stands (bot/services/staff/second_factor.py)."""

    NOT_SET_UP = "not_set_up"
    AWAITING_CODE = "awaiting_code"  # set-up sent, its first code not yet received
    LOCKED_OUT = "locked_out"  # too many wrong codes: a coordinator must reset it
    SESSION_LOCKED = "session_locked"
    UNLOCKED = "unlocked"


class AuditAction(StrEnum):
    SHEET_STARTED = "sheet.started"
    SHEET_SUBMITTED = "sheet.submitted"
    SHEET_DISCARDED = "sheet.discarded"
    SHEET_READ = "sheet.read"
    CONSENT_RECORDED = "consent.recorded"
    STAFF_ADDED = "staff.added"
    STAFF_DEACTIVATED = "staff.deactivated"
    STAFF_INVITED = "staff.invited"
    INVITE_REDEEMED = "staff.invite_redeemed"
    POLICY_ACKNOWLEDGED = "staff.policy_acknowledged"
    POLICY_PUBLISHED = "policy.published"
    POLICY_SIGNATURES_READ = "policy.signatures_read"
    ACCESS_REFUSED = "access.refused"
    KEYS_ROTATED = "keys.rotated"
    KEYS_SPLIT = "keys.split"
    AVAILABILITY_CHANGED = "availability.changed"
    AVAILABILITY_MANAGED = "availability.managed"
    APPOINTMENT_BOOKED = "appointment.booked"
    APPOINTMENT_CANCELLED = "appointment.cancelled"
    APPOINTMENT_MOVED = "appointment.moved"
    APPOINTMENT_MARKED = "appointment.marked"
    APPOINTMENT_REASSIGNED = "appointment.reassigned"
    AGENDA_READ = "agenda.read"
    DISCLOSURE_MADE = "disclosure.made"
    # Whether Security had to be told of a booking change, when it did not: written wherever a
    # disclosure to Security could have been, so the number of entries never tells.
    SECURITY_ASSESSED = "security.assessed"
    REMOVED_FLAG_CHANGED = "case.removed_flag_changed"
    CASE_OPENED = "case.opened"
    CASE_CLOSED = "case.closed"
    CASE_REOPENED = "case.reopened"
    CASE_ASSIGNED = "case.assigned"
    CASE_READ = "case.read"
    CASE_BREAK_GLASS = "case.break_glass"
    CASE_SEARCHED = "case.searched"
    NOTE_ADDED = "case.note_added"
    DOCUMENT_ADDED = "case.document_added"
    DOCUMENT_READ = "case.document_read"
    CONSENT_REQUESTED = "consent.requested"
    DISCLOSURE_REFUSED = "disclosure.refused"
    RETENTION_PURGE = "retention.purge"
    REQUEST_RECEIVED = "request.received"
    REQUESTS_LISTED = "request.listed"
    REQUEST_EXTENDED = "request.extended"
    REQUEST_PAUSED = "request.paused"
    REQUEST_RESUMED = "request.resumed"
    REQUEST_ANSWERED = "request.answered"
    # -- staff protection: the second factor and the session it unlocks
    SECOND_FACTOR_SETUP = "staff.second_factor_setup"
    SECOND_FACTOR_CONFIRMED = "staff.second_factor_confirmed"
    SECOND_FACTOR_FAILED = "staff.second_factor_failed"
    SECOND_FACTOR_LOCKED_OUT = "staff.second_factor_locked_out"
    SECOND_FACTOR_RESET = "staff.second_factor_reset"
    SESSION_UNLOCKED = "staff.session_unlocked"
    SESSION_LOCKED = "staff.session_locked"


class NoticeChange(StrEnum):
    """What a Security notice says happened to an appointment's times."""

    EXPECTED = "expected"
    MOVED = "moved"
    CANCELLED = "cancelled"
    WITHDRAWN = "withdrawn"


class DisclosureBasis(StrEnum):
    """Why something about a student left the service: consent, or a policy exception."""

    CONSENT = "consent"
    # The policy's exceptions: concern for the student's health or wellbeing (to the Student
    # Health Centre or Learning Success only), a duty in law, and Security's times.
    WELFARE = "welfare"
    LEGAL_OBLIGATION = "legal obligation"
    SECURITY_TIMES = "security: appointment times"


class RecipientKind(StrEnum):
    """Whom an adviser contacts on a student's behalf (or, for Security's times, the booking
    service: never an adviser's choice)."""

    SCHOOL = "school"
    UNIVERSITY = "university"
    EXTERNAL = "external"
    HEALTH_CENTRE = "health_centre"
    LEARNING_SUCCESS = "learning_success"
    AUTHORITY = "authority"
    SECURITY = "security"


class LegalDuty(StrEnum):
    """The statute or duty a legal-obligation disclosure names."""

    CHILDREN_ACT = "children_act_1989"
    TERRORISM_ACT = "terrorism_act_2000"
    COURT_ORDER = "court_order"
    OTHER = "other"


class GateRefusal(StrEnum):
    """Why the consent gate refused a disclosure; texts says each one exactly."""

    CONSENT_NEVER_ASKED = "never_asked"
    CONSENT_REFUSED = "refused"
    CONSENT_WITHDRAWN = "withdrawn"
    WELFARE_WRONG_RECIPIENT = "welfare_recipient"
    NO_DUTY_NAMED = "no_duty"
    DUTY_TEXT_MISSING = "duty_text"
    NOT_A_BASIS = "not_a_basis"
    # Security's times: the student is not recorded as removed from their course, or the
    # appointment is not a booked in-person one that has yet to end.
    SECURITY_NOT_REMOVED = "security_not_removed"
    SECURITY_NOT_IN_PERSON = "security_not_in_person"
    SECURITY_NOT_BOOKED = "security_not_booked"
    SECURITY_ENDED = "security_ended"


class DetailProblem(StrEnum):
    """What was wrong with a detail staff typed for a consent or a disclosure."""

    EMPTY = "empty"
    TOO_LONG = "too_long"
    DATE_FORMAT = "date_format"
    DATE_FUTURE = "date_future"
    USE_BUTTONS = "use_buttons"


class RejectReason(StrEnum):
    """Why an answer was not accepted; texts turns each into a friendly sentence."""

    EMPTY = "empty"
    TOO_LONG = "too_long"
    TOO_SHORT = "too_short"
    NAME_FORMAT = "name_format"
    STUDENT_NUMBER_FORMAT = "student_number_format"
    EMAIL_FORMAT = "email_format"
    EMAIL_DOMAIN = "email_domain"
    PHONE_FORMAT = "phone_format"
    NEEDS_LETTERS = "needs_letters"
    DATE_FORMAT = "date_format"
    DATE_PAST = "date_past"
    DATE_TOO_FAR = "date_too_far"
    NOT_A_CHOICE = "not_a_choice"
    NOT_SKIPPABLE = "not_skippable"


class RequestKind(StrEnum):
    """What a student asks under data protection law."""

    ACCESS = "access"  # a copy of everything held about them
    ERASURE = "erasure"  # their records deleted


class RequestChannel(StrEnum):
    """How a subject request reached the service (any way counts)."""

    BOT = "bot"
    EMAIL = "email"
    IN_PERSON = "in_person"
    LETTER = "letter"
    PHONE = "phone"
    CHAT = "chat"  # words typed into the chat that an adviser recognised as a request


class RequestStatus(StrEnum):
    OPEN = "open"
    PAUSED = "paused"
    SENT = "sent"  # an access request answered
    ACCEPTED = "accepted"  # a deletion done
    DECLINED = "declined"  # a deletion declined, with a reason


class PauseReason(StrEnum):
    """The only reasons the clock may stop: the service waits for the student."""

    IDENTITY = "identity"
    CLARIFY = "clarify"


class StatEvent(StrEnum):
    """What the anonymous statistics count."""

    CASE_OPENED = "case_opened"
    CASE_CLOSED = "case_closed"
    APPOINTMENT_OUTCOME = "appointment_outcome"
    CONSENT_AT_SUBMISSION = "consent_at_submission"
    DISCLOSURE_MADE = "disclosure_made"
    REQUEST_ANSWERED = "request_answered"
    SECURITY_NOTICE = "security_notice"
    REMOVED_FROM_COURSE = "removed_from_course"
