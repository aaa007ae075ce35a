"""Scheduled jobs. Each derives its work from the database, so a restart loses nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import time, timedelta
from typing import Any

from telegram.error import TelegramError

from bot import texts
from bot.handlers.common import App, Context, say_in
from bot.notify import TelegramSender
from bot.screens import sheet_screen
from bot.services import audit
from bot.services.booking import reminders
from bot.services.intake import intake
from bot.services.lifecycle import requests, retention
from bot.services.notices import outbox, security
from bot.services.staff import policy_review
from storage.uow import forget_processed_updates

log = logging.getLogger("bot.jobs")

# Telegram keeps an undelivered update for 24 hours; keep our markers twice as long.
PROCESSED_UPDATE_KEEP = timedelta(hours=48)
# A job that was due while the process was down (or busy) still runs, once, within this.
MISFIRE_GRACE_SECONDS = 6 * 60 * 60


async def forget_old_updates(context: Context) -> None:
    """Drop processed-update markers older than any redelivery could be."""
    deps = context.bot_data.deps
    async with deps.uow() as uow:
        removed = await forget_processed_updates(
            uow.session, deps.clock.now() - PROCESSED_UPDATE_KEEP
        )
        await uow.commit()
    log.info("forgot %d processed update markers", removed)


OUTBOX_EVERY_SECONDS = 3


async def deliver_outbox(context: Context) -> None:
    """Send what the outbox holds; the rows themselves say what is due, so restarts lose nothing."""
    deps = context.bot_data.deps
    escalate_after = timedelta(minutes=deps.settings.notice_escalate_minutes)
    await outbox.dispatch(deps, TelegramSender(context.bot), escalate_after=escalate_after)


DELIVER_NOW = "deliver-outbox-now"


def outbox_waker(app: App) -> Callable[[], None]:
    """What runs after a commit that queued messages: one delivery run now, not in 3 s.

    Wakes coalesce (a run not yet started is replaced); a run may overlap the regular one, as
    claims are leased. Does nothing while the job queue is not running (tests, the demo).
    """

    def wake() -> None:
        queue: Any = app.job_queue
        if queue is None or not queue.scheduler.running:
            return
        queue.run_once(
            deliver_outbox,
            when=0,
            name=DELIVER_NOW,
            job_kwargs={"id": DELIVER_NOW, "replace_existing": True, "max_instances": 2},
        )

    return wake


HELD_TEXTS_EVERY_SECONDS = 2


async def judge_held_texts(context: Context) -> None:
    """Answer the long texts nothing followed within their window (see split_texts)."""
    deps = context.bot_data.deps
    for judged in await intake.judge_texts_nothing_followed(deps, texts.choice_label):
        try:
            for rejected in judged.typed.rejected:
                await say_in(
                    context.bot, judged.chat_id, texts.rejection(rejected.reason, rejected.params)
                )
            screen = sheet_screen(judged.typed.view, deps.rules, deps.settings.service_name)
            await say_in(context.bot, judged.chat_id, screen.text, screen.markup)
        except TelegramError as exc:
            log.info("could not answer a held text: %s", type(exc).__name__)


REMINDERS_EVERY_SECONDS = 60


async def queue_reminders(context: Context) -> None:
    """Queue the reminders that are due; the outbox job delivers them."""
    queued = await reminders.queue_due_reminders(context.bot_data.deps)
    if queued:
        log.info("queued %d reminders", queued)


DIGEST_EVERY_SECONDS = 60


async def queue_security_digest(context: Context) -> None:
    """After the digest time, queue today's digest of tomorrow's notified appointments, once."""
    queued = await security.queue_digest(context.bot_data.deps)
    if queued:
        log.info("queued the Security digest (%d messages)", queued)


AUDIT_HEAD_EVERY_SECONDS = 600


async def publish_audit_head(context: Context) -> None:
    """Once a day, send the audit log's head to the coordinators, to be kept outside it."""
    queued = await audit.publish_head(context.bot_data.deps)
    if queued:
        log.info("queued the audit head for %d coordinators", queued)


RETENTION_EVERY_SECONDS = 3600


async def apply_retention(context: Context) -> None:
    """Delete what is past the retention period, warn 30 days ahead, and send last month's
    summary once. Checked hourly rather than at one time of day: each part is derived from
    the database, so a process that was down catches up when it starts."""
    deps = context.bot_data.deps
    purged = await retention.purge(deps)
    if not purged.empty:
        log.info("retention purge: %d cases, %d students", purged.cases, purged.students)
    warned = await retention.warn_upcoming(deps)
    if warned:
        log.info("retention: warned about %d cases", warned)
    await retention.send_monthly_summary(deps)


async def remind_of_requests(context: Context) -> None:
    """Tell the coordinators of subject requests due in 7 days, tomorrow, or overdue."""
    queued = await requests.remind(context.bot_data.deps)
    if queued:
        log.info("queued %d subject request reminders", queued)


POLICY_REVIEW_EVERY_SECONDS = 1800


async def queue_policy_review(context: Context) -> None:
    """Remind the coordinators of the policy's annual review, a month ahead and on the day."""
    queued = await policy_review.queue_due_reminders(context.bot_data.deps)
    if queued:
        log.info("queued the policy review reminder for %d coordinators", queued)


def schedule_jobs(app: App) -> None:
    """Register the recurring jobs with explicit ids and safe APScheduler defaults."""
    queue: Any = app.job_queue
    if queue is None:
        raise RuntimeError("the job queue is missing: install python-telegram-bot[job-queue]")
    # misfire_grace_time only applies through job_defaults (APScheduler's default is 1 s,
    # which silently skips a job that is a little late); coalesce runs a backlog once.
    queue.scheduler.configure(
        job_defaults={
            "coalesce": True,
            "misfire_grace_time": MISFIRE_GRACE_SECONDS,
            "max_instances": 1,
        },
        **queue.scheduler_configuration,
    )
    queue.run_repeating(
        deliver_outbox,
        interval=OUTBOX_EVERY_SECONDS,
        first=1,
        name="deliver-outbox",
        job_kwargs={"id": "deliver-outbox", "replace_existing": True, "misfire_grace_time": 60},
    )
    queue.run_repeating(
        judge_held_texts,
        interval=HELD_TEXTS_EVERY_SECONDS,
        first=2,
        name="judge-held-texts",
        job_kwargs={"id": "judge-held-texts", "replace_existing": True, "misfire_grace_time": 60},
    )
    queue.run_repeating(
        queue_reminders,
        interval=REMINDERS_EVERY_SECONDS,
        first=5,
        name="queue-reminders",
        job_kwargs={"id": "queue-reminders", "replace_existing": True, "misfire_grace_time": 600},
    )
    queue.run_repeating(
        queue_security_digest,
        interval=DIGEST_EVERY_SECONDS,
        first=10,
        name="security-digest",
        job_kwargs={"id": "security-digest", "replace_existing": True, "misfire_grace_time": 600},
    )
    # Checked every few minutes rather than run at one time of day: whether today's head went
    # out is in the outbox, so a process down at 08:00 still sends it when it starts.
    queue.run_repeating(
        publish_audit_head,
        interval=AUDIT_HEAD_EVERY_SECONDS,
        first=15,
        name="publish-audit-head",
        job_kwargs={
            "id": "publish-audit-head",
            "replace_existing": True,
            "coalesce": True,
            "misfire_grace_time": AUDIT_HEAD_EVERY_SECONDS,
        },
    )
    queue.run_repeating(
        apply_retention,
        interval=RETENTION_EVERY_SECONDS,
        first=30,
        name="retention",
        job_kwargs={
            "id": "retention",
            "replace_existing": True,
            "misfire_grace_time": RETENTION_EVERY_SECONDS,
        },
    )
    queue.run_repeating(
        remind_of_requests,
        interval=RETENTION_EVERY_SECONDS,
        first=45,
        name="subject-requests",
        job_kwargs={
            "id": "subject-requests",
            "replace_existing": True,
            "misfire_grace_time": RETENTION_EVERY_SECONDS,
        },
    )
    # The daily review reminder, checked every half hour like the audit head: whether the
    # day's reminder went out is a row in the database, so a restart neither skips nor repeats.
    queue.run_repeating(
        queue_policy_review,
        interval=POLICY_REVIEW_EVERY_SECONDS,
        first=20,
        name="policy-review",
        job_kwargs={
            "id": "policy-review",
            "replace_existing": True,
            "coalesce": True,
            "misfire_grace_time": POLICY_REVIEW_EVERY_SECONDS,
        },
    )
    queue.run_daily(
        forget_old_updates,
        time=time(3, 30),
        name="forget-processed-updates",
        job_kwargs={"id": "forget-processed-updates", "replace_existing": True},
    )
