"""The confidentiality policy staff must acknowledge: the newest published version, or the
bundled statement until the coordinator publishes one.

Published versions are rows (bot/services/staff/policy_versions.py publishes them); the bundled
statement stays current on a database where none was published, so a new database works
unchanged and acknowledgements of it keep counting. Which version is current is asked once per
unit of work: a staff command gains at most one small query.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import cast

from sqlalchemy import select

from storage.models import PolicyVersion
from storage.uow import NOT_ASKED, UnitOfWork

POLICY_VERSION = "2026.1"
POLICY_FILE = "uss-confidentiality-statement.txt"
_CURRENT = ("policy", "current")  # the question a unit of work keeps the answer to


def digest(text: str) -> str:
    """The SHA-256 of a statement's text as sent to staff (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class PolicyDocument:
    """One version of the statement. `approved_on` is the Board of Trustees' approval, which
    the bundled statement does not record (so no review reminder runs for it)."""

    version: str
    text: str
    sha256: str
    approved_on: date | None = None
    published_at: datetime | None = None

    @property
    def filename(self) -> str:
        stem = POLICY_FILE.removesuffix(".txt")
        return POLICY_FILE if self.approved_on is None else f"{stem}-{self.version}.txt"

    @property
    def short_digest(self) -> str:
        """Enough of the digest to tell versions apart on a button or a screen."""
        return self.sha256[:8]


@cache
def bundled_policy() -> PolicyDocument:
    """The statement shipped with the bot, current until a version is published."""
    text = resources.files("bot.policy").joinpath(POLICY_FILE).read_text(encoding="utf-8")
    return PolicyDocument(POLICY_VERSION, text, digest(text))


def _document(row: PolicyVersion) -> PolicyDocument:
    return PolicyDocument(row.version, row.text, row.sha256, row.approved_on, row.published_at)


async def current_policy(uow: UnitOfWork) -> PolicyDocument:
    """The version staff must have acknowledged: the newest published, else the bundled one."""
    known = uow.known(_CURRENT)
    if known is not NOT_ASKED:
        return cast(PolicyDocument, known)
    row = await uow.session.scalar(
        select(PolicyVersion)
        .order_by(PolicyVersion.published_at.desc(), PolicyVersion.version.desc())
        .limit(1)
    )
    found = bundled_policy() if row is None else _document(row)
    uow.keep(_CURRENT, found)
    return found


def keep_current(uow: UnitOfWork, policy: PolicyDocument) -> None:
    """After publishing: the rest of this unit of work sees the new version as current."""
    uow.keep(_CURRENT, policy)


async def published_versions(uow: UnitOfWork) -> list[PolicyDocument]:
    """Every published version, newest first (the bundled statement is not among them)."""
    rows = (
        await uow.session.execute(
            select(PolicyVersion).order_by(
                PolicyVersion.published_at.desc(), PolicyVersion.version.desc()
            )
        )
    ).scalars()
    return [_document(row) for row in rows]
