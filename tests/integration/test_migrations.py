"""The migrations build exactly the schema the models describe, on both engines."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.services.cases import cases
from bot.services.deps import Deps
from bot.services.intake import consent
from bot.services.intake.sheet_store import latest_submitted_sheet, read_answers
from bot.services.intake.students import removed_flag, seal_removed_flag
from bot.services.notices import security
from bot.vocabulary import ConsentScope, SheetField, YesNo
from storage.crypto import FieldContext, KeyRing, sealed_under_data_key
from storage.engine import make_sessions
from storage.migrate import KeysNeeded, current_revision, downgrade, head_revision, upgrade
from storage.models import (
    Appointment,
    Base,
    Case,
    DataKey,
    OutboxMessage,
    Student,
    UTCDateTime,
)
from tests.conftest import START, Database, unmigrated_engine


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_the_database_is_at_the_newest_revision(engine: AsyncEngine) -> None:
    assert await current_revision(engine) == head_revision()


async def test_models_and_migrations_agree(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        differences = await connection.run_sync(_differences)
    assert differences == []


# ---------------------------------------------------------------- 0009: fixed shape

LEGACY_TOLD = {
    "listed": {"day": "2026-12-01", "end": "10:45:00", "start": "10:00:00"},
    "version": 1,
}


def _legacy_tables() -> dict[str, sa.TableClause]:
    """The tables 0009 converts, as they stand at revision 0007."""
    when = UTCDateTime()
    return {
        "staff": sa.table(
            "staff",
            *(sa.column(c, sa.String) for c in ("id", "telegram_index", "role")),
            sa.column("telegram_id_enc", sa.LargeBinary),
            sa.column("name_enc", sa.LargeBinary),
            sa.column("active", sa.Boolean),
            sa.column("created_at", when),
        ),
        "students": sa.table(
            "students",
            sa.column("id", sa.String),
            sa.column("telegram_index", sa.String),
            sa.column("telegram_id_enc", sa.LargeBinary),
            sa.column("created_at", when),
            sa.column("last_activity_at", when),
            sa.column("removed_enc", sa.LargeBinary),
        ),
        "information_sheets": sa.table(
            "information_sheets",
            *(sa.column(c, sa.String) for c in ("id", "student_id", "status", "step")),
            sa.column("editing", sa.Boolean),
            sa.column("consent_position", sa.Integer),
            sa.column("answers_enc", sa.LargeBinary),
            *(sa.column(c, when) for c in ("created_at", "updated_at", "submitted_at")),
        ),
        "consent_entries": sa.table(
            "consent_entries",
            *(sa.column(c, sa.String) for c in ("id", "student_id", "scope", "channel")),
            *(sa.column(c, sa.String) for c in ("wording_version", "wording_sha256")),
            sa.column("position", sa.Integer),
            sa.column("granted", sa.Boolean),
            sa.column("recorded_at", when),
        ),
        "appointments": sa.table(
            "appointments",
            *(sa.column(c, sa.String) for c in ("id", "student_id", "staff_id", "mode", "status")),
            sa.column("sequence", sa.Integer),
            *(sa.column(c, when) for c in ("starts_at", "ends_at", "created_at", "updated_at")),
            sa.column("security_enc", sa.LargeBinary),
        ),
        "outbox": sa.table(
            "outbox",
            *(sa.column(c, sa.String) for c in ("id", "kind", "dedupe_key", "ordering_key")),
            sa.column("status", sa.String),
            sa.column("position", sa.Integer),
            sa.column("attempts", sa.Integer),
            *(sa.column(c, sa.LargeBinary) for c in ("recipient_enc", "body_enc")),
            *(sa.column(c, when) for c in ("created_at", "next_attempt_at", "sent_at")),
        ),
    }


def _seal(keys: KeyRing, table: str, column: str, row_id: str, value: object) -> bytes:
    data = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return keys.encrypt(data.encode(), FieldContext(table, column, row_id))


async def _legacy_rows(engine: AsyncEngine, keys: KeyRing) -> None:
    """Two students as 0007 stored them: one removed (said by staff), one not yet known."""
    t, now = _legacy_tables(), START
    answers = {"full_name": "Sam Jones", "removed": "yes"}
    async with engine.begin() as conn:
        await conn.execute(
            t["staff"]
            .insert()
            .values(
                id="a" * 32,
                telegram_index="ta",
                role="adviser",
                telegram_id_enc=_seal(keys, "staff", "telegram_id_enc", "a" * 32, "2001"),
                name_enc=_seal(keys, "staff", "name_enc", "a" * 32, "Alex"),
                active=True,
                created_at=now,
            )
        )
        for sid, removed in (("s" * 32, "yes"), ("u" * 32, None)):
            flag = None if removed is None else _seal(keys, "students", "removed_enc", sid, removed)
            await conn.execute(
                t["students"]
                .insert()
                .values(
                    id=sid,
                    telegram_index=f"t{sid[0]}",
                    telegram_id_enc=_seal(keys, "students", "telegram_id_enc", sid, "1001"),
                    created_at=now,
                    last_activity_at=now,
                    removed_enc=flag,
                )
            )
            sheet = f"h{sid[1:]}"
            await conn.execute(
                t["information_sheets"]
                .insert()
                .values(
                    id=sheet,
                    student_id=sid,
                    status="submitted",
                    step="submitted",
                    editing=False,
                    consent_position=5,
                    answers_enc=_seal(keys, "information_sheets", "answers_enc", sheet, answers),
                    created_at=now,
                    updated_at=now,
                    submitted_at=now,
                )
            )
            for position, (scope, granted) in enumerate((("external", True), ("school", False))):
                await conn.execute(
                    t["consent_entries"]
                    .insert()
                    .values(
                        id=f"c{position}{sid[2:]}",
                        student_id=sid,
                        scope=scope,
                        channel="information_sheet",
                        wording_version="1",
                        wording_sha256="0" * 64,
                        position=position + 1,
                        granted=granted,
                        recorded_at=now,
                    )
                )
            appointment = f"p{sid[1:]}"
            told = _seal(keys, "appointments", "security_enc", appointment, LEGACY_TOLD)
            await conn.execute(
                t["appointments"]
                .insert()
                .values(
                    id=appointment,
                    student_id=sid,
                    staff_id="a" * 32,
                    mode="in_person",
                    status="booked",
                    sequence=0,
                    starts_at=datetime(2026, 12, 1, 10 if removed else 11, tzinfo=UTC),
                    ends_at=datetime(2026, 12, 1, 10 if removed else 11, 45, tzinfo=UTC),
                    created_at=now,
                    updated_at=now,
                    security_enc=told if removed else None,
                )
            )
        for mid, kind, status in (
            ("m" * 32, "security_notice", "sent"),
            ("n" * 32, "adviser_summary", "sent"),
            ("w" * 32, "security_notice", "pending"),
        ):
            pending = status == "pending"
            await conn.execute(
                t["outbox"]
                .insert()
                .values(
                    id=mid,
                    kind=kind,
                    dedupe_key=f"d{mid[0]}",
                    ordering_key=f"o{mid[0]}",
                    status=status,
                    position=1,
                    attempts=0,
                    recipient_enc=_seal(keys, "outbox", "recipient_enc", mid, "4001")
                    if pending
                    else None,
                    body_enc=_seal(keys, "outbox", "body_enc", mid, "On campus")
                    if pending
                    else None,
                    created_at=now,
                    next_attempt_at=now,
                    sent_at=None if pending else now,
                )
            )


@pytest.fixture
async def at_0007(database: Database, tmp_path: object) -> AsyncIterator[AsyncEngine]:
    async with unmigrated_engine(database.kind, tmp_path, "uss-0007") as engine:
        await upgrade(engine, "0007")
        yield engine


async def test_0009_seals_existing_rows_to_one_shape_with_the_keys(
    at_0007: AsyncEngine, keys: KeyRing, deps: Deps
) -> None:
    await _legacy_rows(at_0007, keys)
    await upgrade(at_0007, keys=keys, audit_key=deps.audit_key)
    assert await current_revision(at_0007) == head_revision()
    old = Deps(
        make_sessions(at_0007), deps.cipher, deps.index, deps.clock, deps.settings, deps.audit_key
    )
    async with old.uow() as uow:
        removed = await uow.session.get(Student, "s" * 32)
        unknown = await uow.session.get(Student, "u" * 32)
        assert removed is not None and unknown is not None
        assert removed_flag(old, removed) is YesNo.YES
        assert removed_flag(old, unknown) is None  # not said by staff: the sheet still decides
        assert await security.is_removed(uow, old, unknown) is True
        assert len(removed.removed_enc) == len(unknown.removed_enc)
        told = await uow.session.get(Appointment, "p" + "s" * 31)
        nothing = await uow.session.get(Appointment, "p" + "u" * 31)
        assert told is not None and nothing is not None
        assert len(told.security_enc) == len(nothing.security_enc)
        assert old.cipher.open_json(told, "security_enc", told.security_enc) == LEGACY_TOLD
        assert old.cipher.open_json(nothing, "security_enc", nothing.security_enc) == {
            "listed": None,
            "version": 0,
        }
        states = await consent.current_consents(uow, old, "s" * 32)
        assert states[ConsentScope.EXTERNAL].granted is True
        assert states[ConsentScope.SCHOOL].granted is False
        sheet = await latest_submitted_sheet(uow, "s" * 32)
        assert sheet is not None
        assert read_answers(old, sheet)[SheetField.FULL_NAME] == "Sam Jones"
        kinds = (await uow.session.execute(sa.select(OutboxMessage.id))).scalars().all()
        # Security notices already sent are gone; the waiting one is kept, padded.
        assert sorted(kinds) == ["n" * 32, "w" * 32]
        waiting = await uow.session.get(OutboxMessage, "w" * 32)
        assert waiting is not None and waiting.body_enc is not None
        assert old.cipher.open_padded(waiting, "body_enc", waiting.body_enc) == "On campus"
    async with at_0007.connect() as conn:
        columns = await conn.run_sync(
            lambda c: {col["name"] for col in sa.inspect(c).get_columns("consent_entries")}
        )
    assert "granted" not in columns


async def test_0009_without_the_keys_stops_before_changing_anything(
    at_0007: AsyncEngine, keys: KeyRing
) -> None:
    await _legacy_rows(at_0007, keys)
    with pytest.raises(KeysNeeded, match="USS_DATA_KEYS"):
        await upgrade(at_0007)
    assert await current_revision(at_0007) == "0007"


async def test_0009_needs_no_keys_on_an_empty_database_and_goes_back_down(
    at_0007: AsyncEngine, keys: KeyRing
) -> None:
    await upgrade(at_0007)
    assert await current_revision(at_0007) == head_revision()
    await downgrade(at_0007, "0007")
    await _legacy_rows(at_0007, keys)
    await upgrade(at_0007, keys=keys)
    await downgrade(at_0007, "0007", keys=keys)
    assert await current_revision(at_0007) == "0007"
    async with at_0007.connect() as conn:
        granted: dict[str, Any] = dict(
            (await conn.execute(sa.text("SELECT id, granted FROM consent_entries"))).all()
        )
        flags: dict[str, Any] = dict(
            (await conn.execute(sa.text("SELECT id, removed_enc FROM students"))).all()
        )
    assert sorted(map(bool, granted.values())) == [False, False, True, True]
    assert flags["u" * 32] is None
    token = flags["s" * 32]
    assert keys.decrypt(bytes(token), FieldContext("students", "removed_enc", "s" * 32)) == b"yes"


async def test_0016_gives_every_student_with_a_sheet_one_open_case(
    at_0007: AsyncEngine, keys: KeyRing, deps: Deps
) -> None:
    await _legacy_rows(at_0007, keys)
    await upgrade(at_0007, "0015", keys=keys, audit_key=deps.audit_key)
    with pytest.raises(KeysNeeded, match="USS_DATA_KEYS"):
        await upgrade(at_0007)
    assert await current_revision(at_0007) == "0015"
    await upgrade(at_0007, keys=keys, audit_key=deps.audit_key)
    old = Deps(
        make_sessions(at_0007), deps.cipher, deps.index, deps.clock, deps.settings, deps.audit_key
    )
    async with old.uow() as uow:
        students = (await uow.session.execute(sa.select(Student.id))).scalars().all()
        opened = (await uow.session.execute(sa.select(Case))).scalars().all()
        assert sorted(c.student_id for c in opened) == sorted(students)
        for case in opened:
            assert case.status == "open"
            assert cases.normalise_reference(case.reference) == case.reference
            found = await cases.case_by_reference(uow, case.reference)
            assert found.id == case.id
            (episode,) = await cases.episodes(uow, old, case)
            assert episode.position == 1 and episode.outcome is None
            booked = await uow.session.scalar(
                sa.select(Appointment.staff_id).where(Appointment.student_id == case.student_id)
            )
            assert case.assigned_staff_id == booked
    assert len({c.reference for c in opened}) == len(opened)
    await downgrade(at_0007, "0015", keys=keys)
    assert await current_revision(at_0007) == "0015"


# ---------------------------------------------------------------- 0021: data keys


async def test_0021_gives_every_case_and_student_a_key_and_goes_back_down_under_the_ring(
    at_0007: AsyncEngine, keys: KeyRing, deps: Deps
) -> None:
    await _legacy_rows(at_0007, keys)
    await upgrade(at_0007, "0020", keys=keys, audit_key=deps.audit_key)
    with pytest.raises(KeysNeeded, match="USS_DATA_KEYS"):
        await upgrade(at_0007)
    assert await current_revision(at_0007) == "0020"
    await upgrade(at_0007, keys=keys, audit_key=deps.audit_key)
    old = Deps(
        make_sessions(at_0007), deps.cipher, deps.index, deps.clock, deps.settings, deps.audit_key
    )
    async with old.uow() as uow:
        students = set((await uow.session.execute(sa.select(Student.id))).scalars())
        opened = set((await uow.session.execute(sa.select(Case.id))).scalars())
        owners = (await uow.session.execute(sa.select(DataKey.owner_kind, DataKey.owner_id))).all()
        assert sorted(owners) == sorted(
            [("case", c) for c in opened] + [("student", s) for s in students]
        )
        # What was sealed before opens as it did; what is sealed now goes under the data key.
        removed = await uow.session.get(Student, "s" * 32)
        assert removed is not None and removed_flag(old, removed) is YesNo.YES
        seal_removed_flag(old, removed, YesNo.NO)
        assert sealed_under_data_key(removed.removed_enc)
        await uow.commit()
    await downgrade(at_0007, "0020", keys=keys)
    async with at_0007.connect() as conn:
        token = (
            await conn.execute(
                sa.text("SELECT removed_enc FROM students WHERE id = :id"), {"id": "s" * 32}
            )
        ).scalar_one()
        tables = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
    assert "data_keys" not in tables
    context = FieldContext("students", "removed_enc", "s" * 32)
    assert keys.decrypt(bytes(token), context).rstrip(b" ") == b"no"
