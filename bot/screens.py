"""What a student sees at each step of the sheet: one text and its keyboard."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import InlineKeyboardMarkup

from bot import keyboards, texts
from bot.services.intake.consent import SCOPES
from bot.services.intake.sheet import FIELD_ORDER, QuestionKind, SheetRules, question
from bot.services.intake.sheet_store import SheetView
from bot.vocabulary import ConsentScope, SheetField, SheetStep


@dataclass(frozen=True)
class Screen:
    text: str
    markup: InlineKeyboardMarkup | None = None


def question_screen(field: SheetField, rules: SheetRules) -> Screen:
    position = FIELD_ORDER.index(field) + 1
    body = texts.prompt(
        field, number_hint=rules.student_number_hint, description_max=rules.description_max
    )
    text = f"{texts.question_header(position, len(FIELD_ORDER))}\n{body}"
    q = question(field)
    if q.kind is QuestionKind.CHOICE:
        return Screen(text, keyboards.choices(field, rules.choices(field), skippable=q.optional))
    return Screen(text, keyboards.skip(field) if q.optional else None)


def review_screen(view: SheetView) -> Screen:
    text = f"{texts.REVIEW_INTRO}\n\n{texts.answers_block(view.answers, FIELD_ORDER)}"
    return Screen(text, keyboards.review(FIELD_ORDER))


def consent_screen(scope: ConsentScope) -> Screen:
    position = SCOPES.index(scope) + 1
    text = texts.consent_question(scope, position, len(SCOPES))
    if position == 1:
        text = f"{texts.CONSENT_INTRO}\n\n{text}"
    return Screen(text, keyboards.sheet_consent(scope))


def sheet_screen(view: SheetView, rules: SheetRules, service_name: str) -> Screen:
    """The screen for wherever the student is now."""
    if view.step is SheetStep.REVIEW:
        return review_screen(view)
    if view.step is SheetStep.CONSENT and view.consent_scope is not None:
        return consent_screen(view.consent_scope)
    field = view.step.field
    if field is not None:
        return question_screen(field, rules)
    return Screen(texts.submitted(service_name), keyboards.book_start())


def resume_text(view: SheetView) -> str:
    if view.step is SheetStep.REVIEW:
        return texts.RESUME_AT_REVIEW
    if view.step is SheetStep.CONSENT:
        return texts.RESUME_AT_CONSENT
    field = view.step.field or FIELD_ORDER[0]
    return texts.resume(FIELD_ORDER.index(field) + 1, len(FIELD_ORDER))


def consents_html(states: dict[ConsentScope, bool | None]) -> str:
    lines = "\n".join(f"• {texts.consent_answered(s, g)}" for s, g in states.items())
    return f"<b>Consent choices</b>\n{lines}"
