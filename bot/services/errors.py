"""Domain errors, raised by services and turned into kind replies at the Telegram edge."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

from bot.vocabulary import CaseStatus, ConsentScope, Role

if TYPE_CHECKING:
    from bot.services.staff.policy import PolicyDocument


class DomainError(Exception):
    """Base of every error a person can be told about."""


class NotAuthorised(DomainError):
    """The caller's role does not allow this."""

    def __init__(self, needed: tuple[Role, ...]) -> None:
        super().__init__("not authorised")
        self.needed = needed


class PolicyNotAcknowledged(DomainError):
    """A staff member has not yet acknowledged the current confidentiality policy (which it
    carries, so the edge can send it without asking the database again)."""

    def __init__(self, policy: PolicyDocument) -> None:
        super().__init__("policy not acknowledged")
        self.policy = policy


class PolicyReplaced(DomainError):
    """An acknowledgement pressed under a version that has since been replaced by `policy`."""

    def __init__(self, policy: PolicyDocument) -> None:
        super().__init__("policy replaced")
        self.policy = policy


class StaleAction(DomainError):
    """A button or step that no longer matches the conversation's state."""


class UnknownCase(DomainError):
    """No case has that reference."""


class CaseStateWrong(DomainError):
    """The case is not in a state that allows this (closing a closed case, say)."""

    def __init__(self, status: CaseStatus) -> None:
        super().__init__(status.value)
        self.status = status


class BreakGlassNeeded(DomainError):
    """The case is another adviser's (or nobody's yet): opening it needs a reason."""

    def __init__(self, reference: str) -> None:
        super().__init__("a reason is needed")
        self.reference = reference


class NoSheet(DomainError):
    """There is no information sheet (draft or submitted) for this student."""


class InviteProblem(Enum):
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"


class InviteInvalid(DomainError):
    def __init__(self, problem: InviteProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


class AlreadyStaff(DomainError):
    """This Telegram account is already registered as staff."""


class UnknownStaff(DomainError):
    """No staff member has that id."""


class LastCoordinator(DomainError):
    """Deactivating this person would leave the service without an active coordinator."""


class ConsentMissing(DomainError):
    """An action on a student's behalf needs a consent that is not granted."""

    def __init__(self, scope: ConsentScope) -> None:
        super().__init__(scope.value)
        self.scope = scope


class SlotTaken(DomainError):
    """The chosen time is no longer free (someone else took it, or it was withdrawn)."""


class TooManyAppointments(DomainError):
    """The student already has as many upcoming appointments as the service allows."""

    def __init__(self, limit: int) -> None:
        super().__init__(str(limit))
        self.limit = limit


class RequestProblem(Enum):
    """Why a subject request could not be recorded or changed; texts says each one."""

    UNKNOWN = "unknown"
    NOTHING_HELD = "nothing_held"
    ALREADY_OPEN = "already_open"
    FUTURE_DATE = "future_date"
    TOO_OLD = "too_old"
    REASON_NEEDED = "reason_needed"
    EXTENSION_LENGTH = "extension_length"
    ALREADY_EXTENDED = "already_extended"
    NOT_EXTENDED = "not_extended"
    FIRST_MONTH_OVER = "first_month_over"
    ALREADY_PAUSED = "already_paused"
    NOT_PAUSED = "not_paused"
    WRONG_KIND = "wrong_kind"
    BAD_DATE = "bad_date"


class RequestRefused(DomainError):
    def __init__(self, problem: RequestProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


# -- staff protection: the second factor (bot/services/staff/second_factor.py)
class SecondFactorNeeded(DomainError):
    """The staff member's second factor is not set up (or was reset): set-up comes first."""


class SessionLocked(DomainError):
    """The second factor is set up, but the session is locked: a code unlocks it."""


class SecondFactorLockedOut(DomainError):
    """Too many wrong codes in a row: only a coordinator (or the command line) lifts it."""


class WrongCode(DomainError):
    """A code that does not unlock: not the app's current code, or one already used."""

    def __init__(self, *, used_before: bool, attempts_left: int | None) -> None:
        super().__init__("wrong code")
        self.used_before = used_before
        # Codes left before the lock-out (None while setting up: set-up never locks).
        self.attempts_left = attempts_left


class StatisticsProblem(Enum):
    """Why a statistics report cannot be published for what was asked."""

    UNKNOWN_PERIOD = "unknown period"
    REVERSED = "reversed"
    NOT_WHOLE_BLOCKS = "not whole blocks"
    WRONG_GRANULARITY = "wrong granularity"
    NOT_ENDED = "not ended"
    WRONG_DIMENSIONS = "wrong dimensions"


class StatisticsRequestRefused(DomainError):
    """A report was asked for periods or dimensions the disclosure-control rule does not allow.

    The message names the problem and what would be accepted; it never holds a count.
    """

    def __init__(self, problem: StatisticsProblem, explanation: str) -> None:
        super().__init__(explanation)
        self.problem = problem
        self.explanation = explanation
