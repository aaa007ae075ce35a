"""The transactional outbox: messages written with the change that causes them, sent after.

Delivery is at least once: a send that times out after Telegram acted on it is retried, so a
rare duplicate is possible; every message ends with its own short reference so a duplicate is
recognisable. Messages sharing an ordering key (one appointment) go out strictly in order.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol, runtime_checkable

from sqlalchemy import delete, exists, func, or_, select
from sqlalchemy.orm import aliased

from bot import texts
from bot.services.deps import Deps
from bot.services.notices.outbox_lease import CLAIM_FOR as CLAIM_FOR  # the lease, for callers
from bot.services.notices.outbox_lease import Claim, ClaimLost
from bot.services.notices.staff_directory import active_staff_chats
from bot.vocabulary import Role
from storage import data_keys
from storage.models import (
    OUTBOX_BODY_BYTES,
    OUTBOX_ESCALATION_BYTES,
    OUTBOX_RECIPIENT_BYTES,
    ChatHold,
    OutboxMessage,
    StaffMember,
    Student,
)
from storage.uow import UnitOfWork

log = logging.getLogger("bot.outbox")

COORDINATOR_ALERT = "coordinator_alert"
SECURITY_NOTICE = "security_notice"
SECURITY_DIGEST = "security_digest"
ADVISER_SUMMARY = "adviser_summary"
ADVISER_MOVE = "adviser_move"
ADVISER_CANCELLATION = "adviser_cancellation"
ADVISER_HANDOVER = "adviser_handover"
# To staff about a case (assigned to them, a consent answer): the case reference, no details.
CASE_NOTICE = "case_notice"
STUDENT_NOTICE = "student_notice"
AUDIT_HEAD = "audit_head"
# To every active staff member: a new version of the policy awaits their acknowledgement.
POLICY_NOTICE = "policy_notice"
# To the coordinators: the policy's annual review is due.
POLICY_REVIEW = "policy_review"
# Sent without protect_content, so the reader can copy or forward them to keep elsewhere:
# nothing in them is personal (the audit head is a sequence number and a MAC).
COPYABLE_KINDS = frozenset({AUDIT_HEAD})
# Written to someone as staff: withdrawn, never sent, once they are no longer active staff
# (a deactivated adviser must not receive a student's summary that was still waiting).
TO_STAFF_KINDS = frozenset(
    {
        ADVISER_SUMMARY,
        ADVISER_MOVE,
        ADVISER_CANCELLATION,
        ADVISER_HANDOVER,
        CASE_NOTICE,
        COORDINATOR_ALERT,
        SECURITY_NOTICE,
        SECURITY_DIGEST,
        AUDIT_HEAD,
        POLICY_NOTICE,
        POLICY_REVIEW,
    }
)
FIRST_RETRY = timedelta(seconds=5)
LONGEST_RETRY = timedelta(minutes=15)
# Messages whose lateness matters in minutes (Security must know before the student arrives;
# an alert is about something already late) are retried at least this often.
URGENT_KINDS = frozenset({SECURITY_NOTICE, SECURITY_DIGEST, COORDINATOR_ALERT})
LONGEST_URGENT_RETRY = timedelta(minutes=1)
# While other messages are getting through, a failed send was a blip, not an outage: it is
# retried after FIRST_RETRY however often it failed. Backoff is for when nothing gets through.
DELIVERING_WITHIN = timedelta(minutes=1)


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    # Telegram refused the message itself (too long, bad HTML): never retried, escalated.
    REFUSED = "refused"


class DeliveryFailed(Exception):
    """A send did not go through; `retry_after` is the wait the server asked for, if any.

    `permanent`: the recipient refuses us (blocked, chat not found): back off. `refused`: the
    server refused the message itself, and would refuse it again however often it is retried.
    """

    def __init__(
        self,
        reason: str,
        *,
        retry_after: float | None = None,
        permanent: bool = False,
        refused: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.permanent = permanent
        self.refused = refused


class Sender(Protocol):
    """Whatever delivers a message (the Telegram adapter, or a fake in tests)."""

    async def send(self, chat_id: int, html: str) -> None: ...


@runtime_checkable
class CopyableSender(Sender, Protocol):
    """A sender that can also deliver a message its reader may copy (COPYABLE_KINDS)."""

    async def send_copyable(self, chat_id: int, html: str) -> None: ...


@runtime_checkable
class ButtonSender(Sender, Protocol):
    """A sender that can put buttons under a message (a consent request to a student)."""

    async def send_with_buttons(
        self, chat_id: int, html: str, buttons: Sequence[tuple[str, str]]
    ) -> None: ...


# A queued body that carries buttons starts with this mark, then JSON of text and buttons
# (each a label and its button data). Text built by texts never holds this control character.
_WITH_BUTTONS = "\x1ebuttons\x1e"


def _with_buttons(html: str, buttons: Sequence[tuple[str, str]]) -> str:
    return _WITH_BUTTONS + json.dumps({"html": html, "buttons": [list(b) for b in buttons]})


def unpack_body(body: str) -> tuple[str, list[tuple[str, str]]]:
    """A queued body's text and its buttons (none for most messages)."""
    if not body.startswith(_WITH_BUTTONS):
        return body, []
    packed = json.loads(body.removeprefix(_WITH_BUTTONS))
    return packed["html"], [(label, data) for label, data in packed["buttons"]]


@dataclass(frozen=True)
class DispatchReport:
    sent: int = 0
    retried: int = 0
    escalated: int = 0


DEDUPE_PURPOSE = "outbox-dedupe"
ORDER_PURPOSE = "outbox-order"
HOLD_PURPOSE = "outbox-hold"


def _blind(deps: Deps, purpose: str, key: str) -> str:
    return deps.index.digest(purpose, key)


def reference(message_id: str) -> str:
    return message_id[:6].upper()


async def enqueue(
    uow: UnitOfWork,
    deps: Deps,
    *,
    kind: str,
    chat_id: int,
    html: str,
    dedupe_key: str,
    ordering_key: str | None = None,
    escalation: str | None = None,
    student_id: str | None = None,
    buttons: Sequence[tuple[str, str]] = (),
) -> OutboxMessage | None:
    """Queue a message in the caller's transaction; a repeated dedupe key queues nothing.

    Keys are stored as keyed digests: they name appointments and chats, and the database holds
    no such link in the clear. `buttons` (label, button data) go under the message.
    """
    if await already_queued(uow, deps, dedupe_key):
        return None
    message = await _new_message(uow, deps, kind, dedupe_key, ordering_key, student_id)
    body = texts.message_reference(html, reference(message.id), to_staff=kind in TO_STAFF_KINDS)
    if buttons:
        body = _with_buttons(body, buttons)
    _seal(deps, message, str(chat_id), body, escalation)
    _add(uow, deps, message)
    return message


async def enqueue_stand_in(
    uow: UnitOfWork,
    deps: Deps,
    *,
    kind: str,
    dedupe_key: str,
    ordering_key: str | None = None,
    with_escalation: bool = False,
    student_id: str | None = None,
) -> OutboxMessage | None:
    """Queue a row shaped like a message of `kind` that is never sent (no recipient).

    Where a message goes out only because of a sensitive fact (a Security notice, for a
    student removed from their course), the same change queues a stand-in when the fact does
    not hold: its sealed fields have the same lengths, it is marked sent like any other, and
    so the outbox says nothing about whom a message concerned.
    """
    if await already_queued(uow, deps, dedupe_key):
        return None
    message = await _new_message(uow, deps, kind, dedupe_key, ordering_key, student_id)
    _seal(deps, message, STAND_IN, STAND_IN, STAND_IN if with_escalation else None)
    _add(uow, deps, message)
    return message


# A stand-in's recipient and text: nothing, padded like anything else.
STAND_IN = ""


async def _new_message(
    uow: UnitOfWork,
    deps: Deps,
    kind: str,
    dedupe_key: str,
    ordering_key: str | None,
    student_id: str | None,
) -> OutboxMessage:
    dedupe_digest = _blind(deps, DEDUPE_PURPOSE, dedupe_key)
    key = _blind(deps, ORDER_PURPOSE, ordering_key) if ordering_key else dedupe_digest
    last = await uow.session.scalar(
        select(func.max(OutboxMessage.position)).where(OutboxMessage.ordering_key == key)
    )
    now = deps.clock.now()
    message = OutboxMessage(
        kind=kind,
        dedupe_key=dedupe_digest,
        ordering_key=key,
        position=(last or 0) + 1,
        status=OutboxStatus.PENDING.value,
        attempts=0,
        created_at=now,
        next_attempt_at=now,
        student_id=student_id,
    )
    # A message to a student is sealed under the student's key; any other under the key ring.
    await data_keys.bind(uow.session, message)
    return message


def _seal(
    deps: Deps, message: OutboxMessage, recipient: str, body: str, escalation: str | None
) -> None:
    """Sealed and padded to fixed lengths: a text's size tells nothing of what it says."""
    cipher = deps.cipher
    message.recipient_enc = cipher.seal_padded(
        message, "recipient_enc", recipient, OUTBOX_RECIPIENT_BYTES
    )
    message.body_enc = cipher.seal_padded(message, "body_enc", body, OUTBOX_BODY_BYTES)
    message.escalation_enc = cipher.seal(
        message, "escalation_enc", escalation, pad_to=OUTBOX_ESCALATION_BYTES
    )


def _add(uow: UnitOfWork, deps: Deps, message: OutboxMessage) -> None:
    uow.session.add(message)
    if deps.wake_outbox is not None:
        uow.after_commit(deps.wake_outbox)


async def already_queued(uow: UnitOfWork, deps: Deps, dedupe_key: str) -> bool:
    """Whether a message with this dedupe key was ever queued (sent or not)."""
    key = _blind(deps, DEDUPE_PURPOSE, dedupe_key)
    found = await uow.session.scalar(
        select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)
    )
    return found is not None


def _backoff(kind: str, attempts: int) -> timedelta:
    delay: timedelta = FIRST_RETRY * (2 ** max(attempts - 1, 0))
    return min(delay, LONGEST_URGENT_RETRY if kind in URGENT_KINDS else LONGEST_RETRY)


def _retry_in(message: OutboxMessage, failure: DeliveryFailed, delivering: bool) -> timedelta:
    """The server's RetryAfter if it gave one; soon if others are getting through (and this
    chat is not refusing us); otherwise backoff by this message's attempts."""
    if failure.retry_after is not None:
        return timedelta(seconds=failure.retry_after)
    if delivering and not failure.permanent:
        return FIRST_RETRY
    return _backoff(message.kind, message.attempts)


async def _delivering(deps: Deps) -> bool:
    """Whether some message was delivered within DELIVERING_WITHIN."""
    since = deps.clock.now() - DELIVERING_WITHIN
    async with deps.uow() as uow:
        found = await uow.session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.sent_at >= since).limit(1)
        )
    return found is not None


async def _claim(deps: Deps, limit: int) -> Claim:
    """Lease the due messages that are first in their order; other instances skip them."""
    now = deps.clock.now()
    earlier = aliased(OutboxMessage)
    blocked_by_earlier = exists().where(
        earlier.ordering_key == OutboxMessage.ordering_key,
        earlier.position < OutboxMessage.position,
        earlier.status == OutboxStatus.PENDING.value,
    )
    query = (
        select(OutboxMessage)
        .where(
            OutboxMessage.status == OutboxStatus.PENDING.value,
            OutboxMessage.next_attempt_at <= now,
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
            ~blocked_by_earlier,
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.position)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    token = secrets.token_hex(16)
    async with deps.uow() as uow:
        rows = list((await uow.session.execute(query)).scalars())
        for row in rows:
            row.claimed_until = now + CLAIM_FOR
            row.claim_token = token
        await uow.commit()
        return Claim(deps, token, [row.id for row in rows], now + CLAIM_FOR)


MAX_ROUNDS = 10


async def dispatch(
    deps: Deps, sender: Sender, *, limit: int = 50, escalate_after: timedelta
) -> DispatchReport:
    """Send what is due, once each; retry failures with backoff; escalate the stuck.

    A message waits for the one before it with the same ordering key, so each round can
    free the next; rounds go on while they deliver something.
    """
    total = DispatchReport()
    for _ in range(MAX_ROUNDS):
        report = await _dispatch_round(deps, sender, limit)
        total = DispatchReport(total.sent + report.sent, total.retried + report.retried)
        if report.sent == 0:
            break
    escalated = await _escalate_overdue(deps, escalate_after)
    return DispatchReport(total.sent, total.retried, escalated)


async def _escalate_overdue(deps: Deps, escalate_after: timedelta) -> int:
    """Report each message still undelivered after `escalate_after`, once; it stays queued.

    Checked on every run rather than on a failed attempt, which backoff may put far later.
    """
    now = deps.clock.now()
    async with deps.uow() as uow:
        overdue = list(
            (
                await uow.session.execute(
                    select(OutboxMessage)
                    .where(
                        OutboxMessage.status == OutboxStatus.PENDING.value,
                        OutboxMessage.escalated_at.is_(None),
                        OutboxMessage.created_at <= now - escalate_after,
                    )
                    .order_by(OutboxMessage.created_at)
                    .with_for_update(skip_locked=True)
                )
            ).scalars()
        )
        for message in overdue:
            message.escalated_at = now
            if message.kind == COORDINATOR_ALERT:
                # An alert about an alert would only queue behind the same failure.
                log.warning("coordinator alert %s undelivered", reference(message.id))
                continue
            await _escalate(uow, deps, message)
        await uow.commit()
    return len(overdue)


async def _dispatch_round(deps: Deps, sender: Sender, limit: int) -> DispatchReport:
    """Send each claimed message with no transaction open while Telegram is called: on SQLite
    an open transaction holds the write lock, and a slow send (or RetryAfter sleeping in the
    rate limiter) would stall every update meanwhile."""
    sent = retried = 0
    claim = await _claim(deps, limit)
    if not claim.ids:
        return DispatchReport()
    delivering = await _delivering(deps)
    async with claim.kept_alive():
        for message_id in claim.ids:
            loaded = await _load(deps, message_id, claim.token)
            if loaded is None:
                claim.release(message_id)
                continue
            chat_id, body, kind = loaded
            if chat_id is None:  # a stand-in: nothing to send
                await _record_sent(deps, message_id, claim.token, delivered=False)
                claim.release(message_id)
                continue
            held_until = await _held_until(deps, chat_id)
            if held_until is not None:
                await _defer(deps, message_id, claim.token, held_until)
                claim.release(message_id)
                continue
            try:
                async with claim.sending(message_id):
                    html, buttons = unpack_body(body)
                    if kind in COPYABLE_KINDS and isinstance(sender, CopyableSender):
                        await sender.send_copyable(chat_id, html)
                    elif buttons and isinstance(sender, ButtonSender):
                        await sender.send_with_buttons(chat_id, html, buttons)
                    else:
                        await sender.send(chat_id, html)
            except DeliveryFailed as failure:
                if failure.retry_after is not None:
                    await _hold_chat(deps, chat_id, timedelta(seconds=failure.retry_after))
                await _record_failure(deps, message_id, claim.token, failure, delivering)
                retried += 1
            except ClaimLost:
                log.warning("outbox %s: lease lapsed during the send", reference(message_id))
            else:
                await _record_sent(deps, message_id, claim.token)
                sent += 1
                delivering = True
            claim.release(message_id)
    return DispatchReport(sent, retried)


async def _held_until(deps: Deps, chat_id: int) -> datetime | None:
    """The end of a flood wait Telegram gave this chat, if one is still running."""
    async with deps.uow() as uow:
        until: datetime | None = await uow.session.scalar(
            select(func.max(ChatHold.until)).where(
                ChatHold.chat_key == _blind(deps, HOLD_PURPOSE, str(chat_id)),
                ChatHold.until > deps.clock.now(),
            )
        )
    return until


async def _hold_chat(deps: Deps, chat_id: int, wait: timedelta) -> None:
    """Hold every message to this chat (not only the one refused) until Telegram's wait ends.

    Insert-only, so deliverers racing on one chat cannot collide; finished holds are dropped.
    """
    now = deps.clock.now()
    async with deps.uow() as uow:
        await uow.session.execute(delete(ChatHold).where(ChatHold.until <= now))
        uow.session.add(
            ChatHold(chat_key=_blind(deps, HOLD_PURPOSE, str(chat_id)), until=now + wait)
        )
        await uow.commit()


async def _defer(deps: Deps, message_id: str, token: str, until: datetime) -> None:
    """Put a claimed message back until its chat's hold ends; not an attempt, so no backoff."""
    async with deps.uow() as uow:
        message = await _held(uow, message_id, token)
        if message is None:
            return
        message.next_attempt_at = max(message.next_attempt_at, until)
        message.claimed_until = message.claim_token = None
        await uow.commit()


async def _load(deps: Deps, message_id: str, token: str) -> tuple[int | None, str, str] | None:
    """Recipient, text and kind of a claimed message still pending and still ours, read in a
    short transaction (no recipient for a stand-in); None if it is gone, taken over by another
    deliverer after our lease lapsed, or withdrawn now because its staff recipient is no
    longer active."""
    async with deps.uow() as uow:
        message = await uow.session.get(OutboxMessage, message_id)
        if message is None or message.status != OutboxStatus.PENDING.value:
            return None
        if message.claim_token != token:
            log.info("outbox %s taken over by another deliverer", reference(message_id))
            return None
        recipient = _open(deps, message, "recipient_enc", message.recipient_enc)
        if recipient == STAND_IN:
            return None, STAND_IN, message.kind
        chat_id = int(recipient)
        if message.kind in TO_STAFF_KINDS and await _former_staff(uow, deps, chat_id):
            await uow.session.delete(message)
            await uow.commit()
            log.info(
                "outbox %s withdrawn: its recipient is no longer active staff",
                reference(message_id),
            )
            return None
        return chat_id, _open(deps, message, "body_enc", message.body_enc), message.kind


def _open(deps: Deps, message: OutboxMessage, column: str, token: bytes | None) -> str:
    return "" if token is None else deps.cipher.open_padded(message, column, token)


async def _former_staff(uow: UnitOfWork, deps: Deps, chat_id: int) -> bool:
    member = await uow.session.scalar(
        select(StaffMember).where(StaffMember.telegram_index == deps.telegram_key(chat_id))
    )
    return member is not None and not member.active


async def _held(uow: UnitOfWork, message_id: str, token: str) -> OutboxMessage | None:
    """The message, if this claim still holds it; only the holder records an outcome."""
    message = await uow.session.get(OutboxMessage, message_id)
    if message is None:
        return None
    if message.claim_token != token:
        log.warning("outbox %s: outcome left to its new holder", reference(message_id))
        return None
    return message


async def _record_sent(deps: Deps, message_id: str, token: str, *, delivered: bool = True) -> None:
    async with deps.uow() as uow:
        message = await _held(uow, message_id, token)
        if message is None:
            return
        now = deps.clock.now()
        message.status = OutboxStatus.SENT.value
        message.sent_at = now
        # Keep what dedupe and ordering need; no copy of the text or the recipient.
        message.body_enc = message.recipient_enc = message.escalation_enc = None
        message.attempts += 1
        message.claimed_until = message.claim_token = None
        if delivered:
            await _mark_reachable(uow, message, reachable=True, now=now)
        await uow.commit()


async def _record_failure(
    deps: Deps, message_id: str, token: str, failure: DeliveryFailed, delivering: bool
) -> None:
    async with deps.uow() as uow:
        message = await _held(uow, message_id, token)
        if message is None:
            return
        now = deps.clock.now()
        message.attempts += 1
        message.last_error = failure.reason[:64]
        message.next_attempt_at = now + _retry_in(message, failure, delivering)
        message.claimed_until = message.claim_token = None
        if failure.refused:
            await _give_up(uow, deps, message, failure, now)
        elif failure.permanent:
            await _mark_reachable(uow, message, reachable=False, now=now)
        await uow.commit()
        log.warning(
            "outbox %s (%s) not delivered, attempt %d: %s",
            reference(message.id),
            message.kind,
            message.attempts,
            failure.reason,
        )


async def _give_up(
    uow: UnitOfWork, deps: Deps, message: OutboxMessage, failure: DeliveryFailed, now: datetime
) -> None:
    """A message Telegram refuses as such is never retried: coordinators are told at once."""
    message.status = OutboxStatus.REFUSED.value
    message.body_enc = message.recipient_enc = message.escalation_enc = None
    message.escalated_at = now
    if message.kind == COORDINATOR_ALERT:
        log.error("coordinator alert %s refused: %s", reference(message.id), failure.reason)
        return
    await alert_coordinators(
        uow,
        deps,
        texts.message_refused(reference(message.id), message.kind, failure.reason),
        dedupe_key=f"refused:{message.id}",
    )


async def _mark_reachable(
    uow: UnitOfWork, message: OutboxMessage, *, reachable: bool, now: datetime
) -> None:
    """A student who blocked the bot is recorded as unreachable; a delivery clears it."""
    if message.student_id is None:
        return
    student = await uow.session.get(Student, message.student_id)
    if student is None:
        return
    if reachable:
        student.unreachable_since = None
    elif student.unreachable_since is None:
        student.unreachable_since = now


async def alert_coordinators(uow: UnitOfWork, deps: Deps, html: str, *, dedupe_key: str) -> None:
    """Queue `html` (written without any student's details) for every active coordinator."""
    for chat_id in await active_staff_chats(uow, deps, Role.COORDINATOR):
        await enqueue(
            uow,
            deps,
            kind=COORDINATOR_ALERT,
            chat_id=chat_id,
            html=html,
            dedupe_key=f"{dedupe_key}:{chat_id}",
        )


async def stand_in_for_coordinator_alerts(uow: UnitOfWork, deps: Deps, *, dedupe_key: str) -> None:
    """The rows `alert_coordinators` would queue, as stand-ins (see `enqueue_stand_in`)."""
    for chat_id in await active_staff_chats(uow, deps, Role.COORDINATOR):
        await enqueue_stand_in(
            uow, deps, kind=COORDINATOR_ALERT, dedupe_key=f"{dedupe_key}:{chat_id}"
        )


async def _escalate(uow: UnitOfWork, deps: Deps, message: OutboxMessage) -> None:
    """Tell every active coordinator, in words written without the student's details."""
    if _open(deps, message, "recipient_enc", message.recipient_enc) == STAND_IN:
        # Nobody was waiting for it; stand-ins for the alerts a real message would raise.
        await stand_in_for_coordinator_alerts(uow, deps, dedupe_key=f"alert:{message.id}")
        return
    note = _open(deps, message, "escalation_enc", message.escalation_enc)
    text = note or f"A message (ref {reference(message.id)}) could not be delivered yet."
    await alert_coordinators(uow, deps, text, dedupe_key=f"alert:{message.id}")


async def pending_summary(uow: UnitOfWork) -> list[tuple[str, str, int, str | None, datetime]]:
    """Pending messages for operators: reference, kind, attempts, last error, created.

    Never the recipient or the text.
    """
    rows = await uow.session.execute(
        select(
            OutboxMessage.id,
            OutboxMessage.kind,
            OutboxMessage.attempts,
            OutboxMessage.last_error,
            OutboxMessage.created_at,
        )
        .where(OutboxMessage.status == OutboxStatus.PENDING.value)
        .order_by(OutboxMessage.created_at)
    )
    return [(reference(i), k, a, e, c) for i, k, a, e, c in rows]


async def withdraw(uow: UnitOfWork, deps: Deps, *, kind: str, ordering_key: str) -> int:
    """Drop messages of one kind not yet sent (a reminder for an appointment now cancelled)."""
    rows = (
        await uow.session.execute(
            select(OutboxMessage).where(
                OutboxMessage.kind == kind,
                OutboxMessage.ordering_key == _blind(deps, ORDER_PURPOSE, ordering_key),
                OutboxMessage.status == OutboxStatus.PENDING.value,
            )
        )
    ).scalars()
    count = 0
    for row in rows:
        await uow.session.delete(row)
        count += 1
    return count
