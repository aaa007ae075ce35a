"""Finding and registering students by their Telegram account (through the blind index)."""

from __future__ import annotations

from typing import cast

from sqlalchemy import select

from bot.services.deps import Deps
from bot.vocabulary import YesNo
from storage import data_keys
from storage.crypto import Owner, OwnerKind
from storage.models import REMOVED_FLAG_BYTES, Appointment, Student
from storage.uow import NOT_ASKED, UnitOfWork


async def find_student(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> Student | None:
    key = deps.telegram_key(telegram_user_id)
    known = uow.known(("student", key))
    if known is not NOT_ASKED:
        return cast(Student | None, known)
    result = await uow.session.execute(select(Student).where(Student.telegram_index == key))
    student = result.scalar_one_or_none()
    uow.keep(("student", key), student)
    return student


async def register_student(uow: UnitOfWork, deps: Deps, telegram_user_id: int) -> Student:
    """Return the student for this account, creating the row on first contact."""
    student = await find_student(uow, deps, telegram_user_id)
    now = deps.clock.now()
    if student is None:
        student = Student(
            telegram_index=deps.telegram_key(telegram_user_id),
            created_at=now,
            last_activity_at=now,
        )
        data_keys.create(uow.session, deps.cipher.keys, Owner(OwnerKind.STUDENT, student.id), now)
        await data_keys.bind(uow.session, student)
        student.telegram_id_enc = _sealed(deps, student, telegram_user_id)
        seal_removed_flag(deps, student, None)
        uow.session.add(student)
        # Rows that refer to the student may follow in this unit of work; without ORM
        # relationships the flush would not know to insert the student first.
        await uow.session.flush()
        uow.keep(("student", student.telegram_index), student)
    else:
        student.last_activity_at = now
    return student


def _sealed(deps: Deps, student: Student, telegram_user_id: int) -> bytes:
    token = deps.cipher.seal(student, "telegram_id_enc", str(telegram_user_id))
    assert token is not None
    return token


def seal_removed_flag(deps: Deps, student: Student, flag: YesNo | None) -> None:
    """Keep whether the student was removed from their course (None: not said yet), sealed and
    padded to one length for every value."""
    value = flag.value if flag is not None else ""
    student.removed_enc = deps.cipher.seal_padded(student, "removed_enc", value, REMOVED_FLAG_BYTES)


def removed_flag(deps: Deps, student: Student) -> YesNo | None:
    value = deps.cipher.open_padded(student, "removed_enc", student.removed_enc)
    return YesNo(value) if value else None


async def upcoming_appointments(uow: UnitOfWork, deps: Deps, student_id: str) -> list[Appointment]:
    """A student's booked appointments that have not ended yet, soonest first."""
    rows = await uow.session.execute(
        select(Appointment)
        .where(
            Appointment.student_id == student_id,
            Appointment.is_booked,
            Appointment.ends_at > deps.clock.now(),
        )
        .order_by(Appointment.starts_at)
    )
    return list(rows.scalars())


def student_chat_id(deps: Deps, student: Student) -> int:
    """The private chat to write to (in a private chat, the chat id is the user id)."""
    return int(deps.cipher.open(student, "telegram_id_enc", student.telegram_id_enc) or 0)
