"""The unit of work of an update: one transaction, with commit points a later error keeps."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot.services.deps import Deps
from bot.services.intake.students import find_student, register_student
from storage.models import ProcessedUpdate, Student
from storage.uow import DuplicateUpdate


async def _counts(deps: Deps) -> tuple[int, int]:
    """Read beside a unit of work still open (on SQLite, a reader does not wait for it)."""
    async with deps.uow(read_only=True) as uow:
        students = await uow.session.scalar(select(func.count()).select_from(Student))
        markers = await uow.session.scalar(select(func.count()).select_from(ProcessedUpdate))
    return int(students or 0), int(markers or 0)


async def test_a_commit_point_survives_a_later_failure_and_finish_commits_it_once(
    deps: Deps,
) -> None:
    async with deps.uow(7, one_transaction=True) as uow:
        await register_student(uow, deps, 1)
        await uow.commit()  # a point, not yet durable
        assert await _counts(deps) == (0, 0)
        first = await find_student(uow, deps, 1)
        assert first is not None
        # A second row with the same blind index breaks a unique constraint at flush.
        uow.session.add(Student(telegram_index=first.telegram_index, telegram_id_enc=b"x"))
        with pytest.raises(IntegrityError):
            await uow.session.flush()
        await uow.rollback()  # back to the point: the first student and the marker stay
        await register_student(uow, deps, 2)
        await uow.commit()
        await uow.finish()
    assert await _counts(deps) == (2, 1)


async def test_finish_commits_everything_done_with_the_marker_once(deps: Deps) -> None:
    async with deps.uow(8, one_transaction=True) as uow:
        await register_student(uow, deps, 3)
        await uow.commit()
        await register_student(uow, deps, 4)  # after the last point: still the update's work
        await uow.finish()
    assert await _counts(deps) == (2, 1)
    with pytest.raises(DuplicateUpdate):
        async with deps.uow(8, one_transaction=True):
            pass


async def test_abandoning_an_update_keeps_nothing_not_even_its_marker(deps: Deps) -> None:
    async with deps.uow(9, one_transaction=True) as uow:
        await register_student(uow, deps, 5)
        await uow.abandon()
        await uow.finish()  # nothing left to commit
    assert await _counts(deps) == (0, 0)
    async with deps.uow(9, one_transaction=True) as uow:  # a redelivery goes ahead
        await uow.finish()
    assert await _counts(deps) == (0, 1)


async def test_a_failed_commit_goes_back_to_the_last_point_and_the_update_goes_on(
    deps: Deps,
) -> None:
    async with deps.uow(10, one_transaction=True) as uow:
        first = await register_student(uow, deps, 6)
        await uow.commit()
        uow.session.add(Student(telegram_index=first.telegram_index, telegram_id_enc=b"x"))
        with pytest.raises(IntegrityError):
            await uow.commit()  # as a service that catches the error and carries on would
        await register_student(uow, deps, 7)
        await uow.commit()
        await uow.finish()
    assert await _counts(deps) == (2, 1)


async def test_what_a_lookup_found_is_forgotten_at_a_rollback(deps: Deps) -> None:
    async with deps.uow(one_transaction=True) as uow:
        assert await find_student(uow, deps, 4) is None
        await register_student(uow, deps, 4)
        assert await find_student(uow, deps, 4) is not None  # kept by the registration
        await uow.rollback()
        assert await find_student(uow, deps, 4) is None  # asked again, and rolled back
