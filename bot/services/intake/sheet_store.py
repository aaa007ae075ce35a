"""Loading and saving information sheets; answers live sealed in one encrypted JSON field."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import select, update

from bot.services.deps import Deps
from bot.vocabulary import ConsentScope, SheetField, SheetStatus, SheetStep, YesNo
from storage.models import SHEET_ANSWERS_BLOCK, InformationSheet
from storage.uow import NOT_ASKED, UnitOfWork

Answers = dict[SheetField, str | None]
_YES_NO = frozenset(v.value for v in YesNo)
_LONGEST_YES_NO = max(len(v) for v in _YES_NO)


@dataclass(frozen=True)
class SheetView:
    """What a student's sheet looks like now: enough to render any screen of it."""

    sheet_id: str
    status: SheetStatus
    step: SheetStep
    answers: Answers
    editing: bool
    consent_scope: ConsentScope | None
    submitted_at: datetime | None

    def answered(self, field: SheetField) -> bool:
        return field in self.answers


async def current_draft(uow: UnitOfWork, student_id: str) -> InformationSheet | None:
    result = await uow.session.execute(
        select(InformationSheet).where(
            InformationSheet.student_id == student_id,
            InformationSheet.status == SheetStatus.DRAFT.value,
        )
    )
    return result.scalar_one_or_none()


async def latest_submitted_sheet(uow: UnitOfWork, student_id: str) -> InformationSheet | None:
    known = uow.known(("submitted", student_id))
    if known is not NOT_ASKED:
        return cast(InformationSheet | None, known)
    result = await uow.session.execute(
        select(InformationSheet)
        .where(
            InformationSheet.student_id == student_id,
            InformationSheet.status == SheetStatus.SUBMITTED.value,
        )
        .order_by(InformationSheet.submitted_at.desc())
        .limit(1)
    )
    sheet = result.scalar_one_or_none()
    uow.keep(("submitted", student_id), sheet)
    return sheet


def now_submitted(uow: UnitOfWork, sheet: InformationSheet) -> None:
    """A sheet was just submitted: it is the student's latest from now on."""
    uow.keep(("submitted", sheet.student_id), sheet)


def read_answers(deps: Deps, sheet: InformationSheet) -> Answers:
    raw = deps.cipher.open_json(sheet, "answers_enc", sheet.answers_enc)
    return {SheetField(key): value for key, value in raw.items()}


def write_answers(deps: Deps, sheet: InformationSheet, answers: Answers) -> None:
    """Sealed in blocks; the answer on removal from the course is padded as if it were always
    the longer of "yes" and "no", so the sealed sheet's length never depends on it."""
    removed = answers.get(SheetField.REMOVED)
    reserve = _LONGEST_YES_NO - len(removed) if removed in _YES_NO else 0
    sheet.answers_enc = deps.cipher.seal_json(
        sheet,
        "answers_enc",
        {field.value: value for field, value in answers.items()},
        pad_to=SHEET_ANSWERS_BLOCK,
        reserve=reserve,
    )
    number = answers.get(SheetField.STUDENT_NUMBER)
    sheet.student_number_index = deps.student_number_key(number) if number else None
    name = answers.get(SheetField.FULL_NAME)
    sheet.full_name_index = deps.full_name_key(name) if name else None


def view_of(
    deps: Deps, sheet: InformationSheet, consent_order: tuple[ConsentScope, ...]
) -> SheetView:
    step = SheetStep(sheet.step)
    scope = None
    if step is SheetStep.CONSENT and sheet.consent_position < len(consent_order):
        scope = consent_order[sheet.consent_position]
    return SheetView(
        sheet_id=sheet.id,
        status=SheetStatus(sheet.status),
        step=step,
        answers=read_answers(deps, sheet),
        editing=sheet.editing,
        consent_scope=scope,
        submitted_at=sheet.submitted_at,
    )


async def index_names(uow: UnitOfWork, deps: Deps) -> int:
    """Give sheets written before the full-name index existed their index (the caller
    commits); returns how many were indexed. Nothing to do on a database that has them."""
    rows = await uow.session.execute(
        select(InformationSheet).where(InformationSheet.full_name_index.is_(None))
    )
    indexed = 0
    for sheet in rows.scalars():
        name = read_answers(deps, sheet).get(SheetField.FULL_NAME)
        if name:
            await uow.session.execute(
                update(InformationSheet)
                .where(InformationSheet.id == sheet.id)
                .values(full_name_index=deps.full_name_key(name))
            )
            indexed += 1
    return indexed
