"""The local Bot API refuses what Telegram refuses, with its errors, through the real Bot class."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from html import escape

import pytest
from hypothesis import given
from hypothesis import strategies as st
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.transport import (
    FailureKind,
    HtmlError,
    LocalBotApi,
    LocalRequest,
    check_html,
    utf16_length,
)

CHAT = 1001


@pytest.fixture
async def api_bot() -> tuple[LocalBotApi, Bot]:
    api = LocalBotApi()
    bot = Bot("123:ABC", request=LocalRequest(api), get_updates_request=LocalRequest(api))
    await bot.initialize()
    return api, bot


async def test_send_message_is_recorded_and_readable(api_bot: tuple[LocalBotApi, Bot]) -> None:
    api, bot = api_bot
    sent = await bot.send_message(
        CHAT, "<b>Hello</b> &amp; welcome", parse_mode="HTML", protect_content=True
    )
    assert sent.message_id == 1
    stored = api.last_message(CHAT)
    assert stored is not None
    assert stored.plain_text == "Hello & welcome"
    assert stored.protect_content


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "Message text is empty"),
        ("x" * 4097, "Message is too long"),
        ("<foo>x</foo>", 'Can\'t parse entities: unsupported start tag "foo"'),
        ("<b>x", "Can't find end tag"),
        ("a < b", "Can't parse entities"),
        ("&nbsp;", "Unsupported html entity"),
    ],
)
async def test_text_telegram_would_refuse_is_refused(
    api_bot: tuple[LocalBotApi, Bot], text: str, error: str
) -> None:
    _, bot = api_bot
    with pytest.raises(BadRequest) as caught:
        await bot.send_message(CHAT, text, parse_mode="HTML")
    assert error.lower() in str(caught.value).lower()


async def test_length_counts_utf16_code_units_like_telegram(
    api_bot: tuple[LocalBotApi, Bot],
) -> None:
    _, bot = api_bot
    await bot.send_message(CHAT, "🙂" * 2048)  # 4096 UTF-16 units: allowed
    with pytest.raises(BadRequest, match="too long"):
        await bot.send_message(CHAT, "🙂" * 2049)
    assert utf16_length("🙂") == 2


async def test_callback_data_over_64_bytes_is_refused(api_bot: tuple[LocalBotApi, Bot]) -> None:
    _, bot = api_bot
    fine = InlineKeyboardMarkup([[InlineKeyboardButton("ok", callback_data="x" * 64)]])
    await bot.send_message(CHAT, "fine", reply_markup=fine)
    too_long = InlineKeyboardMarkup([[InlineKeyboardButton("no", callback_data="é" * 33)]])
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(CHAT, "refused", reply_markup=too_long)


async def test_edits_of_missing_or_unchanged_messages_are_refused(
    api_bot: tuple[LocalBotApi, Bot],
) -> None:
    api, bot = api_bot
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("new", chat_id=CHAT, message_id=99)
    sent = await bot.send_message(CHAT, "same")
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("same", chat_id=CHAT, message_id=sent.message_id)
    await bot.edit_message_text("changed", chat_id=CHAT, message_id=sent.message_id)
    assert api.last_message(CHAT) is not None
    assert api.last_message(CHAT).plain_text == "changed"  # type: ignore[union-attr]
    await bot.delete_message(CHAT, sent.message_id)
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(CHAT, sent.message_id)


async def test_a_blocked_chat_answers_forbidden(api_bot: tuple[LocalBotApi, Bot]) -> None:
    api, bot = api_bot
    api.block(CHAT)
    with pytest.raises(Forbidden, match="blocked"):
        await bot.send_message(CHAT, "hello")
    api.unblock(CHAT)
    await bot.send_message(CHAT, "hello")


async def test_unknown_callback_query_ids_are_refused(api_bot: tuple[LocalBotApi, Bot]) -> None:
    api, bot = api_bot
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query("nope")
    api.register_query("q1")
    assert await bot.answer_callback_query("q1")
    api.register_query("q2")
    with pytest.raises(BadRequest, match="Message_too_long"):
        await bot.answer_callback_query("q2", text="x" * 201)


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        (FailureKind.NETWORK_ERROR, NetworkError),
        (FailureKind.TIMED_OUT, TimedOut),
        (FailureKind.SERVER_ERROR, NetworkError),
        (FailureKind.RETRY_AFTER, RetryAfter),
    ],
)
async def test_injected_failures_fail_n_times_then_succeed(
    api_bot: tuple[LocalBotApi, Bot], kind: FailureKind, error: type[Exception]
) -> None:
    api, bot = api_bot
    api.fail_next(2, kind, methods={"sendMessage"}, retry_after=3)
    for _ in range(2):
        with pytest.raises(error):
            await bot.send_message(CHAT, "try")
    await bot.send_message(CHAT, "try")
    assert [c.ok for c in api.calls if c.method == "sendMessage"] == [False, False, True]


async def test_retry_after_carries_the_wait(api_bot: tuple[LocalBotApi, Bot]) -> None:
    api, bot = api_bot
    api.fail_next(1, FailureKind.RETRY_AFTER, retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(CHAT, "x")
    wait = caught.value.retry_after
    assert (wait if isinstance(wait, int) else wait.total_seconds()) == 7


async def test_a_timeout_after_delivery_still_delivers(api_bot: tuple[LocalBotApi, Bot]) -> None:
    api, bot = api_bot
    api.fail_next(1, FailureKind.TIMED_OUT, delivered=True)
    with pytest.raises(TimedOut):
        await bot.send_message(CHAT, "sent anyway")
    await asyncio.sleep(0)
    assert [m.plain_text for m in api.messages(CHAT)] == ["sent anyway"]


async def test_send_document_keeps_the_file(api_bot: tuple[LocalBotApi, Bot]) -> None:
    api, bot = api_bot
    await bot.send_document(CHAT, document=b"policy text", filename="policy.txt", caption="Read me")
    stored = api.last_message(CHAT)
    assert stored is not None
    assert stored.document == ("policy.txt", b"policy text", "Read me")


async def test_get_updates_honours_offset_and_timeout(api_bot: tuple[LocalBotApi, Bot]) -> None:
    api, bot = api_bot
    assert await bot.get_updates(timeout=timedelta(milliseconds=50)) == ()
    for update_id in (1, 2, 3):
        api.push_update(
            {
                "update_id": update_id,
                "message": {
                    "message_id": update_id,
                    "date": 0,
                    "chat": {"id": CHAT, "type": "private"},
                    "text": "hi",
                },
            }
        )
    assert [u.update_id for u in await bot.get_updates()] == [1, 2, 3]
    assert [u.update_id for u in await bot.get_updates(offset=3)] == [3]


@given(st.text(max_size=200))
def test_escaped_text_is_always_accepted_and_reads_back(text: str) -> None:
    assert check_html(escape(text)).plain == text


@pytest.mark.parametrize("bad", ["<b><i>x</b></i>", "</b>", "<a>x</a>", "<span>x</span>"])
def test_malformed_html_is_refused(bad: str) -> None:
    with pytest.raises(HtmlError, match=r"^Bad Request: can't parse entities:"):
        check_html(bad)
