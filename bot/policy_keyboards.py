"""Buttons of the policy cycle: publishing a version, turning the register's pages."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import case_texts, policy_texts
from bot.callbacks import Action, Press, encode


def _button(label: str, press: Press) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=encode(press))


def use_version(suggested: str) -> InlineKeyboardMarkup:
    label = policy_texts.btn_use_version(suggested)
    return InlineKeyboardMarkup([[_button(label, Press(Action.POLICY_USE_VERSION))]])


def publish_or_discard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                _button(policy_texts.BTN_PUBLISH, Press(Action.POLICY_PUBLISH_CONFIRMED)),
                _button(policy_texts.BTN_DISCARD, Press(Action.POLICY_PUBLISH_DISCARD)),
            ]
        ]
    )


def register_pages(page: int, total: int) -> InlineKeyboardMarkup | None:
    """Previous and Next under a page of the register (pages count from 0)."""
    turns = []
    if page > 0:
        turns.append(
            _button(case_texts.BTN_PREVIOUS, Press(Action.POLICY_SIGNATURES_PAGE, page=page - 1))
        )
    if page + 1 < total:
        turns.append(
            _button(case_texts.BTN_NEXT, Press(Action.POLICY_SIGNATURES_PAGE, page=page + 1))
        )
    return InlineKeyboardMarkup([turns]) if turns else None
