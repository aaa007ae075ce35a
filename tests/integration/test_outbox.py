"""The outbox on both engines: sent after commit, once, in order, retried, escalated."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from telegram import Bot

from bot.clock import FixedClock
from bot.notify import TelegramSender
from bot.services.deps import Deps
from bot.services.notices import outbox
from bot.services.staff import staff
from bot.transport import FailureKind, LocalBotApi, LocalRequest
from bot.vocabulary import Role
from storage.models import OutboxMessage, ProcessedUpdate

ESCALATE = timedelta(minutes=15)
START = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
CHAT = 777
COORDINATOR = 3001


async def make_sender() -> tuple[LocalBotApi, TelegramSender]:
    api = LocalBotApi()
    bot = Bot("123:ABC", request=LocalRequest(api))
    await bot.initialize()
    return api, TelegramSender(bot)


async def queue(
    deps: Deps,
    text: str,
    key: str,
    order: str | None = None,
    *,
    commit: bool = True,
    escalation: str | None = None,
) -> None:
    async with deps.uow() as uow:
        await outbox.enqueue(
            uow,
            deps,
            kind="test",
            chat_id=CHAT,
            html=text,
            dedupe_key=key,
            ordering_key=order,
            escalation=escalation,
        )
        if commit:
            await uow.commit()


def texts_in(api: LocalBotApi) -> list[str]:
    return [m.plain_text.rsplit("\n\n", 1)[0] for m in api.messages(CHAT)]


async def test_a_message_is_sent_only_after_its_transaction_commits(deps: Deps) -> None:
    api, sender = await make_sender()
    await queue(deps, "rolled back", "k0", commit=False)
    await queue(deps, "committed", "k1")
    report = await outbox.dispatch(deps, sender, escalate_after=ESCALATE)
    assert report.sent == 1
    assert texts_in(api) == ["committed"]
    assert (await outbox.dispatch(deps, sender, escalate_after=ESCALATE)).sent == 0
    assert texts_in(api) == ["committed"]


async def test_a_repeated_dedupe_key_queues_nothing(deps: Deps) -> None:
    api, sender = await make_sender()
    await queue(deps, "first", "same")
    await queue(deps, "second", "same")
    await outbox.dispatch(deps, sender, escalate_after=ESCALATE)
    assert texts_in(api) == ["first"]


async def test_each_message_carries_a_short_reference(deps: Deps) -> None:
    api, sender = await make_sender()
    await queue(deps, "hello", "k")
    await outbox.dispatch(deps, sender, escalate_after=ESCALATE)
    foot = api.messages(CHAT)[0].plain_text.rsplit("\n\n", 1)[1]
    assert re.fullmatch(r"Message ref [0-9A-F]{6}: .*", foot)


async def test_network_errors_are_retried_with_backoff_until_delivered_once(
    deps: Deps, clock: FixedClock
) -> None:
    api, sender = await make_sender()
    await queue(deps, "important", "k")
    api.fail_next(3, FailureKind.NETWORK_ERROR)
    for _ in range(3):
        assert (await outbox.dispatch(deps, sender, escalate_after=ESCALATE)).retried == 1
        assert (await outbox.dispatch(deps, sender, escalate_after=ESCALATE)).sent == 0  # waiting
        clock.advance(timedelta(minutes=1))
    assert (await outbox.dispatch(deps, sender, escalate_after=ESCALATE)).sent == 1
    assert texts_in(api) == ["important"]


async def test_server_errors_and_retry_after_are_respected(deps: Deps, clock: FixedClock) -> None:
    api, sender = await make_sender()
    await queue(deps, "later", "k")
    api.fail_next(1, FailureKind.RETRY_AFTER, retry_after=30)
    await outbox.dispatch(deps, sender, escalate_after=ESCALATE)
    clock.advance(timedelta(seconds=29))
    assert (await outbox.dispatch(deps, sender, escalate_after=ESCALATE)).sent == 0
    clock.advance(timedelta(seconds=2))
    api.fail_next(1, FailureKind.SERVER_ERROR)
    assert (await outbox.dispatch(deps, sender, escalate_after=ESCALATE)).retried == 1
    clock.advance(timedelta(minutes=1))
    assert (await outbox.dispatch(deps, sender, escalate_after=ESCALATE)).sent == 1


async def test_messages_for_one_appointment_go_out_in_order(deps: Deps, clock: FixedClock) -> None:
    api, sender = await make_sender()
    await queue(deps, "booked for 14:00", "a1", order="appt-1")
    await queue(deps, "moved to 15:00", "a2", order="appt-1")
    await queue(deps, "unrelated", "b1", order="appt-2")
    api.fail_next(1, FailureKind.NETWORK_ERROR, methods={"sendMessage"})
    await outbox.dispatch(deps, sender, escalate_after=ESCALATE)
    # The first failed; the second must wait for it, the unrelated one need not.
    assert "moved to 15:00" not in texts_in(api)
    clock.advance(timedelta(minutes=1))
    await outbox.dispatch(deps, sender, escalate_after=ESCALATE)
    await outbox.dispatch(deps, sender, escalate_after=ESCALATE)
    appointment = [t for t in texts_in(api) if t != "unrelated"]
    assert appointment == ["booked for 14:00", "moved to 15:00"]


async def test_an_undeliverable_message_alerts_the_coordinator_without_details_and_keeps_trying(
    deps: Deps, clock: FixedClock
) -> None:
    async with deps.uow() as uow:
        await staff.add_staff(
            uow,
            deps,
            telegram_user_id=COORDINATOR,
            name="Casey",
            role=Role.COORDINATOR,
            actor="test",
        )
        await uow.commit()
    api, sender = await make_sender()
    api.block(CHAT)
    await queue(
        deps,
        "Sam Jones: appointment 14:00",
        "k",
        escalation="A notice for an appointment at 14:00 today is undelivered.",
    )
    for _ in range(20):
        await outbox.dispatch(deps, sender, escalate_after=ESCALATE)
        clock.advance(timedelta(minutes=2))
    alerts = [m.plain_text for m in api.messages(COORDINATOR)]
    assert len(alerts) == 1
    assert "14:00 today is undelivered" in alerts[0]
    assert "Sam Jones" not in alerts[0]
    api.unblock(CHAT)
    clock.advance(timedelta(minutes=20))
    await outbox.dispatch(deps, sender, escalate_after=ESCALATE)
    assert texts_in(api) == ["Sam Jones: appointment 14:00"]


async def test_a_stand_in_is_never_sent_and_escalates_only_as_stand_ins(
    deps: Deps, clock: FixedClock
) -> None:
    async with deps.uow() as uow:
        await staff.add_staff(
            uow, deps, telegram_user_id=COORDINATOR, name="Casey", role=Role.COORDINATOR, actor="t"
        )
        await uow.commit()
    api, sender = await make_sender()
    api.block(CHAT)
    await queue(deps, "real", "k", order="o", escalation="A notice is undelivered.")
    async with deps.uow() as uow:
        # Behind the real one in its order, so it waits (and goes overdue) with it.
        await outbox.enqueue_stand_in(
            uow, deps, kind="test", dedupe_key="s", ordering_key="o", with_escalation=True
        )
        await uow.commit()
    for _ in range(10):
        await outbox.dispatch(deps, sender, escalate_after=ESCALATE)
        clock.advance(timedelta(minutes=2))
    assert [m.plain_text.split("\n")[0] for m in api.messages(COORDINATOR)] == [
        "A notice is undelivered."
    ]
    async with deps.uow() as uow:
        alerts = (
            await uow.session.execute(
                select(OutboxMessage).where(OutboxMessage.kind == outbox.COORDINATOR_ALERT)
            )
        ).scalars()
        assert [a.status for a in alerts] == ["sent", "sent"]  # the real alert and a stand-in
    api.unblock(CHAT)
    clock.advance(timedelta(minutes=20))
    await outbox.dispatch(deps, sender, escalate_after=ESCALATE)
    assert texts_in(api) == ["real"]
    async with deps.uow() as uow:
        statuses = (await uow.session.execute(select(OutboxMessage.status))).scalars().all()
    assert set(statuses) == {"sent"}
    assert len(api.messages(COORDINATOR)) == 1


async def test_the_outbox_stores_no_plaintext(deps: Deps) -> None:
    await queue(deps, "Secret Canaryname", "k")
    async with deps.uow() as uow:
        row = (await uow.session.execute(select(OutboxMessage))).scalar_one()
        assert row.body_enc is not None and row.recipient_enc is not None
        assert b"Canaryname" not in row.body_enc
        assert str(CHAT).encode() not in row.recipient_enc


async def test_a_sent_message_leaves_no_text_or_recipient_behind_and_is_still_deduplicated(
    deps: Deps,
) -> None:
    api, sender = await make_sender()
    await queue(deps, "Secret Canaryname", "k", escalation="alert text")
    await outbox.dispatch(deps, sender, escalate_after=ESCALATE)
    assert texts_in(api) == ["Secret Canaryname"]
    async with deps.uow() as uow:
        row = (await uow.session.execute(select(OutboxMessage))).scalar_one()
        assert row.status == outbox.OutboxStatus.SENT.value
        assert (row.body_enc, row.recipient_enc, row.escalation_enc) == (None, None, None)
    await queue(deps, "Secret Canaryname", "k")
    await outbox.dispatch(deps, sender, escalate_after=ESCALATE)
    assert texts_in(api) == ["Secret Canaryname"]


async def test_pending_summary_shows_no_content(deps: Deps) -> None:
    await queue(deps, "Secret Canaryname", "k")
    async with deps.uow() as uow:
        listed = await outbox.pending_summary(uow)
    assert len(listed) == 1
    assert "Canaryname" not in repr(listed)


async def test_security_notices_and_alerts_are_retried_every_minute_others_back_off_further(
    deps: Deps, clock: FixedClock
) -> None:
    api, sender = await make_sender()
    for kind in (outbox.SECURITY_NOTICE, "adviser_summary"):
        async with deps.uow() as uow:
            await outbox.enqueue(uow, deps, kind=kind, chat_id=CHAT, html=kind, dedupe_key=kind)
            await uow.commit()
    api.fail_next(2 * 12, FailureKind.NETWORK_ERROR)
    waits: dict[str, timedelta] = {}
    for _ in range(12):
        clock.advance(timedelta(hours=1))
        await outbox.dispatch(deps, sender, escalate_after=timedelta(days=1))
        async with deps.uow() as uow:
            for row in (await uow.session.execute(select(OutboxMessage))).scalars():
                waits[row.kind] = row.next_attempt_at.replace(tzinfo=None) - clock.now().replace(
                    tzinfo=None
                )
    assert waits[outbox.SECURITY_NOTICE] == timedelta(minutes=1)
    assert waits["adviser_summary"] == timedelta(minutes=15)


class FlakyForOneChat:
    """Delivers to every chat but one, which fails (transiently, or refusing us for good)."""

    def __init__(self, failing_chat: int, *, permanent: bool = False) -> None:
        self.failing_chat = failing_chat
        self.permanent = permanent
        self.delivered: list[int] = []

    async def send(self, chat_id: int, html: str) -> None:
        if chat_id == self.failing_chat:
            raise outbox.DeliveryFailed("NetworkError", permanent=self.permanent)
        self.delivered.append(chat_id)


async def after_rounds(
    deps: Deps, clock: FixedClock, sender: FlakyForOneChat, rounds: int
) -> OutboxMessage:
    """Every 30 s another chat's message gets through; the one chat's notice keeps failing."""
    async with deps.uow() as uow:
        await outbox.enqueue(
            uow, deps, kind=outbox.SECURITY_NOTICE, chat_id=CHAT, html="x", dedupe_key="stuck"
        )
        await uow.commit()
    for round_number in range(rounds):
        async with deps.uow() as uow:
            await outbox.enqueue(
                uow, deps, kind="test", chat_id=5, html="y", dedupe_key=f"ok{round_number}"
            )
            await uow.commit()
        await outbox.dispatch(deps, sender, escalate_after=timedelta(days=1))
        clock.advance(timedelta(seconds=30))
    assert len(sender.delivered) == rounds
    async with deps.uow() as uow:
        stuck = await uow.session.scalar(
            select(OutboxMessage).where(OutboxMessage.kind == outbox.SECURITY_NOTICE)
        )
    assert stuck is not None
    return stuck


def wait_of(message: OutboxMessage, clock: FixedClock) -> timedelta:
    next_attempt = message.next_attempt_at.replace(tzinfo=None)
    return next_attempt - (clock.now() - timedelta(seconds=30)).replace(tzinfo=None)


async def test_while_others_get_through_a_failed_send_is_retried_soon_not_backed_off(
    deps: Deps, clock: FixedClock
) -> None:
    stuck = await after_rounds(deps, clock, FlakyForOneChat(CHAT), rounds=12)
    assert stuck.attempts == 12  # retried every round
    assert wait_of(stuck, clock) == outbox.FIRST_RETRY


async def test_a_chat_that_refuses_us_backs_off_even_while_others_get_through(
    deps: Deps, clock: FixedClock
) -> None:
    stuck = await after_rounds(deps, clock, FlakyForOneChat(CHAT, permanent=True), rounds=12)
    assert stuck.attempts < 12
    assert wait_of(stuck, clock) > outbox.FIRST_RETRY


class WritesWhileSending:
    """While Telegram is being called, the bot goes on handling updates, which write."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.writes = 0

    async def send(self, chat_id: int, html: str) -> None:
        async with self.deps.uow() as uow:
            uow.session.add(ProcessedUpdate(update_id=90_000 + self.writes, processed_at=START))
            await uow.commit()
        self.writes += 1


async def test_no_transaction_is_held_open_while_a_message_is_being_sent(deps: Deps) -> None:
    # On SQLite an open transaction holds the write lock: the write inside the send would
    # wait for the dispatcher, which waits for the send, until "database is locked".
    await queue(deps, "one", "k1")
    await queue(deps, "two", "k2")
    sender = WritesWhileSending(deps)
    report = await outbox.dispatch(deps, sender, escalate_after=ESCALATE)
    assert (report.sent, sender.writes) == (2, 2)
