"""Inline keyboards of the case screen: parts, pages, clearing, and what the summary offers."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import case_texts
from bot.callbacks import Action, Press, encode
from bot.case_texts import CasePage
from bot.services.cases.case_actions import Adviser
from bot.services.cases.case_view import DocumentLine, Shown, Summary
from bot.vocabulary import CasePart, CaseStatus

PARTS_PER_ROW = 4


def _button(label: str, press: Press) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=encode(press))


def _part(reference: str, part: CasePart, page: int = 0) -> Press:
    return Press(Action.CASE_PART, case=reference, part=part, page=page)


def _journeys(reference: str) -> list[list[InlineKeyboardButton]]:
    """What may be done with the case, two to a row: each starts the same journey as its
    command, and its press is checked again like the command (the reference is not trusted)."""
    return [
        [
            _button(case_texts.BTN_CASE_NOTE, Press(Action.CASE_NOTE, case=reference)),
            _button(case_texts.BTN_CASE_ATTACH, Press(Action.CASE_ATTACH, case=reference)),
        ],
        [
            _button(case_texts.BTN_CASE_CONSENT, Press(Action.CASE_CONSENT, case=reference)),
            _button(case_texts.BTN_CASE_DISCLOSE, Press(Action.CASE_DISCLOSE, case=reference)),
        ],
    ]


def case_screen(shown: Shown, page: CasePage, number: int, total: int) -> InlineKeyboardMarkup:
    """The buttons under page `number` (from 0) of `total` of one part of a case."""
    reference = shown.reference
    grid: list[list[InlineKeyboardButton]] = []
    if shown.part is CasePart.DOCUMENTS:
        documents: Sequence[DocumentLine] = shown.value  # type: ignore[assignment]
        for item in page.items:
            document = documents[item]
            grid.append(
                [
                    _button(
                        case_texts.btn_document(document.name),
                        Press(
                            Action.CASE_DOCUMENT, case=reference, document_id=document.document_id
                        ),
                    )
                ]
            )
    if shown.part is CasePart.SUMMARY:
        summary: Summary = shown.value  # type: ignore[assignment]
        grid.extend(_journeys(reference))
        actions = []
        if shown.viewer.decides:  # a break-glass reader may read and act, not close or reopen
            actions.append(
                _button(case_texts.BTN_CLOSE_CASE, Press(Action.CASE_CLOSE_ASK, case=reference))
                if summary.status is CaseStatus.OPEN
                else _button(case_texts.BTN_REOPEN_CASE, Press(Action.CASE_REOPEN, case=reference))
            )
        if shown.viewer.coordinator:
            actions.append(
                _button(case_texts.BTN_ASSIGN, Press(Action.CASE_ASSIGN_ASK, case=reference))
            )
        if actions:
            grid.append(actions)
    turns = []
    if number > 0:
        turns.append(_button(case_texts.BTN_PREVIOUS, _part(reference, shown.part, number - 1)))
    if number < total - 1:
        turns.append(_button(case_texts.BTN_NEXT, _part(reference, shown.part, number + 1)))
    if turns:
        grid.append(turns)
    parts = [
        _button(
            f"• {case_texts.PART_LABELS[p]}" if p is shown.part else case_texts.PART_LABELS[p],
            _part(reference, p),
        )
        for p in CasePart
    ]
    grid.extend(parts[i : i + PARTS_PER_ROW] for i in range(0, len(parts), PARTS_PER_ROW))
    grid.append([_button(case_texts.BTN_CLEAR, Press(Action.CASE_CLEAR))])
    return InlineKeyboardMarkup(grid)


def break_glass(reference: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [_button(label, Press(Action.CASE_GLASS, case=reference, glass=reason))]
            for reason, label in case_texts.BREAK_GLASS_LABELS.items()
        ]
    )


def outcomes(reference: str, choices: Sequence[str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [_button(outcome, Press(Action.CASE_CLOSE, index=i, case=reference))]
            for i, outcome in enumerate(choices)
        ]
    )


def advisers(reference: str, choices: Sequence[Adviser]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [_button(a.name, Press(Action.CASE_ASSIGN, staff_id=a.staff_id, case=reference))]
            for a in choices
        ]
    )
