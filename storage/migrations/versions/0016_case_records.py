"""case records: cases and episodes, access grants, notes, documents, disclosures, consent
requests, staff drafts, the purge permit, consent details and the full-name blind index

Every student with a submitted sheet gets one open case (its first episode opened when their
first sheet was submitted, its adviser the one of their first booking), under a new random
reference; the old 8-character references keep working, since they name the student. Notes
and disclosures are kept as written (triggers refuse UPDATE and DELETE, but a key rotation's
re-encryption and a retention purge).

Keys: each new case's first episode is sealed, so a database with submitted sheets needs the
data keys (`python -m bot migrate` with USS_DATA_KEYS set); a new database needs none. The
full-name blind index of existing sheets is filled by `python -m bot migrate` after this
revision, with the index key, which revisions are not given.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 15:30:00
"""

import json
import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection

from storage.crypto import FieldContext, padded
from storage.migrate import data_keys
from storage.triggers import drop_kept_as_written_triggers, kept_as_written_triggers

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of bot.services.cases.cases and storage.models at this revision.
CASE_EPISODE_BYTES = 1024
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
REFERENCE_LENGTH = 6
FIRST_EPISODE = {"outcome": None, "reopen_reason": None}
KEPT_AS_WRITTEN = ("case_notes", "disclosures")

sheets = sa.table(
    "information_sheets",
    sa.column("id", sa.String),
    sa.column("student_id", sa.String),
    sa.column("status", sa.String),
    sa.column("submitted_at", sa.DateTime(timezone=True)),
)
students = sa.table(
    "students", sa.column("id", sa.String), sa.column("last_activity_at", sa.DateTime)
)
appointments = sa.table(
    "appointments",
    sa.column("student_id", sa.String),
    sa.column("staff_id", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


def _id() -> str:
    return secrets.token_hex(16)


def _create_tables() -> None:
    op.create_table(
        "cases",
        sa.Column("student_id", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=8), nullable=False),
        sa.Column("sheet_id", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("assigned_staff_id", sa.String(length=32), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["assigned_staff_id"],
            ["staff.id"],
            name=op.f("fk_cases_assigned_staff_id_staff"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["sheet_id"],
            ["information_sheets.id"],
            name=op.f("fk_cases_sheet_id_information_sheets"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["students.id"],
            name=op.f("fk_cases_student_id_students"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("reference", name=op.f("uq_cases_reference")),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cases_student_id"), ["student_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_cases_assigned_staff_id"), ["assigned_staff_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_cases_last_activity_at"), ["last_activity_at"], unique=False
        )
    op.create_table(
        "case_episodes",
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_by", sa.String(length=48), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=48), nullable=True),
        sa.Column("details_enc", sa.LargeBinary(), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_episodes_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_episodes")),
        sa.UniqueConstraint("case_id", "position", name=op.f("uq_case_episodes_case_id")),
    )
    with op.batch_alter_table("case_episodes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_episodes_case_id"), ["case_id"], unique=False)
    op.create_table(
        "case_access_grants",
        sa.Column("staff_id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason_enc", sa.LargeBinary(), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_access_grants_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_case_access_grants_staff_id_staff"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_access_grants")),
    )
    with op.batch_alter_table("case_access_grants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_case_access_grants_staff_id"), ["staff_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_case_access_grants_case_id"), ["case_id"], unique=False
        )
    op.create_table(
        "case_notes",
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("body_enc", sa.LargeBinary(), nullable=False),
        sa.Column("author_staff_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("corrects_note_id", sa.String(length=32), nullable=True),
        sa.Column("reason_enc", sa.LargeBinary(), nullable=True),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_staff_id"], ["staff.id"], name=op.f("fk_case_notes_author_staff_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_notes_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["corrects_note_id"],
            ["case_notes.id"],
            name=op.f("fk_case_notes_corrects_note_id_case_notes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_notes")),
        sa.UniqueConstraint("case_id", "position", name=op.f("uq_case_notes_case_id")),
    )
    with op.batch_alter_table("case_notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_notes_case_id"), ["case_id"], unique=False)
    op.create_table(
        "case_documents",
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("meta_enc", sa.LargeBinary(), nullable=False),
        sa.Column("content_enc", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("added_by", sa.String(length=48), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_documents_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_documents")),
    )
    with op.batch_alter_table("case_documents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_documents_case_id"), ["case_id"], unique=False)
    op.create_table(
        "disclosures",
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("staff_id", sa.String(length=32), nullable=False),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("details_enc", sa.LargeBinary(), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_disclosures_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_disclosures_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disclosures")),
    )
    with op.batch_alter_table("disclosures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_disclosures_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_disclosures_staff_id"), ["staff_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_disclosures_made_at"), ["made_at"], unique=False)
    op.create_table(
        "consent_requests",
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("purpose_enc", sa.LargeBinary(), nullable=False),
        sa.Column("requested_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("entry_id", sa.String(length=32), nullable=True),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_consent_requests_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["consent_entries.id"],
            name=op.f("fk_consent_requests_entry_id_consent_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["staff.id"], name=op.f("fk_consent_requests_requested_by_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_requests")),
    )
    with op.batch_alter_table("consent_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_requests_case_id"), ["case_id"], unique=False)
    op.create_table(
        "staff_drafts",
        sa.Column("staff_id", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=24), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=True),
        sa.Column("step", sa.String(length=24), nullable=False),
        sa.Column("content_enc", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_staff_drafts_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_staff_drafts_staff_id_staff"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_drafts")),
        sa.UniqueConstraint("staff_id", name=op.f("uq_staff_drafts_staff_id")),
    )
    op.create_table(
        "purge_permit",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purge_permit")),
    )
    with op.batch_alter_table("consent_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("details_enc", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("information_sheets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("full_name_index", sa.String(length=64), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_information_sheets_full_name_index"), ["full_name_index"], unique=False
        )


def _reference(taken: set[str]) -> str:
    while True:
        reference = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))
        if reference not in taken:
            taken.add(reference)
            return reference


def _open_cases(bind: Connection) -> None:
    """One open case per student with a submitted sheet."""
    submitted = bind.execute(
        sa.select(sheets.c.student_id, sheets.c.id, sheets.c.submitted_at)
        .where(sheets.c.status == "submitted")
        .order_by(sheets.c.student_id, sheets.c.submitted_at)
    ).all()
    if not submitted:
        return
    keys = data_keys(revision)
    first: dict[str, tuple[str, object]] = {}
    latest: dict[str, str] = {}
    for student_id, sheet_id, submitted_at in submitted:
        first.setdefault(student_id, (sheet_id, submitted_at))
        latest[student_id] = sheet_id
    cases = sa.table(
        "cases",
        *(
            sa.column(name)
            for name in (
                "id",
                "student_id",
                "reference",
                "sheet_id",
                "status",
                "assigned_staff_id",
                "opened_at",
                "last_activity_at",
            )
        ),
    )
    episodes = sa.table(
        "case_episodes",
        *(
            sa.column(name)
            for name in ("id", "case_id", "position", "opened_at", "opened_by", "details_enc")
        ),
    )
    taken: set[str] = set()
    for student_id, (_, opened_at) in first.items():
        last_activity = bind.scalar(
            sa.select(students.c.last_activity_at).where(students.c.id == student_id)
        )
        adviser = bind.scalar(
            sa.select(appointments.c.staff_id)
            .where(appointments.c.student_id == student_id)
            .order_by(appointments.c.created_at)
            .limit(1)
        )
        case_id = _id()
        bind.execute(
            cases.insert().values(
                id=case_id,
                student_id=student_id,
                reference=_reference(taken),
                sheet_id=latest[student_id],
                status="open",
                assigned_staff_id=adviser,
                opened_at=opened_at,
                last_activity_at=max(last_activity, opened_at)
                if last_activity is not None
                else opened_at,
            )
        )
        episode_id = _id()
        raw = json.dumps(FIRST_EPISODE, sort_keys=True, separators=(",", ":")).encode()
        bind.execute(
            episodes.insert().values(
                id=episode_id,
                case_id=case_id,
                position=1,
                opened_at=opened_at,
                opened_by=f"student:{student_id}",
                details_enc=keys.encrypt(
                    padded(raw, CASE_EPISODE_BYTES),
                    FieldContext("case_episodes", "details_enc", episode_id),
                ),
            )
        )


def upgrade() -> None:
    _create_tables()
    bind = op.get_bind()
    for table in KEPT_AS_WRITTEN:
        for statement in kept_as_written_triggers(bind.dialect.name, table):
            op.execute(statement)
    _open_cases(bind)


def downgrade() -> None:
    bind = op.get_bind()
    for table in KEPT_AS_WRITTEN:
        for statement in drop_kept_as_written_triggers(bind.dialect.name, table):
            op.execute(statement)
    with op.batch_alter_table("information_sheets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_information_sheets_full_name_index"))
        batch_op.drop_column("full_name_index")
    with op.batch_alter_table("consent_entries", schema=None) as batch_op:
        batch_op.drop_column("details_enc")
    op.drop_table("purge_permit")
    op.drop_table("staff_drafts")
    op.drop_table("consent_requests")
    op.drop_table("disclosures")
    op.drop_table("case_documents")
    op.drop_table("case_notes")
    op.drop_table("case_access_grants")
    op.drop_table("case_episodes")
    op.drop_table("cases")
