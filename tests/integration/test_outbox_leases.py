"""Claiming outbox messages, on both engines: a dead deliverer's claim lapses in seconds, and a
live one is never taken, so no two deliverers ever send the same message at once.

Two deliverers are two instances on one database (their own engines and pools) sharing the
test's clock; time moves only when a test moves it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bot.clock import FixedClock
from bot.services.deps import Deps
from bot.services.notices import outbox
from bot.services.notices.outbox_lease import Claim
from storage.engine import make_engine, make_sessions
from storage.models import OutboxMessage
from tests.conftest import Database

ESCALATE = timedelta(minutes=15)
SECURITY_CHAT = 4001
STEP = timedelta(seconds=3)


class Telegram:
    """One Telegram for every deliverer: what arrived, and how many sends were in flight at once."""

    def __init__(self) -> None:
        self.delivered: list[str] = []
        self.in_flight = 0
        self.most_at_once = 0


class Deliverer:
    """A deliverer's connection to Telegram; with `hold`, each send waits until it is set."""

    def __init__(self, telegram: Telegram, hold: asyncio.Event | None = None) -> None:
        self.telegram = telegram
        self.hold = hold
        self.started = asyncio.Event()
        self.cancelled = False

    async def send(self, chat_id: int, html: str) -> None:
        telegram = self.telegram
        telegram.in_flight += 1
        telegram.most_at_once = max(telegram.most_at_once, telegram.in_flight)
        self.started.set()
        try:
            if self.hold is not None:
                await self.hold.wait()
            telegram.delivered.append(html)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        finally:
            telegram.in_flight -= 1


class ProcessKilled(BaseException):
    """The process dies between claiming and sending: nothing after this runs."""


class DiesBeforeSending:
    async def send(self, chat_id: int, html: str) -> None:
        raise ProcessKilled


@pytest.fixture
async def other_instance(database: Database, deps: Deps) -> AsyncIterator[Deps]:
    """A second instance of the bot on the same database."""
    engine = make_engine(database.url, search_path=database.schema)
    yield Deps(
        make_sessions(engine), deps.cipher, deps.index, deps.clock, deps.settings, deps.audit_key
    )
    await engine.dispose()


async def a_security_notice(deps: Deps, text: str = "Sam Jones, 1 Dec, 10:00-11:00") -> None:
    async with deps.uow() as uow:
        await outbox.enqueue(
            uow,
            deps,
            kind=outbox.SECURITY_NOTICE,
            chat_id=SECURITY_CHAT,
            html=text,
            dedupe_key=f"notice:{text}",
            ordering_key="appointment:1",
        )
        await uow.commit()


async def dispatch(deps: Deps, sender: outbox.Sender) -> outbox.DispatchReport:
    return await outbox.dispatch(deps, sender, escalate_after=ESCALATE)


async def lease_ends(deps: Deps) -> object:
    async with deps.uow() as uow:
        return await uow.session.scalar(select(OutboxMessage.claimed_until))


async def until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait for something another task does (bounded by attempts, not by the wall clock)."""
    for _ in range(3000):
        if await condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


async def test_a_claim_abandoned_by_a_crashed_deliverer_is_picked_up_after_seconds(
    deps: Deps, other_instance: Deps, clock: FixedClock
) -> None:
    await a_security_notice(deps)
    with pytest.raises(ProcessKilled):
        await dispatch(deps, DiesBeforeSending())  # claimed, then the process died
    telegram = Telegram()

    await dispatch(other_instance, Deliverer(telegram))
    assert telegram.delivered == []  # the claim is still leased to the dead process

    clock.advance(timedelta(seconds=15))
    report = await dispatch(other_instance, Deliverer(telegram))

    assert report.sent == 1
    assert len(telegram.delivered) == 1


async def test_a_live_claim_being_sent_is_never_taken_by_a_second_deliverer(
    deps: Deps, other_instance: Deps, clock: FixedClock
) -> None:
    await a_security_notice(deps)
    telegram = Telegram()
    release = asyncio.Event()
    slow = Deliverer(telegram, hold=release)
    first = asyncio.ensure_future(dispatch(deps, slow))
    await slow.started.wait()

    # Three minutes pass, three seconds at a time, while the first send is still in flight.
    for _ in range(60):
        clock.advance(STEP)

        async def renewed() -> bool:
            return await lease_ends(other_instance) == clock.now() + outbox.CLAIM_FOR

        await until(renewed, "the sending deliverer renews its lease")
        await dispatch(other_instance, Deliverer(telegram))
        assert telegram.in_flight == 1

    release.set()
    report = await first
    await dispatch(other_instance, Deliverer(telegram))

    assert report.sent == 1
    assert len(telegram.delivered) == 1
    assert telegram.most_at_once == 1
    async with deps.uow() as uow:
        message = (await uow.session.execute(select(OutboxMessage))).scalar_one()
    assert (message.status, message.claimed_until) == (outbox.OutboxStatus.SENT.value, None)


async def test_a_deliverer_that_cannot_renew_gives_up_its_send_before_another_may_take_it(
    deps: Deps, other_instance: Deps, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await a_security_notice(deps)

    async def database_unreachable(self: Claim) -> None:
        raise ConnectionError("database gone")

    monkeypatch.setattr(Claim, "_renew", database_unreachable)
    telegram = Telegram()
    stuck = Deliverer(telegram, hold=asyncio.Event())
    first = asyncio.ensure_future(dispatch(deps, stuck))
    await stuck.started.wait()

    while True:
        clock.advance(STEP)
        for _ in range(20):  # let the keeper and the dispatcher act on the new time
            await asyncio.sleep(0)
        lease = await lease_ends(other_instance)
        assert isinstance(lease, datetime)
        if telegram.in_flight == 0:
            break
        assert lease > clock.now()
    assert clock.now() < lease  # given up while the lease still held: nobody else could send
    report = await first
    assert stuck.cancelled
    assert report.sent == 0

    monkeypatch.undo()
    clock.advance(outbox.CLAIM_FOR)
    taken_over = await dispatch(other_instance, Deliverer(telegram))

    assert taken_over.sent == 1
    assert len(telegram.delivered) == 1
    assert telegram.most_at_once == 1


async def test_messages_for_one_appointment_keep_their_order_across_a_takeover(
    deps: Deps, other_instance: Deps, clock: FixedClock
) -> None:
    await a_security_notice(deps, "first")
    await a_security_notice(deps, "second")
    with pytest.raises(ProcessKilled):
        await dispatch(deps, DiesBeforeSending())
    telegram = Telegram()

    clock.advance(timedelta(seconds=15))
    await dispatch(other_instance, Deliverer(telegram))

    assert [m.split("\n\n")[0] for m in telegram.delivered] == ["first", "second"]
