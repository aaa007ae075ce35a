"""The policy's annual review: "The implementation and effectiveness of this Policy will be
monitored and reviewed on an annual basis."

The coordinators are reminded a month before each anniversary of the current version's
approval by the Board of Trustees, and again on the day. Each reminder is a row keyed by
version and due day, inserted in the same transaction as the queued messages: a restart, a
second run or a second instance finds the row (or is refused by its primary key) and sends
nothing more. The bundled statement has no approval date, so nothing is due until a version
is published.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, time

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot import policy_texts
from bot.services.deps import Deps
from bot.services.notices import outbox
from bot.services.notices.staff_directory import active_staff_chats
from bot.services.staff.policy import current_policy
from bot.vocabulary import Role
from storage.models import PolicyReviewReminder
from storage.uow import UnitOfWork

# When, in service time, a reminder due that day is sent: in working hours.
REMINDED_AT = time(9, 0)


def months_before(day: date, months: int) -> date:
    """The same day `months` earlier (the last day of the month when there is no such day)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def anniversary(approved_on: date, years: int) -> date:
    """`approved_on` plus whole years (29 February falls on the 28th in other years)."""
    year = approved_on.year + years
    last = calendar.monthrange(year, approved_on.month)[1]
    return date(year, approved_on.month, min(approved_on.day, last))


@dataclass(frozen=True)
class Due:
    due_on: date  # the day the reminder is for
    review_by: date  # the anniversary it is about


def latest_due(approved_on: date, published_on: date, today: date) -> Due | None:
    """The most recent reminder day on or before today (none before the version was
    published: its review is not due a month after an old approval was only just published)."""
    found: Due | None = None
    years = 1
    while True:
        review_by = anniversary(approved_on, years)
        for day in (months_before(review_by, 1), review_by):
            if day > today:
                return found
            if day >= published_on:
                found = Due(day, review_by)
        years += 1


async def queue_due_reminders(deps: Deps) -> int:
    """Queue the review reminder due today (or missed since) once; the number queued."""
    local_now = deps.clock.now().astimezone(deps.settings.zone)
    if local_now.time() < REMINDED_AT:
        return 0
    today = local_now.date()
    async with deps.uow() as uow:
        policy = await current_policy(uow)
        if policy.approved_on is None or policy.published_at is None:
            return 0  # the bundled statement: no approval date to count from
        published_on = policy.published_at.astimezone(deps.settings.zone).date()
        due = latest_due(policy.approved_on, published_on, today)
        if due is None or await _already_sent(uow, policy.version, due.due_on):
            return 0
        chats = await active_staff_chats(uow, deps, Role.COORDINATOR)
        if not chats:
            return 0  # nobody to remind yet: the next run tries again
        uow.session.add(
            PolicyReviewReminder(
                policy_version=policy.version, due_on=due.due_on, sent_at=deps.clock.now()
            )
        )
        try:
            await uow.session.flush()  # another instance sent it first: its key refuses ours
        except IntegrityError:
            return 0
        html = policy_texts.review_due(policy.version, policy.approved_on, due.review_by, today)
        for chat_id in chats:
            await outbox.enqueue(
                uow,
                deps,
                kind=outbox.POLICY_REVIEW,
                chat_id=chat_id,
                html=html,
                dedupe_key=f"policy-review:{policy.version}:{due.due_on.isoformat()}:{chat_id}",
            )
        try:
            await uow.commit()
        except IntegrityError:
            return 0
    return len(chats)


async def _already_sent(uow: UnitOfWork, version: str, due_on: date) -> bool:
    found = await uow.session.scalar(
        select(PolicyReviewReminder.due_on).where(
            PolicyReviewReminder.policy_version == version,
            PolicyReviewReminder.due_on == due_on,
        )
    )
    return found is not None
