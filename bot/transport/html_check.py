"""Telegram's HTML parse mode, checked the way the Bot API checks it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape

from bot.message_parts import utf16_length as utf16_length  # Telegram's measure

ALLOWED = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-emoji",
}
_TOKEN = re.compile(
    r"<(/?)([A-Za-z][A-Za-z0-9-]*)((?:\s+[^<>]*)?)\s*(/?)>|<|&(#\d+|#x[0-9A-Fa-f]+|[A-Za-z]+);|&"
)
_NAMED = {"lt", "gt", "amp", "quot"}
PREFIX = "Bad Request: can't parse entities: "


class HtmlError(ValueError):
    """Text that Telegram would refuse to parse; the message is Telegram's description."""


@dataclass(frozen=True)
class Parsed:
    plain: str


def check_html(text: str) -> Parsed:
    """Validate like Telegram; return the text as the reader sees it (tags gone, entities read)."""
    stack: list[str] = []
    plain: list[str] = []
    position = 0
    for match in _TOKEN.finditer(text):
        plain.append(text[position : match.start()])
        position = match.end()
        piece = match.group(0)
        offset = len(text[: match.start()].encode("utf-8"))
        if piece == "<":
            raise HtmlError(f"{PREFIX}Unexpected character '<' at byte offset {offset}")
        if piece == "&":
            plain.append("&")  # a bare ampersand is tolerated by Telegram
            continue
        if piece.startswith("&"):
            entity = match.group(5)
            if not entity.startswith("#") and entity not in _NAMED:
                raise HtmlError(f"{PREFIX}Unsupported HTML entity at byte offset {offset}")
            plain.append(unescape(piece))
            continue
        closing, name, attributes = match.group(1), match.group(2).lower(), match.group(3) or ""
        if name not in ALLOWED:
            raise HtmlError(f'{PREFIX}Unsupported start tag "{name}" at byte offset {offset}')
        if closing:
            if not stack or stack[-1] != name:
                raise HtmlError(f"{PREFIX}Unexpected end tag at byte offset {offset}")
            stack.pop()
            continue
        if name == "a" and "href" not in attributes:
            raise HtmlError(f"{PREFIX}Can't find href in the a tag at byte offset {offset}")
        if name == "span" and "tg-spoiler" not in attributes:
            raise HtmlError(
                f'{PREFIX}Tag "span" must have class "tg-spoiler" at byte offset {offset}'
            )
        stack.append(name)
    plain.append(text[position:])
    if stack:
        raise HtmlError(f'{PREFIX}Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return Parsed("".join(plain))
