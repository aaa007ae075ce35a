"""Domain errors, raised by services and turned into kind replies at the Telegram edge."""

from __future__ import annotations

from enum import Enum

from bot.vocabulary import CaseStatus, ConsentScope, Role


class DomainError(Exception):
    """Base of every error a person can be told about."""


class NotAuthorised(DomainError):
    """The caller's role does not allow this."""

    def __init__(self, needed: tuple[Role, ...]) -> None:
        super().__init__("not authorised")
        self.needed = needed


class PolicyNotAcknowledged(DomainError):
    """A staff member has not yet acknowledged the current confidentiality policy."""


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

    def __init__(self, problem: RequestProblem, explanation: str) -> None:
        super().__init__(explanation)
        self.problem = problem
        self.explanation = explanation
