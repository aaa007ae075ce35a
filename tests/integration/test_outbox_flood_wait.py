"""A RetryAfter holds every message to that chat until Telegram's wait ends, and no other chat."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import FixedClock
from bot.services.deps import Deps
from bot.services.notices import outbox
from bot.transport import FailureKind, LocalBotApi
from bot.transport.local import Failure
from storage.engine import make_sessions
from tests.integration.test_outbox import ESCALATE, make_sender

FLOODED = 777
OTHER = 888
WAIT = 30


async def queue_to(deps: Deps, chat_id: int, text: str) -> None:
    async with deps.uow() as uow:
        await outbox.enqueue(
            uow, deps, kind="test", chat_id=chat_id, html=text, dedupe_key=f"{chat_id}:{text}"
        )
        await uow.commit()


def flood_once(api: LocalBotApi) -> None:
    """The first message to FLOODED gets a RetryAfter; Telegram answers normally after."""
    told: list[bool] = []

    def decide(method: str, params: dict[str, Any]) -> Failure | None:
        if method == "sendMessage" and str(params.get("chat_id")) == str(FLOODED) and not told:
            told.append(True)
            return Failure(FailureKind.RETRY_AFTER, retry_after=WAIT)
        return None

    api.fail_while(decide)


def attempts_to(api: LocalBotApi, chat_id: int) -> int:
    return sum(1 for c in api.calls if str(c.params.get("chat_id")) == str(chat_id))


def delivered_to(api: LocalBotApi, chat_id: int) -> list[str]:
    return [m.plain_text.rsplit("\n\n", 1)[0] for m in api.messages(chat_id)]


async def test_a_retry_after_holds_every_message_to_that_chat_until_the_wait_ends(
    deps: Deps, clock: FixedClock
) -> None:
    api, sender = await make_sender()
    for text in ("one", "two", "three"):
        await queue_to(deps, FLOODED, text)
    await queue_to(deps, OTHER, "elsewhere")
    flood_once(api)

    await outbox.dispatch(deps, sender, escalate_after=ESCALATE)
    assert attempts_to(api, FLOODED) == 1  # the others were held, not sent into the wait
    assert delivered_to(api, OTHER) == ["elsewhere"]  # another chat is not held

    clock.advance(timedelta(seconds=WAIT - 1))
    await queue_to(deps, FLOODED, "four")  # queued during the wait: held too
    await outbox.dispatch(deps, sender, escalate_after=ESCALATE)
    assert attempts_to(api, FLOODED) == 1

    clock.advance(timedelta(seconds=2))
    await outbox.dispatch(deps, sender, escalate_after=ESCALATE)
    assert sorted(delivered_to(api, FLOODED)) == ["four", "one", "three", "two"]


async def test_the_hold_is_kept_in_the_database_for_another_deliverer_and_after_a_restart(
    deps: Deps, clock: FixedClock, engine: AsyncEngine
) -> None:
    api, sender = await make_sender()
    await queue_to(deps, FLOODED, "one")
    await queue_to(deps, FLOODED, "two")
    flood_once(api)
    first_instance = Deps(
        make_sessions(engine), deps.cipher, deps.index, clock, deps.settings, deps.audit_key
    )
    await outbox.dispatch(first_instance, sender, escalate_after=ESCALATE)
    assert attempts_to(api, FLOODED) == 1

    # Another process (or this one restarted), with its own connections and bot.
    other_api, other_sender = await make_sender()
    other_instance = Deps(
        make_sessions(engine), deps.cipher, deps.index, clock, deps.settings, deps.audit_key
    )
    clock.advance(timedelta(seconds=WAIT // 2))
    await outbox.dispatch(other_instance, other_sender, escalate_after=ESCALATE)
    assert attempts_to(other_api, FLOODED) == 0

    clock.advance(timedelta(seconds=WAIT))
    await outbox.dispatch(other_instance, other_sender, escalate_after=ESCALATE)
    assert sorted(delivered_to(other_api, FLOODED)) == ["one", "two"]
