"""Publishing a new version of the confidentiality statement.

The policy says changes "must be approved by" the Board of Trustees, so a version is published
with the date they approved it. Publishing makes it current at once: the staff gate then asks
every staff member to acknowledge it before their next staff command, and each active staff
member is told once, through the outbox, in the same transaction as the publication.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import select

from bot import policy_texts
from bot.services import audit
from bot.services.deps import Deps
from bot.services.errors import DomainError
from bot.services.notices import outbox
from bot.services.notices.staff_directory import staff_chat_id
from bot.services.staff.policy import (
    POLICY_VERSION,
    PolicyDocument,
    current_policy,
    digest,
    keep_current,
)
from bot.vocabulary import AuditAction
from storage.models import PolicyVersion, StaffMember
from storage.uow import UnitOfWork

# The bundled statement is under 9 kB; a policy a hundred times longer is not a policy.
MAX_BYTES = 100_000
VERSION_MAX = 32
_VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,31}")
_NUMBERED = re.compile(r"(\d{4})\.(\d+)")
# Control characters a plain-text statement never holds (tab, line and page breaks are fine):
# a binary file that happens to decode as UTF-8 has them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


class TextProblem(StrEnum):
    NOT_TEXT_FILE = "not_text_file"
    TOO_LARGE = "too_large"
    EMPTY = "empty"
    NOT_UTF8 = "not_utf8"
    NOT_PLAIN_TEXT = "not_plain_text"
    SAME_AS_CURRENT = "same_as_current"


class PolicyTextRefused(DomainError):
    def __init__(self, problem: TextProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


class DateProblem(StrEnum):
    FORMAT = "format"
    FUTURE = "future"


class ApprovalDateRefused(DomainError):
    def __init__(self, problem: DateProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


class VersionProblem(StrEnum):
    FORMAT = "format"
    TAKEN = "taken"


class VersionRefused(DomainError):
    def __init__(self, problem: VersionProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


def check_file(name: str | None, size: int | None) -> None:
    """Before downloading: a .txt file of a sensible size (the size as Telegram reports it)."""
    if name is None or not name.lower().endswith(".txt"):
        raise PolicyTextRefused(TextProblem.NOT_TEXT_FILE)
    if size is not None and size > MAX_BYTES:
        raise PolicyTextRefused(TextProblem.TOO_LARGE)


def read_text(data: bytes) -> str:
    """The statement in a file: UTF-8 plain text (a byte order mark is dropped), with line
    breaks as they are read on any system, so its digest does not depend on who saved it."""
    if len(data) > MAX_BYTES:
        raise PolicyTextRefused(TextProblem.TOO_LARGE)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PolicyTextRefused(TextProblem.NOT_UTF8) from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise PolicyTextRefused(TextProblem.EMPTY)
    if _CONTROL.search(text):
        raise PolicyTextRefused(TextProblem.NOT_PLAIN_TEXT)
    return text


def approval_date(typed: str, today: date) -> date:
    """The Board of Trustees' approval, typed as 2026-11-30 or 30/11/2026; not in the future."""
    cleaned = typed.strip()
    for form in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            day = datetime.strptime(cleaned, form).date()  # noqa: DTZ007 - a date
        except ValueError:
            continue
        if day > today:
            raise ApprovalDateRefused(DateProblem.FUTURE)
        return day
    raise ApprovalDateRefused(DateProblem.FORMAT)


def version_name(typed: str) -> str:
    """A version name: letters, digits, dots, dashes (2026.2, 2027-A), at most 32."""
    cleaned = typed.strip()
    if not _VERSION.fullmatch(cleaned):
        raise VersionRefused(VersionProblem.FORMAT)
    return cleaned


async def taken_versions(uow: UnitOfWork) -> set[str]:
    """Names no new version may have: every published one, and the bundled statement's."""
    names = (await uow.session.execute(select(PolicyVersion.version))).scalars()
    return {POLICY_VERSION, *names}


def next_version(taken: set[str], approved_on: date) -> str:
    """The name to suggest: the approval year and the next number in it (2026.2 after 2026.1)."""
    numbers = [
        int(match.group(2))
        for name in taken
        if (match := _NUMBERED.fullmatch(name)) and int(match.group(1)) == approved_on.year
    ]
    return f"{approved_on.year}.{max(numbers, default=0) + 1}"


def service_today(deps: Deps) -> date:
    return deps.clock.now().astimezone(deps.settings.zone).date()


async def check_new_text(uow: UnitOfWork, text: str) -> None:
    """Refuse the current version's own text again (it would ask everyone to re-sign nothing)."""
    if digest(text) == (await current_policy(uow)).sha256:
        raise PolicyTextRefused(TextProblem.SAME_AS_CURRENT)


async def publish(
    uow: UnitOfWork,
    deps: Deps,
    *,
    text: str,
    approved_on: date,
    version: str,
    publisher: StaffMember | None,
) -> PolicyDocument:
    """Make `text` the current policy; the caller has checked who may (the caller commits).

    Every active staff member but the publisher is told once, in this transaction; the
    publisher is shown the new version where they are.
    """
    version = version_name(version)
    if approved_on > service_today(deps):
        raise ApprovalDateRefused(DateProblem.FUTURE)
    await check_new_text(uow, text)
    if version in await taken_versions(uow):
        raise VersionRefused(VersionProblem.TAKEN)
    previous = await current_policy(uow)
    now = deps.clock.now()
    if previous.published_at is not None and previous.published_at >= now:
        # The newest is the current one: never publish "before" it, whatever the clock says.
        now = previous.published_at + timedelta(microseconds=1)
    row = PolicyVersion(
        version=version,
        text=text,
        sha256=digest(text),
        approved_on=approved_on,
        published_at=now,
        published_by=publisher.id if publisher is not None else None,
    )
    uow.session.add(row)
    await uow.session.flush()
    actor = audit.staff_actor(publisher.id) if publisher is not None else audit.COMMAND_LINE
    await audit.record(
        uow,
        deps,
        AuditAction.POLICY_PUBLISHED,
        actor,
        row.id,
        version=version,
        sha256=row.sha256,
        approved_on=approved_on.isoformat(),
    )
    document = PolicyDocument(version, text, row.sha256, approved_on, now)
    await _tell_staff(uow, deps, document, publisher)
    keep_current(uow, document)
    return document


async def _tell_staff(
    uow: UnitOfWork, deps: Deps, policy: PolicyDocument, publisher: StaffMember | None
) -> int:
    members = (
        await uow.session.execute(
            select(StaffMember)
            .where(StaffMember.active.is_(True))
            .order_by(StaffMember.created_at, StaffMember.id)
        )
    ).scalars()
    html = policy_texts.new_version_notice(policy.version, policy.approved_on)
    told = 0
    for member in members:
        if publisher is not None and member.id == publisher.id:
            continue
        queued = await outbox.enqueue(
            uow,
            deps,
            kind=outbox.POLICY_NOTICE,
            chat_id=staff_chat_id(deps, member),
            html=html,
            dedupe_key=f"policy-published:{policy.version}:{member.id}",
        )
        told += queued is not None
    return told
