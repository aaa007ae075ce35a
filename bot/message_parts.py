"""Telegram's length limits, counted as Telegram counts them, and HTML split to fit them.

Telegram measures a message after parsing its HTML, in UTF-16 code units: an emoji or any
letter outside the Basic Multilingual Plane counts twice. A long message is cut between
tokens only (never inside a tag or an entity such as ``&lt;``), preferably at a line break,
else at a space; tags open at a cut are closed at the end of that part and opened again at
the start of the next, so every part is valid HTML on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_BYTES = 64

_TOKEN = re.compile(
    r"<(/?)([A-Za-z][A-Za-z0-9-]*)[^<>]*>|&(?:#\d+|#x[0-9A-Fa-f]+|[A-Za-z]+);|.", re.DOTALL
)


# The tags and entities of _TOKEN: what parsing removes or replaces.
_MARKUP = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)[^<>]*>|&(?:#\d+|#x[0-9A-Fa-f]+|[A-Za-z]+);")


def read_length(html: str) -> int:
    """The length Telegram counts for `html`: its text once parsed, in UTF-16 code units."""
    plain = _MARKUP.sub(lambda m: "" if m.group(2) is not None else unescape(m.group(0)), html)
    return utf16_length(plain)


def utf16_length(text: str) -> int:
    """Telegram counts message length in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class _Token:
    raw: str
    plain: str  # what the reader sees of it ("" for a tag)
    opens: str | None = None  # the tag name this token opens
    closes: str | None = None  # the tag name this token closes

    @property
    def units(self) -> int:
        return utf16_length(self.plain)


def _tokens(text: str) -> list[_Token]:
    found: list[_Token] = []
    for match in _TOKEN.finditer(text):
        raw = match.group(0)
        if match.group(2) is not None:
            name = match.group(2).lower()
            closing = bool(match.group(1))
            found.append(
                _Token(raw, "", closes=name if closing else None, opens=None if closing else name)
            )
        elif raw.startswith("&") and len(raw) > 1:
            found.append(_Token(raw, unescape(raw)))
        else:
            found.append(_Token(raw, raw))
    return found


OpenTags = tuple[tuple[str, str], ...]  # (name, the opening tag as written), outermost first


@dataclass(frozen=True)
class MessagePart:
    """One part of a split message: `body` is a slice of the original text."""

    reopened: str  # opening tags carried over from the previous part
    body: str
    closed: str  # closing tags for what is still open at the cut

    @property
    def html(self) -> str:
        return f"{self.reopened}{self.body}{self.closed}"


def _after(stack: OpenTags, token: _Token) -> OpenTags:
    if token.opens is not None:
        return (*stack, (token.opens, token.raw))
    if token.closes is not None:
        for depth in range(len(stack) - 1, -1, -1):
            if stack[depth][0] == token.closes:
                return stack[:depth]
    return stack


def _cut(tokens: list[_Token], start: int, stack: OpenTags, limit: int) -> tuple[int, OpenTags]:
    """Where the part beginning at `start` ends, and the tags open there."""
    stacks: list[OpenTags] = []
    units = 0
    seen_content = False
    line_break = space = None
    for i in range(start, len(tokens)):
        token = tokens[i]
        stacks.append(stack)
        if units + token.units > limit and i > start:
            end = line_break or space or i
            # Leave opening tags that nothing follows yet for the next part.
            while end - 1 > start and tokens[end - 1].opens is not None:
                end -= 1
            return end, stacks[end - start]
        units += token.units
        stack = _after(stack, token)
        if seen_content and token.plain == "\n":
            line_break = i + 1
        elif seen_content and token.plain == " ":
            space = i + 1
        seen_content = seen_content or bool(token.plain.strip())
    return len(tokens), stack


def split_parts(text: str, limit: int = TEXT_LIMIT) -> list[MessagePart]:
    """Cut `text` (Telegram HTML) into parts of at most `limit` UTF-16 units as read."""
    if limit < 2:
        raise ValueError("a part must have room for one character of two units")
    tokens = _tokens(text)
    parts: list[MessagePart] = []
    start = 0
    stack: OpenTags = ()
    while start < len(tokens):
        end, open_at_end = _cut(tokens, start, stack, limit)
        chunk = tokens[start:end]
        part = MessagePart(
            reopened="".join(raw for _, raw in stack),
            body="".join(t.raw for t in chunk),
            closed="".join(f"</{name}>" for name, _ in reversed(open_at_end)),
        )
        parts.append(part)
        start, stack = end, open_at_end
    return parts or [MessagePart("", text, "")]


def split_message(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """The parts to send for `text`, leaving out parts a reader would see as empty."""
    if read_length(text) <= limit:
        return [text]  # the usual case, without cutting it into tokens
    parts = [p.html for p in split_parts(text, limit)]
    visible = [p for p in parts if _visible(p)]
    return visible or parts[:1]


def _visible(html: str) -> bool:
    return any(t.plain.strip() for t in _tokens(html))
