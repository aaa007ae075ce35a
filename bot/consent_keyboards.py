"""Buttons for consent recorded by staff and for disclosures, built from the texts and codec."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import case_texts
from bot.callbacks import Action, Press, encode
from bot.services.cases.disclosures import ADVISER_BASES, ADVISER_RECIPIENTS
from bot.vocabulary import ConsentScope, LegalDuty


def _button(label: str, press: Press) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=encode(press))


def _column(*buttons: InlineKeyboardButton) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[b] for b in buttons])


def record_or_ask(case: str) -> InlineKeyboardMarkup:
    return _column(
        _button(case_texts.BTN_RECORD_CONSENT, Press(Action.CONSENT_FOR_RECORD, case=case)),
        _button(case_texts.BTN_ASK_STUDENT, Press(Action.CONSENT_FOR_ASK, case=case)),
    )


def scopes(case: str) -> InlineKeyboardMarkup:
    return _column(
        *(
            _button(case_texts.btn_scope(s), Press(Action.CONSENT_FOR_SCOPE, scope=s, case=case))
            for s in ConsentScope
        )
    )


def decision(case: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                _button(
                    case_texts.BTN_CONSENT_GIVEN,
                    Press(Action.CONSENT_FOR_DECISION, granted=True, case=case),
                ),
                _button(
                    case_texts.BTN_CONSENT_WITHDRAWN,
                    Press(Action.CONSENT_FOR_DECISION, granted=False, case=case),
                ),
            ]
        ]
    )


def channel(case: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                _button(case_texts.BTN_BY_EMAIL, Press(Action.CONSENT_FOR_EMAIL, case=case)),
                _button(case_texts.BTN_VERBALLY, Press(Action.CONSENT_FOR_VERBAL, case=case)),
            ]
        ]
    )


def no_limitation(case: str) -> InlineKeyboardMarkup:
    return _column(
        _button(case_texts.BTN_NO_LIMITATION, Press(Action.CONSENT_FOR_NO_LIMIT, case=case))
    )


def save_consent(case: str) -> InlineKeyboardMarkup:
    return _column(_button(case_texts.BTN_RECORD_IT, Press(Action.CONSENT_FOR_SAVE, case=case)))


def recipients(case: str) -> InlineKeyboardMarkup:
    return _column(
        *(
            _button(
                case_texts.RECIPIENT_LABELS[kind],
                Press(Action.DISCLOSE_RECIPIENT, case=case, recipient=kind),
            )
            for kind in ADVISER_RECIPIENTS
        )
    )


def _basis_buttons(case: str) -> list[InlineKeyboardButton]:
    return [
        _button(case_texts.BASIS_LABELS[b], Press(Action.DISCLOSE_BASIS, case=case, basis=b))
        for b in ADVISER_BASES
    ]


def bases(case: str) -> InlineKeyboardMarkup:
    return _column(*_basis_buttons(case))


def duties(case: str) -> InlineKeyboardMarkup:
    return _column(
        *(
            _button(case_texts.DUTY_LABELS[d], Press(Action.DISCLOSE_DUTY, case=case, duty=d))
            for d in LegalDuty
        )
    )


def within_limitation(case: str) -> InlineKeyboardMarkup:
    return _column(
        _button(case_texts.BTN_WITHIN_LIMIT, Press(Action.DISCLOSE_WITHIN_LIMIT, case=case))
    )


def save_disclosure(case: str) -> InlineKeyboardMarkup:
    return _column(_button(case_texts.BTN_RECORD_IT, Press(Action.DISCLOSE_SAVE, case=case)))


def refused(case: str, scope: ConsentScope | None) -> InlineKeyboardMarkup:
    """Ask the student for the missing consent (if one is), or choose another basis."""
    ask = (
        [_button(case_texts.btn_ask_for(scope), Press(Action.DISCLOSE_ASK, scope=scope, case=case))]
        if scope is not None
        else []
    )
    return _column(*ask, *_basis_buttons(case))
