"""A local, in-process Telegram Bot API for tests, the terminal demo and the benchmarks.

It answers the methods the bot uses, records every call, keeps each chat's messages, and
refuses what Telegram refuses (over-long text, bad HTML, oversized button data, edits of
missing messages) with Telegram's own error descriptions. Faults can be injected.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot.message_parts import CALLBACK_DATA_BYTES, CAPTION_LIMIT, TEXT_LIMIT, utf16_length
from bot.transport.html_check import HtmlError, check_html

CALLBACK_DATA_LIMIT = CALLBACK_DATA_BYTES
ANSWER_TEXT_LIMIT = 200
# The largest file a bot may download through the public Bot API (getFile refuses more).
DOWNLOAD_LIMIT = 20 * 1024 * 1024
# Where python-telegram-bot fetches files from: `{base_file_url}/{file_path}`, and the base
# file URL ends in `/file/bot<token>`.
FILE_URL_MARK = "/file/bot"
# What Telegram answers for a refused token, by HTTP status.
TOKEN_REFUSALS = {401: "Unauthorized", 404: "Not Found"}
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)


class ApiRefusal(Exception):
    """An answer Telegram would give with ok=false."""

    def __init__(
        self, status: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


def bad_request(description: str) -> ApiRefusal:
    return ApiRefusal(400, f"Bad Request: {description}")


class FailureKind(Enum):
    NETWORK_ERROR = "network_error"
    TIMED_OUT = "timed_out"
    SERVER_ERROR = "server_error"
    RETRY_AFTER = "retry_after"


@dataclass
class Failure:
    kind: FailureKind
    methods: set[str] | None = None
    retry_after: int = 1
    delivered: bool = False

    def applies_to(self, method: str) -> bool:
        return self.methods is None or method in self.methods


@dataclass(frozen=True)
class ApiCall:
    method: str
    params: dict[str, Any]
    ok: bool
    result: Any
    error: str | None


@dataclass
class SentMessage:
    chat_id: int
    message_id: int
    text: str | None
    parse_mode: str | None
    reply_markup: dict[str, Any] | None
    protect_content: bool
    date: int
    document: tuple[str, bytes, str | None] | None = None
    photo: bytes | None = None  # an image sent with sendPhoto (its caption is the text)
    deleted: bool = False
    edits: int = 0

    @property
    def plain_text(self) -> str:
        """The text as the reader sees it."""
        if self.text is None:
            return ""
        if self.parse_mode and self.parse_mode.upper() == "HTML":
            return check_html(self.text).plain
        return self.text

    @property
    def buttons(self) -> list[list[tuple[str, str | None]]]:
        """Inline keyboard rows as (label, callback data or url)."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [[(b["text"], b.get("callback_data") or b.get("url")) for b in row] for row in rows]


def _as_dict(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


class LocalBotApi:
    """The fake server state, shared by any number of LocalRequest objects."""

    def __init__(
        self,
        bot_id: int = 7000000001,
        bot_username: str = "uss_intake_bot",
        first_name: str = "USS Intake Bot",
    ) -> None:
        self.bot = {
            "id": bot_id,
            "is_bot": True,
            "first_name": first_name,
            "username": bot_username,
        }
        self.calls: list[ApiCall] = []
        # Calls Telegram itself would have refused (not injected faults): a bug in the bot.
        self.refused: list[ApiCall] = []
        self._chats: dict[int, list[SentMessage]] = {}
        self._next_id: dict[int, itertools.count[int]] = {}
        self._blocked: set[int] = set()
        self._failures: list[Failure] = []
        self._fail_when: Callable[[str, dict[str, Any]], Failure | None] | None = None
        self._queries: set[str] = set()
        self._token_refusal: int | None = None
        self._updates: list[dict[str, Any]] = []
        self._update_event = asyncio.Event()
        self.commands: list[dict[str, Any]] = []
        # Ids of the messages people sent, per chat, and which of them the bot deleted.
        self._received: dict[int, dict[int, bool]] = {}
        # Files people sent, by file id: (file_unique_id, size Telegram reports, content).
        self._files: dict[str, tuple[str, int, bytes]] = {}
        self._file_ids = itertools.count(1)
        # The file paths downloaded, in order.
        self.downloads: list[str] = []

    # ------------------------------------------------------------------ inspection
    def messages(self, chat_id: int) -> list[SentMessage]:
        return [m for m in self._chats.get(chat_id, []) if not m.deleted]

    def last_message(self, chat_id: int) -> SentMessage | None:
        messages = self.messages(chat_id)
        return messages[-1] if messages else None

    def last_message_with_buttons(self, chat_id: int) -> SentMessage | None:
        return next((m for m in reversed(self.messages(chat_id)) if m.buttons), None)

    def find_message(self, chat_id: int, message_id: int) -> SentMessage | None:
        return next(
            (
                m
                for m in self._chats.get(chat_id, [])
                if m.message_id == message_id and not m.deleted
            ),
            None,
        )

    def received(self, chat_id: int) -> dict[int, bool]:
        """The messages people sent in this chat: message id, and whether the bot deleted it."""
        return dict(self._received.get(chat_id, {}))

    def sent_to(self, chat_id: int) -> list[ApiCall]:
        return [c for c in self.calls if c.ok and str(c.params.get("chat_id")) == str(chat_id)]

    def clear(self) -> None:
        self.calls.clear()
        self.refused.clear()
        self._chats.clear()

    # ------------------------------------------------------------------ control
    def block(self, chat_id: int) -> None:
        self._blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        self._blocked.discard(chat_id)

    def fail_next(
        self,
        n: int,
        kind: FailureKind,
        *,
        methods: set[str] | None = None,
        retry_after: int = 1,
        delivered: bool = False,
    ) -> None:
        self._failures.extend(Failure(kind, methods, retry_after, delivered) for _ in range(n))

    def fail_while(self, decide: Callable[[str, dict[str, Any]], Failure | None] | None) -> None:
        """Let a callable decide per call whether it fails (None stops it)."""
        self._fail_when = decide

    def refuse_token(self, status: int | None = 401) -> None:
        """Answer every call as Telegram answers a bad token (None accepts it again).

        401 Unauthorized is Telegram's answer to a revoked or mistyped token of the right
        shape; 404 Not Found, to a malformed one or a base URL that is not a Bot API server.
        """
        if status is not None and status not in TOKEN_REFUSALS:
            raise ValueError("Telegram refuses a token with 401 or 404")
        self._token_refusal = status

    def put_file(self, content: bytes, *, size: int | None = None) -> tuple[str, str]:
        """Keep a file a person sends, as Telegram's servers would; its (file_id,
        file_unique_id). `size` is what Telegram reports, if not the content's length."""
        n = next(self._file_ids)
        file_id, unique_id = f"file{n}", f"ufile{n}"
        self._files[file_id] = (unique_id, len(content) if size is None else size, content)
        return file_id, unique_id

    def download(self, url: str) -> tuple[int, bytes]:
        """Answer a file download (`{base_file_url}/{file_path}`) as Telegram's file server."""
        after = url.split(FILE_URL_MARK, 1)[1]
        file_path = after.partition("/")[2]
        file_id = file_path.rpartition("/")[2]
        self.downloads.append(file_path)
        found = self._files.get(file_id)
        if found is None:
            body = {"ok": False, "error_code": 404, "description": "Not Found"}
            return 404, json.dumps(body).encode()
        return 200, found[2]

    def register_query(self, query_id: str) -> None:
        self._queries.add(query_id)

    def push_update(self, update: dict[str, Any]) -> None:
        self._updates.append(update)
        self._update_event.set()

    def new_message_id(self, chat_id: int) -> int:
        return next(self._next_id.setdefault(chat_id, itertools.count(1)))

    def note_received(self, chat_id: int, message_id: int) -> None:
        """A person sent this message (the bot may delete it, as Telegram lets bots do in
        private chats)."""
        self._received.setdefault(chat_id, {})[message_id] = False

    # ------------------------------------------------------------------ dispatch
    async def call(
        self, method: str, params: dict[str, Any], files: dict[str, Any]
    ) -> tuple[int, bytes]:
        failure = self._take_failure(method, params)
        if failure is not None:
            return self._fail(method, params, files, failure)
        try:
            if self._token_refusal is not None:
                raise ApiRefusal(self._token_refusal, TOKEN_REFUSALS[self._token_refusal])
            result = await self._answer(method, params, files)
        except ApiRefusal as refusal:
            refused = ApiCall(method, params, False, None, refusal.description)
            self.calls.append(refused)
            self.refused.append(refused)
            body: dict[str, Any] = {
                "ok": False,
                "error_code": refusal.status,
                "description": refusal.description,
            }
            if refusal.parameters:
                body["parameters"] = refusal.parameters
            return refusal.status, json.dumps(body).encode()
        self.calls.append(ApiCall(method, params, True, result, None))
        return 200, json.dumps({"ok": True, "result": result}).encode()

    def _take_failure(self, method: str, params: dict[str, Any]) -> Failure | None:
        if method == "getUpdates":
            return None
        if self._fail_when is not None:
            decided = self._fail_when(method, params)
            if decided is not None:
                return decided
        for i, failure in enumerate(self._failures):
            if failure.applies_to(method):
                return self._failures.pop(i)
        return None

    def _fail(
        self, method: str, params: dict[str, Any], files: dict[str, Any], failure: Failure
    ) -> tuple[int, bytes]:
        self.calls.append(ApiCall(method, params, False, None, failure.kind.value))
        if failure.kind is FailureKind.NETWORK_ERROR:
            raise NetworkError("local transport: connection dropped")
        if failure.kind is FailureKind.TIMED_OUT:
            if failure.delivered:
                # Telegram sometimes acts on a request whose answer never arrives (#1045).
                asyncio.get_running_loop().create_task(self._answer(method, params, files))
            raise TimedOut("local transport: timed out")
        if failure.kind is FailureKind.RETRY_AFTER:
            body = {
                "ok": False,
                "error_code": 429,
                "description": f"Too Many Requests: retry after {failure.retry_after}",
                "parameters": {"retry_after": failure.retry_after},
            }
            return 429, json.dumps(body).encode()
        return 502, json.dumps(
            {"ok": False, "error_code": 502, "description": "Bad Gateway"}
        ).encode()

    async def _answer(self, method: str, params: dict[str, Any], files: dict[str, Any]) -> Any:
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            raise bad_request(f"method {method} is not implemented by the local transport")
        return (
            await handler(params, files)
            if asyncio.iscoroutinefunction(handler)
            else handler(params, files)
        )

    # ------------------------------------------------------------------ checks
    def _check_chat(self, chat_id: int) -> None:
        if chat_id in self._blocked:
            raise ApiRefusal(403, "Forbidden: bot was blocked by the user")

    @staticmethod
    def _check_markup(markup: Any) -> dict[str, Any] | None:
        markup = _as_dict(markup)
        if not markup:
            return None
        for row in markup.get("inline_keyboard", []):
            for button in row:
                if not button.get("text"):
                    raise bad_request("text buttons are unallowed in the inline keyboard")
                data = button.get("callback_data")
                if data is not None and (not data or len(str(data).encode()) > CALLBACK_DATA_LIMIT):
                    raise bad_request("BUTTON_DATA_INVALID")
                if data is None and not button.get("url"):
                    raise bad_request(
                        "can't parse inline keyboard button: "
                        'field "callback_data" or "url" must be present'
                    )
        return dict(markup)

    @staticmethod
    def _check_text(value: Any, parse_mode: Any, *, limit: int, empty: str, too_long: str) -> str:
        text: str = "" if value is None else str(value)
        plain = text
        if parse_mode and str(parse_mode).upper() == "HTML":
            try:
                plain = check_html(text).plain
            except HtmlError as exc:
                raise ApiRefusal(400, str(exc)) from None
        if limit == TEXT_LIMIT and not plain.strip():
            raise bad_request(empty)
        if utf16_length(plain) > limit:
            raise bad_request(too_long)
        return text

    def _message_text(self, params: dict[str, Any]) -> str:
        return self._check_text(
            params.get("text"),
            params.get("parse_mode"),
            limit=TEXT_LIMIT,
            empty="message text is empty",
            too_long="message is too long",
        )

    def _store(self, message: SentMessage) -> dict[str, Any]:
        self._chats.setdefault(message.chat_id, []).append(message)
        return self.message_json(message)

    def message_json(self, message: SentMessage) -> dict[str, Any]:
        chat: dict[str, Any] = {
            "id": message.chat_id,
            "type": "private" if message.chat_id > 0 else "group",
        }
        if message.chat_id > 0:
            chat["first_name"] = "Local"
        else:
            chat["title"] = "Local group"
        data: dict[str, Any] = {
            "message_id": message.message_id,
            "date": message.date,
            "chat": chat,
            "from": self.bot,
        }
        if message.photo is not None:
            data["photo"] = [
                {
                    "file_id": f"photo{message.message_id}",
                    "file_unique_id": f"p{message.message_id}",
                    "width": 512,
                    "height": 512,
                    "file_size": len(message.photo),
                }
            ]
            if message.text:
                data["caption"] = message.plain_text
        elif message.document is not None:
            name, content, caption = message.document
            data["document"] = {
                "file_id": f"doc{message.message_id}",
                "file_unique_id": f"u{message.message_id}",
                "file_name": name,
                "file_size": len(content),
            }
            if caption:
                data["caption"] = caption
        elif message.text is not None:
            data["text"] = message.plain_text
        if message.reply_markup:
            data["reply_markup"] = message.reply_markup
        return data

    # ------------------------------------------------------------------ methods
    def _m_getMe(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        return {
            **self.bot,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _m_sendMessage(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        chat_id = int(params["chat_id"])
        self._check_chat(chat_id)
        text = self._message_text(params)
        markup = self._check_markup(params.get("reply_markup"))
        return self._store(
            SentMessage(
                chat_id,
                self.new_message_id(chat_id),
                text,
                params.get("parse_mode"),
                markup,
                bool(params.get("protect_content")),
                int(time.time()),
            )
        )

    def _m_sendDocument(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        chat_id = int(params["chat_id"])
        self._check_chat(chat_id)
        caption = params.get("caption")
        if caption is not None:
            caption = self._check_text(
                caption,
                params.get("parse_mode"),
                limit=CAPTION_LIMIT,
                empty="",
                too_long="message caption is too long",
            )
        markup = self._check_markup(params.get("reply_markup"))
        name, content = "document", b""
        if files:
            part = next(iter(files.values()))
            name, content = part[0] or "document", part[1]
        message = SentMessage(
            chat_id,
            self.new_message_id(chat_id),
            caption,
            params.get("parse_mode"),
            markup,
            bool(params.get("protect_content")),
            int(time.time()),
            document=(name, content, caption),
        )
        return self._store(message)

    def _m_sendPhoto(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        chat_id = int(params["chat_id"])
        self._check_chat(chat_id)
        caption = params.get("caption")
        if caption is not None:
            caption = self._check_text(
                caption,
                params.get("parse_mode"),
                limit=CAPTION_LIMIT,
                empty="",
                too_long="message caption is too long",
            )
        markup = self._check_markup(params.get("reply_markup"))
        if not files:
            raise bad_request("wrong file identifier/HTTP URL specified")
        content = next(iter(files.values()))[1]
        if not content:
            raise bad_request("file must be non-empty")
        message = SentMessage(
            chat_id,
            self.new_message_id(chat_id),
            caption,
            params.get("parse_mode"),
            markup,
            bool(params.get("protect_content")),
            int(time.time()),
            photo=bytes(content),
        )
        return self._store(message)

    def _edited(self, params: dict[str, Any]) -> SentMessage:
        chat_id = int(params["chat_id"])
        message = self.find_message(chat_id, int(params["message_id"]))
        if message is None:
            raise bad_request("message to edit not found")
        return message

    def _m_editMessageText(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        message = self._edited(params)
        text = self._message_text(params)
        markup = self._check_markup(params.get("reply_markup"))
        if text == message.text and markup == message.reply_markup:
            raise bad_request(NOT_MODIFIED)
        message.text, message.parse_mode, message.reply_markup = (
            text,
            params.get("parse_mode"),
            markup,
        )
        message.edits += 1
        return self.message_json(message)

    def _m_editMessageReplyMarkup(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        message = self._edited(params)
        markup = self._check_markup(params.get("reply_markup"))
        if markup == message.reply_markup:
            raise bad_request(NOT_MODIFIED)
        message.reply_markup = markup
        message.edits += 1
        return self.message_json(message)

    def _m_deleteMessage(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        chat_id, message_id = int(params["chat_id"]), int(params["message_id"])
        message = self.find_message(chat_id, message_id)
        if message is not None:
            message.deleted = True
            return True
        received = self._received.get(chat_id, {})
        if received.get(message_id) is False:
            received[message_id] = True
            return True
        raise bad_request("message to delete not found")

    def _m_answerCallbackQuery(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        query_id = str(params["callback_query_id"])
        if query_id not in self._queries:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        if utf16_length(str(params.get("text") or "")) > ANSWER_TEXT_LIMIT:
            raise bad_request("MESSAGE_TOO_LONG")
        self._queries.discard(query_id)
        return True

    def _m_setMyCommands(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        self.commands = list(_as_dict(params.get("commands")) or [])
        return True

    def _m_deleteMyCommands(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        self.commands = []
        return True

    def _m_getMyCommands(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        return self.commands

    def _ok(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        return True

    _m_setChatMenuButton = _m_deleteWebhook = _m_setWebhook = _m_logOut = _m_close = _ok

    def _m_sendChatAction(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        self._check_chat(int(params["chat_id"]))
        return True

    def _m_getFile(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        file_id = str(params.get("file_id") or "")
        found = self._files.get(file_id)
        if found is None:
            raise bad_request("invalid file_id")
        unique_id, size, _ = found
        if size > DOWNLOAD_LIMIT:
            raise bad_request("file is too big")
        return {
            "file_id": file_id,
            "file_unique_id": unique_id,
            "file_size": size,
            "file_path": f"documents/{file_id}",
        }

    def _m_getChat(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        chat_id = int(params["chat_id"])
        return {
            "id": chat_id,
            "type": "private" if chat_id > 0 else "group",
            "accent_color_id": 0,
            "max_reaction_count": 11,
        }

    async def _m_getUpdates(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        offset = int(params.get("offset") or 0)
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        timeout = float(params.get("timeout") or 0)
        if not self._updates and timeout:
            self._update_event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._update_event.wait(), timeout)
        limit = int(params.get("limit") or 100)
        return self._updates[:limit]


class LocalRequest(BaseRequest):
    """A python-telegram-bot request backend that talks to a LocalBotApi instead of HTTP."""

    def __init__(self, api: LocalBotApi) -> None:
        self.api = api

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        if FILE_URL_MARK in url:
            return self.api.download(url)
        api_method = url.rstrip("/").rsplit("/", 1)[-1]
        params: dict[str, Any] = {}
        files: dict[str, Any] = {}
        if request_data is not None:
            params = {
                k: _as_dict(v) if k in ("reply_markup", "commands") else v
                for k, v in request_data.parameters.items()
            }
            if request_data.contains_files:
                files = dict(request_data.multipart_data)
        return await self.api.call(api_method, params, files)
