"""The processed-update marker on both engines: inserted first, committed with the effects."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from bot.services.deps import Deps
from bot.services.intake.students import register_student
from storage.models import ProcessedUpdate, Student
from storage.uow import DuplicateUpdate

UPDATE_ID = 77_001


async def markers(deps: Deps) -> list[int]:
    async with deps.uow() as uow:
        return list((await uow.session.execute(select(ProcessedUpdate.update_id))).scalars())


async def effects(deps: Deps) -> int:
    async with deps.uow() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(Student)) or 0)


async def test_a_unit_of_work_that_never_commits_leaves_the_update_unmarked(deps: Deps) -> None:
    async with deps.uow(UPDATE_ID):
        pass
    assert await markers(deps) == []
    async with deps.uow(UPDATE_ID) as uow:
        await uow.commit()
    assert await markers(deps) == [UPDATE_ID]


async def test_an_update_committed_once_is_refused_by_every_later_unit_of_work(
    deps: Deps,
) -> None:
    async with deps.uow(UPDATE_ID) as uow:
        await register_student(uow, deps, 1001)
        await uow.commit()
    for _ in range(3):
        with pytest.raises(DuplicateUpdate):
            async with deps.uow(UPDATE_ID):
                raise AssertionError("a duplicate must not run")
    assert await effects(deps) == 1


async def test_two_copies_of_one_update_at_once_have_one_effect(deps: Deps) -> None:
    started = asyncio.Event()

    async def handle(first: bool) -> str:
        if not first:
            await started.wait()
        try:
            async with deps.uow(UPDATE_ID) as uow:
                started.set()
                await register_student(uow, deps, 1001)
                await asyncio.sleep(0.05)  # still in the transaction when the copy arrives
                await uow.commit()
        except DuplicateUpdate:
            return "refused"
        return "ran"

    outcomes = await asyncio.gather(handle(True), handle(False))

    assert sorted(outcomes) == ["ran", "refused"]
    assert await effects(deps) == 1


async def test_after_a_rollback_the_next_commit_still_marks_the_update(deps: Deps) -> None:
    async with deps.uow(UPDATE_ID) as uow:
        await uow.rollback()
        await register_student(uow, deps, 1001)
        await uow.commit()
    assert await markers(deps) == [UPDATE_ID]
    with pytest.raises(DuplicateUpdate):
        async with deps.uow(UPDATE_ID):
            pass
