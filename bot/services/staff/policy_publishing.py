"""The coordinator publishing a version in the bot: the text as a document, the date the Board
of Trustees approved it, a version name, then a confirmation.

Each step is kept in the coordinator's staff draft (sealed, in the database), so a restart
resumes it and `/cancel` drops it. Sending another document at any step replaces the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select

from bot.services.deps import Deps
from bot.services.errors import StaleAction
from bot.services.staff import policy_versions, staff, staff_drafts
from bot.services.staff.policy import PolicyDocument, digest
from bot.services.staff.staff_drafts import Draft
from bot.vocabulary import DraftPurpose, Role
from storage.models import StaffMember
from storage.uow import UnitOfWork

COMMAND = "policy publish"


class PublishStep(StrEnum):
    DOCUMENT = "document"
    APPROVED = "approved"
    VERSION = "version"
    CONFIRM = "confirm"


@dataclass(frozen=True)
class PublishDraft:
    """Where the coordinator is, and what they gave so far (the text's size and digest)."""

    step: PublishStep
    characters: int = 0
    sha256: str = ""
    first_line: str = ""
    approved_on: date | None = None
    suggested: str | None = None
    version: str | None = None
    staff_to_sign: int = 0


async def _coordinator(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> StaffMember:
    return await staff.authorise(uow, deps, telegram_user_id, (Role.COORDINATOR,), command=COMMAND)


async def _draft(uow: UnitOfWork, deps: Deps, me: StaffMember) -> Draft:
    draft = await staff_drafts.current(uow, deps, me.id)
    if draft is None or draft.purpose is not DraftPurpose.POLICY_PUBLISH:
        raise StaleAction
    return draft


async def _view(uow: UnitOfWork, step: PublishStep, content: dict[str, Any]) -> PublishDraft:
    text = str(content.get("text", ""))
    approved = content.get("approved_on")
    signing = 0
    if step is PublishStep.CONFIRM:
        signing = int(
            await uow.session.scalar(
                select(func.count()).select_from(StaffMember).where(StaffMember.active.is_(True))
            )
            or 0
        )
    return PublishDraft(
        step=step,
        characters=len(text),
        sha256=digest(text) if text else "",
        first_line=next((line.strip() for line in text.splitlines() if line.strip()), ""),
        approved_on=date.fromisoformat(approved) if approved else None,
        suggested=content.get("suggested"),
        version=content.get("version"),
        staff_to_sign=signing,
    )


async def _move(
    uow: UnitOfWork, deps: Deps, me: StaffMember, step: PublishStep, content: dict[str, Any]
) -> PublishDraft:
    await staff_drafts.save(uow, deps, me.id, step=step.value, content=content)
    await uow.commit()
    return await _view(uow, step, content)


async def begin(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> PublishDraft:
    """/policy publish: wait for the new text as a document."""
    me = await _coordinator(uow, deps, telegram_user_id)
    step = PublishStep.DOCUMENT
    await staff_drafts.begin(uow, deps, me.id, DraftPurpose.POLICY_PUBLISH, step=step.value)
    await uow.commit()
    return PublishDraft(step)


async def where(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> PublishDraft:
    """The step the coordinator is at (to ask its question again)."""
    me = await _coordinator(uow, deps, telegram_user_id)
    draft = await _draft(uow, deps, me)
    return await _view(uow, PublishStep(draft.step), draft.content)


async def take_document(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, data: bytes
) -> PublishDraft:
    """The statement's text (any step: a new document replaces the last); then the date."""
    me = await _coordinator(uow, deps, telegram_user_id)
    await _draft(uow, deps, me)
    text = policy_versions.read_text(data)
    await policy_versions.check_new_text(uow, text)
    return await _move(uow, deps, me, PublishStep.APPROVED, {"text": text})


async def take_typed(
    uow: UnitOfWork, deps: Deps, telegram_user_id: int, typed: str
) -> PublishDraft:
    """What the coordinator typed: the approval date, or the version name, as the step asks.

    Refusals (a date in the future, a name taken) are raised for the edge to explain; the
    step stays where it was.
    """
    me = await _coordinator(uow, deps, telegram_user_id)
    draft = await _draft(uow, deps, me)
    step = PublishStep(draft.step)
    content = dict(draft.content)
    if step is PublishStep.APPROVED:
        approved = policy_versions.approval_date(typed, policy_versions.service_today(deps))
        taken = await policy_versions.taken_versions(uow)
        content["approved_on"] = approved.isoformat()
        content["suggested"] = policy_versions.next_version(taken, approved)
        return await _move(uow, deps, me, PublishStep.VERSION, content)
    if step is PublishStep.VERSION:
        return await _named(uow, deps, me, content, typed)
    # Waiting for a document, or for the confirmation: typing changes nothing.
    return await _view(uow, step, content)


async def use_suggested(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> PublishDraft:
    """The suggested version name, pressed."""
    me = await _coordinator(uow, deps, telegram_user_id)
    draft = await _draft(uow, deps, me)
    if draft.step != PublishStep.VERSION.value or not draft.content.get("suggested"):
        raise StaleAction
    return await _named(uow, deps, me, dict(draft.content), draft.content["suggested"])


async def _named(
    uow: UnitOfWork, deps: Deps, me: StaffMember, content: dict[str, Any], typed: str
) -> PublishDraft:
    version = policy_versions.version_name(typed)
    if version in await policy_versions.taken_versions(uow):
        raise policy_versions.VersionRefused(policy_versions.VersionProblem.TAKEN)
    content["version"] = version
    return await _move(uow, deps, me, PublishStep.CONFIRM, content)


async def confirm(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> PolicyDocument:
    """Publish what the draft holds; the draft is done."""
    me = await _coordinator(uow, deps, telegram_user_id)
    draft = await _draft(uow, deps, me)
    if draft.step != PublishStep.CONFIRM.value:
        raise StaleAction
    content = draft.content
    try:
        published = await policy_versions.publish(
            uow,
            deps,
            text=content["text"],
            approved_on=date.fromisoformat(content["approved_on"]),
            version=content["version"],
            publisher=me,
        )
    except policy_versions.VersionRefused:
        # Another coordinator took the name meanwhile: ask for another one.
        await _move(uow, deps, me, PublishStep.VERSION, content)
        raise
    await staff_drafts.finish(uow, me.id)
    await uow.commit()
    return published


async def discard(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> None:
    """Drop the draft: nothing is published."""
    me = await _coordinator(uow, deps, telegram_user_id)
    await _draft(uow, deps, me)
    await staff_drafts.finish(uow, me.id)
    await uow.commit()
