"""Splitting messages to Telegram's limits: counted in UTF-16 units, cut only between tokens."""

from __future__ import annotations

import re
from html import escape

from hypothesis import assume, given
from hypothesis import strategies as st

from bot import texts
from bot.message_parts import (
    CAPTION_LIMIT,
    TEXT_LIMIT,
    _tokens,
    read_length,
    split_message,
    split_parts,
    utf16_length,
)
from bot.services.staff.policy import bundled_policy
from bot.transport.html_check import check_html

# Letters of one and two UTF-16 units, the characters HTML escapes, white space.
LETTERS = st.sampled_from(list("ab yz\n\n  <>&\"'é中😀🙂𝔸𐍈"))
PLAIN = st.text(LETTERS, max_size=40).map(escape)
ENTITY = st.sampled_from(["&amp;", "&lt;", "&gt;", "&quot;", "&#128512;", "&#x1F642;", "&#233;"])
TAGS = [
    ("<b>", "</b>"),
    ("<i>", "</i>"),
    ("<u>", "</u>"),
    ("<s>", "</s>"),
    ("<code>", "</code>"),
    ('<a href="https://example.org/?a=1&amp;b=2">', "</a>"),
    ('<span class="tg-spoiler">', "</span>"),
    ("<blockquote>", "</blockquote>"),
]


def _html() -> st.SearchStrategy[str]:
    leaf = st.one_of(PLAIN, ENTITY)
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4).map("".join),
            st.tuples(st.sampled_from(TAGS), inner).map(lambda t: t[0][0] + t[1] + t[0][1]),
        ),
        max_leaves=30,
    )


def _visible_length(html: str) -> int:
    return utf16_length(check_html(html).plain)


def _cut_inside_a_token(before: str) -> bool:
    """Whether text ending like `before` was cut inside a tag or an entity."""
    last_open = before.rfind("<")
    if last_open > before.rfind(">"):
        return True
    return re.search(r"&#?[A-Za-z0-9]*$", before) is not None and not before.endswith("&")


@given(_html(), st.integers(min_value=2, max_value=60))
def test_every_part_fits_parses_and_rejoins_to_the_original(text: str, limit: int) -> None:
    parts = split_parts(text, limit)

    assert "".join(p.body for p in parts) == text
    offset = 0
    for part in parts:
        assert _visible_length(part.html) <= limit
        check_html(part.html)  # valid Telegram HTML on its own: raises if not
        assert re.fullmatch(r"(<[a-z][^<>]*>)*", part.reopened)
        assert re.fullmatch(r"(</[a-z-]+>)*", part.closed)
        offset += len(part.body)
        assert not _cut_inside_a_token(text[:offset])


@given(_html(), st.integers(min_value=2, max_value=60))
def test_split_message_leaves_out_only_parts_a_reader_would_see_as_empty(
    text: str, limit: int
) -> None:
    assume(check_html(text).plain.strip())
    every = [p.html for p in split_parts(text, limit)]

    sent = split_message(text, limit)

    assert sent == [p for p in every if check_html(p).plain.strip()]
    assert all(_visible_length(p) <= limit for p in sent)


def test_text_of_emoji_at_the_limit_is_split_by_telegrams_count() -> None:
    text = "😀" * TEXT_LIMIT  # 4,096 characters, 8,192 UTF-16 units

    parts = split_message(text)

    assert [utf16_length(p) for p in parts] == [TEXT_LIMIT, TEXT_LIMIT]


def test_escaped_angle_brackets_are_never_cut_inside_their_entity() -> None:
    text = "&lt;" * 1000

    parts = split_message(text, limit=333)

    assert all(re.fullmatch(r"(&lt;)+", p) for p in parts)
    assert sum(len(check_html(p).plain) for p in parts) == 1000


def test_bold_text_cut_in_two_is_closed_and_reopened() -> None:
    text = "<b>" + "word " * 30 + "</b>"

    first, second = split_message(text, limit=100)

    assert first.startswith("<b>") and first.endswith("</b>")
    assert second.startswith("<b>") and second.endswith("</b>")
    assert first.rstrip("</b>").endswith(" ")  # cut after a space, never inside a word


def test_a_long_run_of_white_space_sends_no_empty_part() -> None:
    text = "start" + "\n" * 50 + "end"

    parts = split_message(text, limit=10)

    assert all(check_html(p).plain.strip() for p in parts)
    assert "".join(check_html(p).plain for p in parts).split() == ["start", "end"]


def test_every_caption_the_bot_sends_fits_telegrams_caption_limit() -> None:
    captions = [texts.policy_required(bundled_policy().version), texts.CALENDAR_CAPTION]

    assert all(_visible_length(c) <= CAPTION_LIMIT for c in captions)


@given(st.one_of(_html(), st.text(LETTERS, max_size=60)))
def test_the_length_of_a_whole_message_is_counted_as_telegram_reads_it(html: str) -> None:
    """The short cut taken for a message that fits counts exactly what the parts would."""
    assert read_length(html) == sum(utf16_length(p) for p in _plain_parts(html))


@given(_html())
def test_the_length_of_valid_html_is_what_telegram_would_show(html: str) -> None:
    assert read_length(html) == _visible_length(html)


def _plain_parts(html: str) -> list[str]:
    return [token.plain for token in _tokens(html)]


def test_a_message_that_fits_is_sent_as_it_is_and_one_that_does_not_is_cut() -> None:
    fits = "<b>" + "😀" * (TEXT_LIMIT // 2) + "</b>"  # 4,096 units as read, more as written
    assert split_message(fits) == [fits]
    assert len(split_message(fits + "!")) == 2
