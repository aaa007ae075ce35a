"""`python -m bot demo`: the real bot, driven from a terminal through the local transport.

Same handlers, same services, a real SQLite database under ./var/demo/ and demo keys made
there on first use. You play every role in turn: `/as adviser`, `/as student`, …
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from telegram import Update

from bot.app import build_application
from bot.clock import SystemClock
from bot.env_file import put_keys
from bot.handlers.common import App
from bot.logs import configure_logging
from bot.services.errors import AlreadyStaff
from bot.services.staff import second_factor, staff
from bot.settings import Settings
from bot.transport import LocalBotApi, LocalRequest, LocalUser, SentMessage, UpdateFactory
from bot.vocabulary import Role
from storage.crypto import new_key_id, new_key_material
from storage.engine import make_engine
from storage.migrate import upgrade
from storage.models import StaffSecondFactor

WIDTH = 78
SHOWN_METHODS = frozenset({"sendMessage", "sendDocument", "sendPhoto", "editMessageText"})


@dataclass(frozen=True)
class Persona:
    role: Role
    user: LocalUser


PERSONAS = {
    "student": Persona(Role.STUDENT, LocalUser(1001, "Jordan", "Student")),
    "adviser": Persona(Role.ADVISER, LocalUser(2001, "Alex", "Adviser")),
    "coordinator": Persona(Role.COORDINATOR, LocalUser(3001, "Casey", "Coordinator")),
    "security": Persona(Role.SECURITY, LocalUser(4001, "Sam", "Security")),
}
DEMO_GROUP_ID = -100777

GUIDE = """\
You are talking to the real USS Intake Bot; Telegram is played by this terminal.
  type text or /commands   as the current person (try /start)
  1, 2, …  or #1            press button 1, 2, … under the latest message
  /as student|adviser|coordinator|security   become someone else
  /inbox                    everything this person's chat has received
  /sticker /photo /voice /file   send that kind of message
  /forward TEXT  /edit TEXT  send a forwarded or an edited message
  /group TEXT               say TEXT in a group chat the bot is in
  /code [send]              the code this person's authenticator app shows now (send: type it)
  /guide                    this guide        /quit  leave (or Ctrl+D)
Staff were registered for you and still have to acknowledge the policy: /as adviser, /start.
Advisers and the coordinator then set up a second factor: send the code /code shows."""


def _keys_file(directory: Path) -> Path:
    path = directory / "keys.env"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        put_keys(
            path,
            {
                "USS_DATA_KEYS": f"{new_key_id()}:{new_key_material()}",
                "USS_INDEX_KEY": new_key_material(),
                "USS_AUDIT_KEY": new_key_material(),
            },
        )
    elif "USS_AUDIT_KEY=" not in path.read_text(encoding="utf-8"):
        # A demo directory from before the audit chain had its own key.
        put_keys(path, {"USS_AUDIT_KEY": new_key_material()})
    return path


def demo_settings(directory: Path) -> Settings:
    path = _keys_file(directory)
    values = dict(
        line.split("=", 1)
        for line in path.read_text(encoding="utf-8").splitlines()
        if "=" in line and not line.startswith("#")
    )
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite:///{directory}/uss-demo.db",
        data_keys=values["USS_DATA_KEYS"],  # type: ignore[arg-type]
        index_key=values["USS_INDEX_KEY"],  # type: ignore[arg-type]
        audit_key=values["USS_AUDIT_KEY"],  # type: ignore[arg-type]
        service_name="Union Support Service",
    )
    settings.require_private(path, "holds the demo's keys")
    return settings


def render(message: SentMessage, *, edited: bool = False) -> str:
    """A bot message as text, its buttons numbered."""
    lines: list[str] = []
    if message.document is not None:
        name, data, _caption = message.document
        lines.append(f"[file: {name}, {len(data) // 1024 + 1} KB]")
    if message.photo is not None:
        lines.append(f"[image, {len(message.photo) // 1024 + 1} KB: a QR code for your phone]")
    body = message.plain_text or ""
    for paragraph in body.split("\n"):
        lines.extend(textwrap.wrap(paragraph, WIDTH - 4) or [""])
    number = 0
    for row in message.buttons:
        labels = []
        for label, _data in row:
            number += 1
            labels.append(f"[{number}] {label}")
        lines.append("   ".join(labels))
    marker = "bot (updated)" if edited else "bot"
    return f"{marker} ›\n" + "\n".join("    " + line for line in lines)


class Demo:
    """Holds the local Telegram, the application, and who you are right now."""

    def __init__(self, app: App, api: LocalBotApi) -> None:
        self.app = app
        self.api = api
        self.factory = UpdateFactory(api)
        self.persona = PERSONAS["student"]
        self.seen_calls = 0

    def out(self, text: str = "") -> None:
        print(text, flush=True)

    async def deliver(self, payload: dict[str, Any]) -> None:
        await self.app.process_update(Update.de_json(payload, self.app.bot))
        self.show_new()

    def show_new(self) -> None:
        """Print what the bot sent since the last look; mention other people's chats."""
        others: dict[int, int] = {}
        mine = self.persona.user.id
        for call in self.api.calls[self.seen_calls :]:
            if call.ok and call.method == "deleteMessage":
                if int(call.params.get("chat_id", 0)) == mine:
                    self.out(f"    (the bot deleted message {call.params.get('message_id')})")
                continue
            if not call.ok or call.method not in SHOWN_METHODS:
                continue
            chat_id = int(call.params.get("chat_id", 0))
            if chat_id != mine:
                others[chat_id] = others.get(chat_id, 0) + 1
                continue
            message = self.api.find_message(chat_id, int(call.result["message_id"]))
            if message is not None:
                self.out(render(message, edited=call.method == "editMessageText"))
        self.seen_calls = len(self.api.calls)
        for chat_id, count in others.items():
            who = next((k for k, p in PERSONAS.items() if p.user.id == chat_id), str(chat_id))
            self.out(f"    ({count} new message(s) for {who}: /as {who} to read them)")

    async def press(self, number: int) -> None:
        message = self.api.last_message_with_buttons(self.persona.user.id)
        buttons = [b for row in (message.buttons if message else []) for b in row]
        if message is None or not 1 <= number <= len(buttons):
            self.out("    (no button with that number under the latest message)")
            return
        label, data = buttons[number - 1]
        self.out(f"you pressed › {label}")
        await self.deliver(self.factory.callback(self.persona.user, message, data or ""))

    async def handle(self, line: str) -> bool:
        """One line typed at the prompt; False when it is time to leave."""
        user = self.persona.user
        word, _, rest = line.strip().partition(" ")
        if word in ("/quit", "/exit"):
            return False
        if word == "/guide":
            self.out(GUIDE)
        elif word == "/as":
            persona = PERSONAS.get(rest.strip().lower())
            if persona is None:
                self.out("    (choose one of: " + ", ".join(PERSONAS) + ")")
            else:
                self.persona = persona
                name = f"{persona.user.first_name} {persona.user.last_name}"
                self.out(f"    (you are now {name}, {persona.role.value})")
        elif word == "/code":
            code = await self.code()
            if code is None:
                self.out("    (no authenticator app set up for this person yet)")
            elif rest.strip() == "send":
                self.out(f"you typed › {code}")
                await self.deliver(self.factory.text(user, code))
            else:
                self.out(f"    (the authenticator app shows {code})")
        elif word == "/inbox":
            for message in self.api.messages(user.id):
                self.out(render(message))
        elif word.startswith("#") and word[1:].isdigit():
            await self.press(int(word[1:]))
        elif word.isdigit() and not rest and self._button_count() >= int(word) > 0:
            await self.press(int(word))
        elif word in ("/sticker", "/photo", "/voice", "/file"):
            make = {
                "/sticker": self.factory.sticker,
                "/photo": self.factory.photo,
                "/voice": self.factory.voice,
                "/file": self.factory.document,
            }[word]
            await self.deliver(make(user))
        elif word == "/forward":
            await self.deliver(self.factory.text(user, rest or "forwarded text", forwarded=True))
        elif word == "/edit":
            await self.deliver(self.factory.text(user, rest or "edited text", edited=True))
        elif word == "/group":
            await self.deliver(self.factory.group_text(user, DEMO_GROUP_ID, rest or "hello"))
            for message in self.api.messages(DEMO_GROUP_ID)[-1:]:
                self.out("(in the group) " + render(message))
        elif line.startswith("/"):
            command, _, args = line.strip().partition(" ")
            await self.deliver(self.factory.command(user, command, args=args))
        elif line.strip():
            await self.deliver(self.factory.text(user, line))
        return True

    async def code(self) -> str | None:
        """What the current person's authenticator app would show, if they had set one up."""
        deps = self.app.bot_data.deps
        async with deps.uow(read_only=True) as uow:
            member = await staff.find_staff(uow, deps, self.persona.user.id)
            factor = (
                await uow.session.scalar(
                    select(StaffSecondFactor).where(StaffSecondFactor.staff_id == member.id)
                )
                if member is not None
                else None
            )
        secret = deps.cipher.open(factor, "secret_enc", factor.secret_enc) if factor else None
        if not secret:
            return None
        return second_factor.code_for(secret, second_factor.step_at(deps.clock.now()))

    def _button_count(self) -> int:
        message = self.api.last_message_with_buttons(self.persona.user.id)
        return sum(len(row) for row in message.buttons) if message else 0

    def prompt(self) -> str:
        return f"[{self.persona.role.value}] › "


async def _seed_staff(settings: Settings, app: App) -> None:
    deps = app.bot_data.deps
    for persona in PERSONAS.values():
        if persona.role is Role.STUDENT:
            continue
        async with deps.uow() as uow:
            try:
                await staff.add_staff(
                    uow,
                    deps,
                    telegram_user_id=persona.user.id,
                    name=f"{persona.user.first_name} {persona.user.last_name}",
                    role=persona.role,
                    actor="demo",
                )
            except AlreadyStaff:
                continue
            await uow.commit()


async def _main(settings: Settings, directory: Path, lines: list[str] | None) -> int:
    engine = make_engine(settings.database_url)
    await upgrade(
        engine, keys=settings.key_ring(), audit_key=settings.audit_chain_key()
    )  # a demo database kept from before
    api = LocalBotApi()
    app = build_application(settings, clock=SystemClock(), engine=engine, request=LocalRequest(api))
    await app.initialize()
    await _seed_staff(settings, app)
    demo = Demo(app, api)
    demo.seen_calls = len(api.calls)
    demo.out(f"USS Intake Bot: local demo (data in {directory})")
    demo.out(GUIDE)
    demo.out()
    try:
        while True:
            if lines is not None:
                if not lines:
                    break
                line = lines.pop(0)
                demo.out(demo.prompt() + line)
            else:
                try:
                    line = await asyncio.to_thread(input, demo.prompt())
                except EOFError:
                    break
            if not await demo.handle(line):
                break
    finally:
        await app.shutdown()
        await engine.dispose()
    demo.out(f"Bye. Your demo data is kept in {directory} (use --reset to start afresh).")
    return 0


def run_demo(*, reset: bool = False, directory: str = "var/demo") -> int:
    configure_logging("WARNING")
    path = Path(directory)
    if reset and path.exists():
        shutil.rmtree(path)
    settings = demo_settings(path)
    scripted = None if sys.stdin.isatty() else sys.stdin.read().splitlines()
    return asyncio.run(_main(settings, path, scripted))
