"""Inline keyboards, built from texts and the callback codec."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import texts
from bot.callbacks import Action, Press, encode
from bot.services.staff import StaffSummary
from bot.vocabulary import ConsentScope, SheetField


def _button(label: str, press: Press) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=encode(press))


def rows(*buttons: InlineKeyboardButton, per_row: int = 1) -> InlineKeyboardMarkup:
    grid = [list(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row)]
    return InlineKeyboardMarkup(grid)


def privacy() -> InlineKeyboardMarkup:
    return rows(
        _button(texts.BTN_CONTINUE, Press(Action.PRIVACY_CONTINUE)),
        _button(texts.BTN_NOT_NOW, Press(Action.PRIVACY_NOT_NOW)),
        per_row=2,
    )


def resume() -> InlineKeyboardMarkup:
    return rows(
        _button(texts.BTN_RESUME, Press(Action.RESUME)),
        _button(texts.BTN_START_OVER, Press(Action.START_OVER)),
    )


def start_over_confirm() -> InlineKeyboardMarkup:
    return rows(
        _button(texts.BTN_START_OVER_CONFIRM, Press(Action.START_OVER_CONFIRMED)),
        _button(texts.BTN_KEEP_GOING, Press(Action.RESUME)),
    )


def choices(field: SheetField, values: Sequence[str], *, skippable: bool) -> InlineKeyboardMarkup:
    buttons = [
        _button(texts.choice_label(field, value), Press(Action.CHOOSE, field=field, index=i))
        for i, value in enumerate(values)
    ]
    per_row = 2 if len(buttons) > 3 else 1
    grid = [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]
    if skippable:
        grid.append([_button(texts.BTN_SKIP, Press(Action.SKIP, field=field))])
    return InlineKeyboardMarkup(grid)


def skip(field: SheetField) -> InlineKeyboardMarkup:
    return rows(_button(texts.BTN_SKIP, Press(Action.SKIP, field=field)))


def review(fields: Sequence[SheetField]) -> InlineKeyboardMarkup:
    edit = [_button(texts.btn_change(f), Press(Action.EDIT, field=f)) for f in fields]
    grid = [edit[i : i + 2] for i in range(0, len(edit), 2)]
    grid.append([_button(texts.BTN_REVIEW_OK, Press(Action.REVIEW_OK))])
    return InlineKeyboardMarkup(grid)


def sheet_consent(scope: ConsentScope) -> InlineKeyboardMarkup:
    return rows(
        _button(texts.BTN_YES, Press(Action.SHEET_CONSENT, scope=scope, granted=True)),
        _button(texts.BTN_NO, Press(Action.SHEET_CONSENT, scope=scope, granted=False)),
        per_row=2,
    )


def consent_overview(scopes: Sequence[ConsentScope]) -> InlineKeyboardMarkup:
    buttons = [
        _button(texts.btn_consent_change(s), Press(Action.CONSENT_OPEN, scope=s)) for s in scopes
    ]
    buttons.append(_button(texts.BTN_DONE, Press(Action.CONSENT_CLOSE)))
    return rows(*buttons)


def consent_change(scope: ConsentScope) -> InlineKeyboardMarkup:
    return rows(
        _button(texts.BTN_YES, Press(Action.CONSENT_SET, scope=scope, granted=True)),
        _button(texts.BTN_NO, Press(Action.CONSENT_SET, scope=scope, granted=False)),
        per_row=2,
    )


def discard_confirm() -> InlineKeyboardMarkup:
    return rows(
        _button(texts.BTN_DISCARD, Press(Action.DISCARD_CONFIRMED)),
        _button(texts.BTN_KEEP, Press(Action.DISCARD_KEEP)),
        per_row=2,
    )


def policy_ack() -> InlineKeyboardMarkup:
    return rows(_button(texts.BTN_ACK_POLICY, Press(Action.POLICY_ACK)))


def staff_list(members: Sequence[StaffSummary], own_id: str) -> InlineKeyboardMarkup | None:
    buttons = [
        _button(
            texts.btn_deactivate(m.name)[:60], Press(Action.DEACTIVATE_ASK, staff_id=m.staff_id)
        )
        for m in members
        if m.active and m.staff_id != own_id
    ]
    if not buttons:
        return None
    buttons.append(_button(texts.BTN_DONE, Press(Action.STAFF_CLOSE)))
    return rows(*buttons)


def deactivate_confirm(staff_id: str) -> InlineKeyboardMarkup:
    return rows(
        _button(texts.BTN_DEACTIVATE, Press(Action.DEACTIVATE_CONFIRMED, staff_id=staff_id)),
        _button(texts.BTN_CANCEL, Press(Action.STAFF_CLOSE)),
        per_row=2,
    )
