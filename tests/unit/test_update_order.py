"""The update processor: a bounded number at once, each chat's updates one at a time in order."""

from __future__ import annotations

import asyncio
import inspect
import random
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from telegram import CallbackQuery, Chat, Message, Update, User
from telegram.ext import BaseUpdateProcessor, SimpleUpdateProcessor

from bot.app import build_application
from bot.settings import (
    UPDATES_AT_ONCE_POSTGRESQL,
    UPDATES_AT_ONCE_SQLITE,
    Settings,
    SettingsError,
    load_settings,
)
from bot.transport import LocalBotApi, LocalRequest
from bot.update_order import ChatOrderedProcessor, order_key
from storage.crypto import AuditKey, BlindIndex, KeyRing, new_key_material, parse_key_spec
from storage.engine import make_engine

WHEN = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def message_from(chat_id: int, update_id: int) -> Update:
    user = User(abs(chat_id), "Sam", is_bot=False)
    chat = Chat(chat_id, Chat.PRIVATE if chat_id > 0 else Chat.GROUP)
    return Update(update_id, message=Message(update_id, WHEN, chat, from_user=user, text="hi"))


@dataclass
class Journal:
    """What the handed-over work did, in the order it did it, and how much ran at once."""

    events: list[tuple[str, int, int]] = field(default_factory=list)
    running: int = 0
    most_running: int = 0

    async def work(
        self, chat_id: int, n: int, *, steps: int = 0, gate: asyncio.Event | None = None
    ) -> None:
        """One update's processing: start, yield `steps` times (or wait for `gate`), end."""
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        self.events.append(("start", chat_id, n))
        try:
            if gate is not None:
                await gate.wait()
            for _ in range(steps):
                await asyncio.sleep(0)
        finally:
            self.events.append(("end", chat_id, n))
            self.running -= 1

    def started(self, chat_id: int, n: int) -> bool:
        return ("start", chat_id, n) in self.events

    def ended(self, chat_id: int, n: int) -> bool:
        return ("end", chat_id, n) in self.events


def hand_over(
    processor: BaseUpdateProcessor, work: Iterable[tuple[Update, Coroutine[Any, Any, None]]]
) -> list[asyncio.Task[None]]:
    """As the Application does with concurrent updates: one task per update, in order."""
    return [asyncio.create_task(processor.process_update(u, c)) for u, c in work]


async def let_everything_run() -> None:
    """Yield to the event loop often enough for every ready task to reach its next wait."""
    for _ in range(200):
        await asyncio.sleep(0)


def out_of_order(journal: Journal, handed: list[tuple[int, int]]) -> list[str]:
    """Every way the journal breaks "one chat's updates one at a time, in the order handed over"."""
    problems = []
    for chat_id in {c for c, _ in handed}:
        expected = [n for c, n in handed if c == chat_id]
        seen = [(kind, n) for kind, c, n in journal.events if c == chat_id]
        wanted = [(kind, n) for n in expected for kind in ("start", "end")]
        if seen != wanted:
            problems.append(f"chat {chat_id}: {seen} instead of {wanted}")
    return problems


def mixed(chats: int, per_chat: int) -> list[tuple[int, int]]:
    """(chat, n) pairs, each chat's in order, the chats mixed at random (the same every run)."""
    rng = random.Random(9)
    left = {chat: per_chat for chat in range(1, chats + 1)}
    handed = []
    while left:
        chat = rng.choice(sorted(left))
        handed.append((chat, per_chat - left[chat]))
        left[chat] -= 1
        if not left[chat]:
            del left[chat]
    return handed


async def process_all(processor: BaseUpdateProcessor, handed: list[tuple[int, int]]) -> Journal:
    """Hand over `handed`; earlier updates take longer, so an unordered processor shows it."""
    journal = Journal()
    work = [
        (message_from(chat, i), journal.work(chat, n, steps=(7 * i) % 11 + 20 - n))
        for i, (chat, n) in enumerate(handed)
    ]
    async with processor:
        await asyncio.gather(*hand_over(processor, work))
    return journal


async def test_one_chats_updates_run_one_at_a_time_in_the_order_handed_over() -> None:
    handed = mixed(chats=12, per_chat=8)
    journal = await process_all(ChatOrderedProcessor(5), handed)
    assert out_of_order(journal, handed) == []
    assert journal.most_running == 5  # chats went ahead side by side, up to the limit


async def test_the_order_check_catches_a_processor_that_does_not_order() -> None:
    """The check above is not vacuous: python-telegram-bot's own processor breaks it."""
    handed = mixed(chats=12, per_chat=8)
    journal = await process_all(SimpleUpdateProcessor(5), handed)
    assert out_of_order(journal, handed) != []


async def test_no_more_than_at_once_run_and_the_rest_wait_their_turn() -> None:
    processor = ChatOrderedProcessor(3)
    journal, gate = Journal(), asyncio.Event()
    async with processor:
        tasks = hand_over(
            processor, [(message_from(c, c), journal.work(c, 0, gate=gate)) for c in range(1, 31)]
        )
        await let_everything_run()
        assert journal.running == 3
        assert sum(kind == "start" for kind, _, _ in journal.events) == 3
        gate.set()
        await asyncio.gather(*tasks)  # none fails for having waited
    assert journal.most_running == 3
    assert all(journal.ended(c, 0) for c in range(1, 31))


async def test_an_update_waiting_behind_its_chat_takes_no_place_from_another_chat() -> None:
    processor = ChatOrderedProcessor(2)
    journal, gate = Journal(), asyncio.Event()
    busy = [(message_from(1, 1), journal.work(1, 0, gate=gate))]
    busy += [(message_from(1, n + 1), journal.work(1, n)) for n in range(1, 6)]
    async with processor:
        tasks = hand_over(processor, [*busy, (message_from(2, 9), journal.work(2, 0))])
        await let_everything_run()
        # Chat 1's first update still runs, its five others wait, and chat 2 has been served.
        assert journal.ended(2, 0)
        assert not journal.started(1, 1)
        gate.set()
        await asyncio.gather(*tasks)
    assert out_of_order(journal, [(1, n) for n in range(6)]) == []


async def test_order_holds_when_more_arrive_than_the_processor_holds() -> None:
    handed = mixed(chats=3, per_chat=10)
    journal = await process_all(ChatOrderedProcessor(2, held=4), handed)
    assert out_of_order(journal, handed) == []
    assert journal.most_running == 2


async def test_a_cancelled_waiting_update_does_not_let_the_next_overtake() -> None:
    processor = ChatOrderedProcessor(4)
    journal, gate = Journal(), asyncio.Event()
    never_run = journal.work(1, 1)
    async with processor:
        first, second, third = hand_over(
            processor,
            [
                (message_from(1, 1), journal.work(1, 0, gate=gate)),
                (message_from(1, 2), never_run),
                (message_from(1, 3), journal.work(1, 2)),
            ],
        )
        await let_everything_run()
        second.cancel()
        await let_everything_run()
        assert not journal.started(1, 2)  # the first still runs
        gate.set()
        await asyncio.gather(first, third)
    assert second.cancelled()
    assert [e for e in journal.events if e[1] == 1] == [
        ("start", 1, 0),
        ("end", 1, 0),
        ("start", 1, 2),
        ("end", 1, 2),
    ]
    assert inspect.getcoroutinestate(never_run) == inspect.CORO_CLOSED


async def test_updates_of_a_chat_that_fail_do_not_stop_the_next() -> None:
    processor = ChatOrderedProcessor(2)
    journal = Journal()

    async def fails() -> None:
        raise RuntimeError("handler bug")

    async with processor:
        failing, later = hand_over(
            processor, [(message_from(1, 1), fails()), (message_from(1, 2), journal.work(1, 1))]
        )
        with pytest.raises(RuntimeError):
            await failing
        await later
    assert journal.ended(1, 1)


def test_the_order_is_the_chats_or_without_a_chat_the_users() -> None:
    group = message_from(-100, 1)
    sam = User(42, "Sam", is_bot=False)
    inline_press = Update(2, callback_query=CallbackQuery("q1", sam, "ci", inline_message_id="m"))
    neither = Update(3)  # e.g. a poll's new state: no chat, no user
    assert order_key(group) == -100
    assert order_key(inline_press) == 42  # queues with Sam's private chat, whose id is 42
    assert order_key(neither) is None
    assert order_key("not an update") is None


def test_at_once_must_be_at_least_one_and_at_most_what_it_holds() -> None:
    with pytest.raises(ValueError, match="at_once"):
        ChatOrderedProcessor(0)
    with pytest.raises(ValueError, match="at_once"):
        ChatOrderedProcessor(5, held=4)
    processor = ChatOrderedProcessor(4)
    assert processor.at_once == 4
    assert processor.max_concurrent_updates > 1  # so the Application hands updates over at once


# --- How many at once: USS_CONCURRENT_UPDATES, or the database's default -------------------

SQLITE_URL = "sqlite+aiosqlite:///./var/uss.db"
POSTGRES_URL = "postgresql+asyncpg://uss@db.example.internal:5432/uss"


def test_by_default_sqlite_and_postgresql_each_run_their_own_number_at_once() -> None:
    sqlite = Settings(_env_file=None, database_url=SQLITE_URL)  # type: ignore[call-arg]
    postgres = Settings(_env_file=None, database_url=POSTGRES_URL)  # type: ignore[call-arg]
    assert sqlite.updates_at_once() == UPDATES_AT_ONCE_SQLITE
    assert postgres.updates_at_once() == UPDATES_AT_ONCE_POSTGRESQL


@pytest.mark.parametrize(("value", "expected"), [("7", 7), ("", UPDATES_AT_ONCE_SQLITE)])
def test_concurrent_updates_comes_from_the_environment_and_empty_means_the_default(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: int
) -> None:
    monkeypatch.setenv("USS_CONCURRENT_UPDATES", value)
    settings = load_settings(_env_file=None, database_url=SQLITE_URL)
    assert settings.updates_at_once() == expected


@pytest.mark.parametrize("value", ["0", "101", "many"])
def test_a_malformed_concurrent_updates_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("USS_CONCURRENT_UPDATES", value)
    with pytest.raises(SettingsError, match="USS_CONCURRENT_UPDATES"):
        load_settings(_env_file=None)


@pytest.mark.parametrize("url", [SQLITE_URL, POSTGRES_URL])
async def test_by_default_updates_and_every_job_together_never_drain_the_pool(
    url: str, tmp_path: Path
) -> None:
    """Each running update holds at most one connection at a time (the burst test checks it)."""
    url = url.replace("./var", str(tmp_path))
    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    engine = make_engine(url)
    app = build_application(
        settings,
        keys=KeyRing(parse_key_spec(f"k1:{new_key_material()}")),
        index=BlindIndex.from_spec(new_key_material()),
        audit_key=AuditKey.from_spec(new_key_material()),
        engine=engine,
        request=LocalRequest(LocalBotApi()),
    )
    try:
        assert app.job_queue is not None
        # A delivery run of the outbox holds two connections (its lease is renewed beside it)
        # and may run three times at once (its job and two wake-ups); any other job runs
        # once at a time with one.
        jobs = len(app.job_queue.jobs()) - 1 + 3 * 2
        pool: Any = engine.pool
        processor = app.update_processor
        assert isinstance(processor, ChatOrderedProcessor)
        assert processor.at_once == settings.updates_at_once()
        assert processor.at_once + jobs <= pool.size() + pool._max_overflow
    finally:
        await engine.dispose()
