"""Long texts Telegram's apps split into several messages, held until they are whole.

A text over 4,096 UTF-16 units is sent as several messages in quick succession, each cut at
or a little before that mark. A message that long may therefore be only the first part: it is
held, sealed in the draft (so a restart loses nothing), and a message from the same student
within the window is joined to it. The whole text is then judged as one answer, so a
fragment is never saved as one. A part nothing follows is judged alone once the window ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.message_parts import TEXT_LIMIT, utf16_length
from bot.services.deps import Deps
from bot.vocabulary import SheetField
from storage.models import InformationSheet

# Apps cut at the limit, or back at the last space or line break before it.
MAY_BE_A_PART_FROM = TEXT_LIMIT - 512
# Parts arrive within a second of each other; the window allows for a slow connection.
WINDOW = timedelta(seconds=5)


@dataclass(frozen=True)
class WaitingPart:
    """The text received so far, for the question it answers, and how long it waits."""

    field: SheetField
    text: str
    until: datetime
    cut_in_a_word: bool  # the last part filled a whole message: the app found no space


def may_be_a_part(text: str) -> bool:
    """Whether Telegram could have cut this message from a longer text."""
    return MAY_BE_A_PART_FROM <= utf16_length(text) <= TEXT_LIMIT


def cut_in_a_word(part: str) -> bool:
    """Whether the app cut this part inside a word, with no white space to drop.

    A part cut at a space ends before the limit, or at it when the space fell just there;
    one that fills the message (to a letter of two units) with no space anywhere near its end
    was cut where the limit fell.
    """
    full = utf16_length(part) >= TEXT_LIMIT - 1
    return full and not any(ch.isspace() for ch in part[-(TEXT_LIMIT - MAY_BE_A_PART_FROM) :])


def join(earlier: WaitingPart, later: str) -> str:
    """The apps drop the white space where they cut at a space: put one back."""
    return f"{earlier.text}{'' if earlier.cut_in_a_word else ' '}{later}"


def waiting_part(deps: Deps, draft: InformationSheet) -> WaitingPart | None:
    if draft.fragment_enc is None or draft.fragment_until is None:
        return None
    held = deps.cipher.open_json(draft, "fragment_enc", draft.fragment_enc)
    return WaitingPart(
        SheetField(held["field"]), held["text"], draft.fragment_until, held["cut_in_a_word"]
    )


def hold(deps: Deps, draft: InformationSheet, part: WaitingPart) -> None:
    draft.fragment_enc = deps.cipher.seal_json(
        draft,
        "fragment_enc",
        {"field": part.field.value, "text": part.text, "cut_in_a_word": part.cut_in_a_word},
    )
    draft.fragment_until = part.until


def release(draft: InformationSheet) -> None:
    draft.fragment_enc = None
    draft.fragment_until = None
