"""Refusals retrying cannot fix: a message too long is sent again in parts, a bad one escalated."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.clock import FixedClock
from bot.message_parts import TEXT_LIMIT, utf16_length
from bot.services.deps import Deps
from bot.services.notices import outbox
from bot.services.staff import staff
from bot.vocabulary import Role
from storage.models import OutboxMessage
from tests.integration.test_outbox import CHAT, COORDINATOR, ESCALATE, make_sender, queue


async def add_coordinator(deps: Deps) -> None:
    async with deps.uow() as uow:
        await staff.add_staff(
            uow, deps, telegram_user_id=COORDINATOR, name="Casey", role=Role.COORDINATOR, actor="t"
        )
        await uow.commit()


async def statuses(deps: Deps) -> list[str]:
    async with deps.uow() as uow:
        return list((await uow.session.execute(select(OutboxMessage.status))).scalars())


async def test_a_message_telegram_finds_too_long_is_sent_again_in_parts(
    deps: Deps, clock: FixedClock
) -> None:
    api, sender = await make_sender()
    await queue(deps, "<b>" + "😀" * 3000 + "</b>", "long")  # 3,000 characters, 6,000 units

    report = await outbox.dispatch(deps, sender, escalate_after=ESCALATE)

    parts = api.messages(CHAT)
    assert report.sent == 1
    assert len(parts) == 2
    assert all(utf16_length(m.plain_text) <= TEXT_LIMIT for m in parts)
    assert "".join(m.plain_text for m in parts).count("😀") == 3000
    assert await statuses(deps) == [outbox.OutboxStatus.SENT.value]


async def test_a_message_telegram_cannot_parse_is_escalated_at_once_and_never_retried(
    deps: Deps, clock: FixedClock
) -> None:
    await add_coordinator(deps)
    api, sender = await make_sender()
    await queue(deps, "Sam Jones: <blink>14:00</blink>", "bad")

    await outbox.dispatch(deps, sender, escalate_after=ESCALATE)
    for _ in range(10):
        clock.advance(timedelta(minutes=5))
        await outbox.dispatch(deps, sender, escalate_after=ESCALATE)

    tries = [c for c in api.calls if str(c.params.get("chat_id")) == str(CHAT)]
    assert len(tries) == 1
    alerts = [m.plain_text for m in api.messages(COORDINATOR)]
    assert len(alerts) == 1
    assert "refused" in alerts[0] and "not being retried" in alerts[0]
    assert "Sam Jones" not in alerts[0]
    assert sorted(await statuses(deps)) == [
        outbox.OutboxStatus.REFUSED.value,
        outbox.OutboxStatus.SENT.value,
    ]
    async with deps.uow() as uow:
        refused = await uow.session.scalar(
            select(OutboxMessage).where(OutboxMessage.status == outbox.OutboxStatus.REFUSED.value)
        )
    assert refused is not None and refused.body_enc is None and refused.recipient_enc is None
