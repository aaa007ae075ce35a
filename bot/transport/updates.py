"""Building the updates a person would send, and a small driver that sends them."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any

from telegram import Update
from telegram.ext import Application

from bot.message_parts import TEXT_LIMIT, utf16_length
from bot.transport.local import LocalBotApi, SentMessage


@dataclass(frozen=True)
class LocalUser:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str = "en"

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "is_bot": False,
            "first_name": self.first_name,
            "language_code": self.language_code,
        }
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        return data

    def private_chat(self) -> dict[str, Any]:
        return {"id": self.id, "type": "private", "first_name": self.first_name}


class UpdateFactory:
    """Update payloads (dicts) with increasing update ids and message ids."""

    def __init__(self, api: LocalBotApi, first_update_id: int = 1) -> None:
        self.api = api
        self._update_ids = itertools.count(first_update_id)
        self._query_ids = itertools.count(1)

    def _message(
        self, user: LocalUser, chat: dict[str, Any] | None, **content: Any
    ) -> dict[str, Any]:
        chat = chat or user.private_chat()
        message_id = self.api.new_message_id(chat["id"])
        self.api.note_received(chat["id"], message_id)
        return {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": chat,
            "from": user.json(),
            **content,
        }

    def _wrap(self, key: str, message: dict[str, Any]) -> dict[str, Any]:
        return {"update_id": next(self._update_ids), key: message}

    def text(
        self,
        user: LocalUser,
        text: str,
        *,
        chat: dict[str, Any] | None = None,
        forwarded: bool = False,
        edited: bool = False,
    ) -> dict[str, Any]:
        content: dict[str, Any] = {"text": text}
        if forwarded:
            content["forward_origin"] = {
                "type": "hidden_user",
                "sender_user_name": "Someone",
                "date": int(time.time()),
            }
        if edited:
            content["edit_date"] = int(time.time())
        return self._wrap(
            "edited_message" if edited else "message", self._message(user, chat, **content)
        )

    def command(
        self, user: LocalUser, command: str, *, args: str = "", chat: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        text = f"{command} {args}".strip()
        entity = {"type": "bot_command", "offset": 0, "length": len(command)}
        return self._wrap("message", self._message(user, chat, text=text, entities=[entity]))

    def callback(self, user: LocalUser, message: SentMessage, data: str) -> dict[str, Any]:
        query_id = f"q{next(self._query_ids)}"
        self.api.register_query(query_id)
        query = {
            "id": query_id,
            "from": user.json(),
            "chat_instance": str(message.chat_id),
            "data": data,
            "message": self.api.message_json(message),
        }
        return {"update_id": next(self._update_ids), "callback_query": query}

    def sticker(self, user: LocalUser) -> dict[str, Any]:
        sticker = {
            "file_id": "stk",
            "file_unique_id": "stku",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "👍",
        }
        return self._wrap("message", self._message(user, None, sticker=sticker))

    def photo(
        self,
        user: LocalUser,
        *,
        content: bytes | None = None,
        file_size: int | None = None,
        caption: str | None = None,
    ) -> dict[str, Any]:
        """A photo message; with `content`, a file the bot can fetch (getFile, download)."""
        file_id, unique_id = "ph", "phu"
        if content is not None:
            file_id, unique_id = self.api.put_file(content, size=file_size)
        size: dict[str, Any] = {
            "file_id": file_id,
            "file_unique_id": unique_id,
            "width": 90,
            "height": 90,
        }
        if content is not None or file_size is not None:
            size["file_size"] = file_size if file_size is not None else len(content or b"")
        extra: dict[str, Any] = {"caption": caption} if caption else {}
        return self._wrap("message", self._message(user, None, photo=[size], **extra))

    def voice(self, user: LocalUser) -> dict[str, Any]:
        return self._wrap(
            "message",
            self._message(
                user, None, voice={"file_id": "v", "file_unique_id": "vu", "duration": 3}
            ),
        )

    def document(
        self,
        user: LocalUser,
        *,
        content: bytes | None = None,
        file_name: str | None = "notes.pdf",
        mime_type: str | None = None,
        file_size: int | None = None,
        caption: str | None = None,
    ) -> dict[str, Any]:
        """A file sent as a document. With `content`, a file the bot can fetch (getFile,
        download); `file_size` is what Telegram reports (the content's length if not given),
        and `mime_type` what the sender's app claims."""
        document: dict[str, Any] = {"file_id": "d", "file_unique_id": "du"}
        if content is not None:
            file_id, unique_id = self.api.put_file(content, size=file_size)
            document = {"file_id": file_id, "file_unique_id": unique_id}
        if file_name is not None:
            document["file_name"] = file_name
        if mime_type is not None:
            document["mime_type"] = mime_type
        if content is not None or file_size is not None:
            document["file_size"] = file_size if file_size is not None else len(content or b"")
        extra: dict[str, Any] = {"caption": caption} if caption else {}
        return self._wrap("message", self._message(user, None, document=document, **extra))

    def location(self, user: LocalUser) -> dict[str, Any]:
        return self._wrap(
            "message", self._message(user, None, location={"latitude": 51.5, "longitude": -0.1})
        )

    def contact(self, user: LocalUser) -> dict[str, Any]:
        return self._wrap(
            "message",
            self._message(
                user, None, contact={"phone_number": "+447700900123", "first_name": user.first_name}
            ),
        )

    @staticmethod
    def group(group_id: int) -> dict[str, Any]:
        return {"id": group_id, "type": "group", "title": "Course reps"}

    def group_text(self, user: LocalUser, group_id: int, text: str) -> dict[str, Any]:
        return self.text(user, text, chat=self.group(group_id))

    def group_command(self, user: LocalUser, group_id: int, command: str) -> dict[str, Any]:
        return self.command(user, command, chat=self.group(group_id))

    def added_to_group(self, user: LocalUser, group_id: int) -> dict[str, Any]:
        bot = {**self.api.bot}
        member = {
            "chat": self.group(group_id),
            "from": user.json(),
            "date": int(time.time()),
            "old_chat_member": {"status": "left", "user": bot},
            "new_chat_member": {"status": "member", "user": bot},
        }
        return {"update_id": next(self._update_ids), "my_chat_member": member}


def to_update(
    payload: dict[str, Any], application: Application[Any, Any, Any, Any, Any, Any]
) -> Update:
    update = Update.de_json(payload, application.bot)
    assert update is not None
    return update


def app_parts(text: str) -> list[str]:
    """Cut a text as Telegram's apps do: at the last white space that fits (which is dropped),
    or, in a word longer than a message, where the limit falls."""
    parts: list[str] = []
    while utf16_length(text) > TEXT_LIMIT:
        fit = 0
        units = 0
        for i, ch in enumerate(text):
            units += utf16_length(ch)
            if units > TEXT_LIMIT:
                break
            fit = i + 1
        space = max(text.rfind(" ", 0, fit + 1), text.rfind("\n", 0, fit + 1))
        if space > 0:
            parts.append(text[:space])
            text = text[space + 1 :]
        else:
            parts.append(text[:fit])
            text = text[fit:]
    parts.append(text)
    return parts


class LocalChat:
    """One person's private chat with the bot, for tests: send, press, read."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        api: LocalBotApi,
        factory: UpdateFactory,
        user: LocalUser,
    ) -> None:
        self.app = application
        self.api = api
        self.factory = factory
        self.user = user
        self._mark = 0

    async def deliver(self, payload: dict[str, Any]) -> list[SentMessage]:
        """Process one update and return the messages sent to this chat while it ran."""
        before = len(self.api.messages(self.user.id))
        self._mark = before
        await self.app.process_update(to_update(payload, self.app))
        return self.api.messages(self.user.id)[before:]

    async def send(self, text: str) -> list[SentMessage]:
        if text.startswith("/"):
            command, _, args = text.partition(" ")
            return await self.deliver(self.factory.command(self.user, command, args=args))
        return await self.deliver(self.factory.text(self.user, text))

    async def send_as_an_app_would(self, text: str) -> list[SentMessage]:
        """Send a long text as Telegram's apps do: in parts of at most 4,096 UTF-16 units."""
        before = len(self.api.messages(self.user.id))
        for part in app_parts(text):
            await self.deliver(self.factory.text(self.user, part))
        self._mark = before
        return self.api.messages(self.user.id)[before:]

    async def press(
        self, label: str | int, *, message: SentMessage | None = None
    ) -> list[SentMessage]:
        """Press a button (by label, or by its position counting from 0) on the latest keyboard."""
        message = message or self.api.last_message_with_buttons(self.user.id)
        buttons = [b for row in (message.buttons if message else []) for b in row]
        if message is None or not buttons:
            raise AssertionError("no message with buttons in this chat")
        if isinstance(label, int):
            chosen = buttons[label]
        else:
            found = [b for b in buttons if b[0] == label]
            if not found:
                raise AssertionError(f"no button {label!r}; buttons are {[b[0] for b in buttons]}")
            chosen = found[0]
        return await self.deliver(self.factory.callback(self.user, message, chosen[1] or ""))

    @property
    def last(self) -> SentMessage:
        message = self.api.last_message(self.user.id)
        assert message is not None, "the bot has sent nothing to this chat"
        return message

    @property
    def last_text(self) -> str:
        return self.last.plain_text

    @property
    def replies(self) -> list[SentMessage]:
        """Messages sent to this chat by the latest delivery."""
        return self.api.messages(self.user.id)[self._mark :]

    def buttons(self) -> list[str]:
        message = self.api.last_message_with_buttons(self.user.id)
        return [b[0] for row in (message.buttons if message else []) for b in row]
