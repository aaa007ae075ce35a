"""The buttons of case notes: Done, the kinds, Save or Cancel."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import case_texts
from bot.callbacks import Action, Press, encode
from bot.vocabulary import NoteKind


def _button(label: str, press: Press) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=encode(press))


def done(reference: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[_button(case_texts.BTN_NOTE_DONE, Press(Action.NOTE_DONE, case=reference))]]
    )


def kinds(reference: str) -> InlineKeyboardMarkup:
    buttons = [
        _button(
            case_texts.NOTE_KIND_LABELS[kind],
            Press(Action.NOTE_KIND, case=reference, note_kind=kind),
        )
        for kind in NoteKind
    ]
    return InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)])


def save_or_discard(reference: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                _button(case_texts.BTN_NOTE_SAVE, Press(Action.NOTE_SAVE, case=reference)),
                _button(case_texts.BTN_NOTE_DISCARD, Press(Action.NOTE_DISCARD, case=reference)),
            ]
        ]
    )
