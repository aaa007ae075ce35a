"""Typed tables. Columns ending in `_enc` hold AES-GCM tokens bound to table, column and row."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    literal_column,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from storage.crypto import OwnerKind

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Sealed values whose size could tell a sensitive fact are padded (storage.crypto.padded) to
# these lengths in bytes: one length for every value of the column, or a block size.
REMOVED_FLAG_BYTES = 16
CONSENT_DECISION_BYTES = 16
SECURITY_RECORD_BYTES = 128
SHEET_ANSWERS_BLOCK = 1024
OUTBOX_RECIPIENT_BYTES = 32
OUTBOX_BODY_BYTES = 16384
OUTBOX_ESCALATION_BYTES = 1024
CASE_EPISODE_BYTES = 1024
DISCLOSURE_BLOCK = 1024
CONSENT_DETAILS_BLOCK = 512
STAFF_DRAFT_BLOCK = 1024


def new_id() -> str:
    """A random row id, known before the row is flushed so fields can be sealed to it."""
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and always returns them aware (SQLite drops zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), bytes: LargeBinary()}


class RowWithId:
    """Rows whose string id is assigned at construction, before any flush."""

    id: Mapped[str] = mapped_column(String(32), primary_key=True)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("id", new_id())
        for key, value in kwargs.items():
            setattr(self, key, value)


class Student(RowWithId, Base):
    __tablename__ = "students"
    SEALED_UNDER: ClassVar[tuple[OwnerKind, str]] = (OwnerKind.STUDENT, "id")

    telegram_index: Mapped[str] = mapped_column(String(64), unique=True)
    telegram_id_enc: Mapped[bytes]
    created_at: Mapped[datetime]
    last_activity_at: Mapped[datetime]
    unreachable_since: Mapped[datetime | None]
    # Removed from their course ("yes"/"no", or "" before any sheet), as last said on the sheet
    # or set by staff; sealed and padded, so neither NULL nor length can tell.
    removed_enc: Mapped[bytes]


class InformationSheet(RowWithId, Base):
    __tablename__ = "information_sheets"
    SEALED_UNDER: ClassVar[tuple[OwnerKind, str]] = (OwnerKind.STUDENT, "student_id")
    __table_args__ = (
        Index(
            "uq_information_sheets_one_draft",
            "student_id",
            unique=True,
            sqlite_where=text("status = 'draft'"),
            postgresql_where=text("status = 'draft'"),
        ),
    )

    student_id: Mapped[str] = mapped_column(
        ForeignKey("students.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))
    step: Mapped[str] = mapped_column(String(32))
    editing: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_position: Mapped[int] = mapped_column(Integer, default=0)
    answers_enc: Mapped[bytes]
    student_number_index: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]
    # Part of a long text Telegram split into several messages, held (sealed) until the rest
    # arrives or `fragment_until` passes; the parts are then judged as one answer.
    fragment_enc: Mapped[bytes | None]
    fragment_until: Mapped[datetime | None] = mapped_column(index=True)
    # A keyed blind index of the full name, normalised (case and spacing), so staff can find a
    # case by the exact name without any search over plaintext.
    full_name_index: Mapped[str | None] = mapped_column(String(64), index=True)


class ConsentEntry(RowWithId, Base):
    """One line of the append-only consent ledger; a scope's state is its latest line."""

    __tablename__ = "consent_entries"
    SEALED_UNDER: ClassVar[tuple[OwnerKind, str]] = (OwnerKind.STUDENT, "student_id")
    __table_args__ = (UniqueConstraint("student_id", "position"),)

    student_id: Mapped[str] = mapped_column(
        ForeignKey("students.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    scope: Mapped[str] = mapped_column(String(32))
    # "granted" or "refused", sealed and padded like every other personal field.
    decision_enc: Mapped[bytes]
    wording_version: Mapped[str] = mapped_column(String(32))
    wording_sha256: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(24))
    recorded_by_staff_id: Mapped[str | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL")
    )
    recorded_at: Mapped[datetime]
    note_enc: Mapped[bytes | None]
    # What staff recorded with it (the email's date and reference, a limitation, the purpose
    # of a request), sealed JSON; None for the student's own choices.
    details_enc: Mapped[bytes | None]


class StaffMember(RowWithId, Base):
    __tablename__ = "staff"

    telegram_index: Mapped[str] = mapped_column(String(64), unique=True)
    telegram_id_enc: Mapped[bytes]
    name_enc: Mapped[bytes]
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    created_by: Mapped[str | None] = mapped_column(String(32))
    deactivated_at: Mapped[datetime | None]
    # A coordinator working on another adviser's availability in the bot (None: their own).
    managing_staff_id: Mapped[str | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL")
    )


class StaffInvite(RowWithId, Base):
    __tablename__ = "staff_invites"

    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by: Mapped[str | None] = mapped_column(String(32))


class PolicyAcknowledgement(RowWithId, Base):
    __tablename__ = "policy_acknowledgements"
    __table_args__ = (UniqueConstraint("staff_id", "policy_version"),)

    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    policy_version: Mapped[str] = mapped_column(String(32))
    policy_sha256: Mapped[str] = mapped_column(String(64))
    acknowledged_at: Mapped[datetime]


class AuditEntry(Base):
    """Append-only and chained by a keyed MAC.

    Only what ordering and verification need is in the clear (seq, time, MAC): the action,
    actor, subject and detail are sealed together, padded to one length, so a copy of the
    database cannot tell one kind of entry, or whom it is about, from another.
    """

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    sealed: Mapped[bytes]
    mac: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """One row holding the chain's tip; locking it serialises appends on PostgreSQL.

    It lives in the same database, so it proves nothing on its own: heads published outside
    it (`python -m bot audit head`, the daily message to coordinators) do.
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    mac: Mapped[str] = mapped_column(String(64))


class AuditRekeyPermit(Base):
    """Present only inside the transaction of a key rotation: the append-only triggers let
    that transaction re-encrypt `audit_log.sealed` (and nothing else), and nobody else."""

    __tablename__ = "audit_rekey"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


class ProcessedUpdate(Base):
    """Telegram update ids already handled, so a redelivered update has no second effect."""

    __tablename__ = "processed_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processed_at: Mapped[datetime] = mapped_column(index=True)


class GroupNotice(Base):
    """The day a group was last told the bot works only in private chats (once a day at most).

    The group's chat id is kept only as a keyed blind index, never in clear.
    """

    __tablename__ = "group_notices"

    chat_index: Mapped[str] = mapped_column(String(64), primary_key=True)
    said_on: Mapped[date] = mapped_column(Date)


class DataKey(Base):
    """A case's or a student's own data key, wrapped by the key ring (storage/data_keys.py).

    Their fields are sealed under it; deleting this row with them (retention, erasure) leaves
    every copy of their ciphertext, in a backup or a copied file, unreadable.
    """

    __tablename__ = "data_keys"

    owner_kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    wrapped: Mapped[bytes]
    created_at: Mapped[datetime]


# Every sealed column, for the canary test and key rotation. A model with `SEALED_UNDER`
# seals them under its case's or student's data key (storage.crypto.owner_of).
SEALED_COLUMNS: dict[type[Base], tuple[str, ...]] = {
    Student: ("telegram_id_enc", "removed_enc"),
    InformationSheet: ("answers_enc", "fragment_enc"),
    ConsentEntry: ("decision_enc", "note_enc"),
    StaffMember: ("telegram_id_enc", "name_enc"),
}


class AvailabilityWindow(RowWithId, Base):
    """A weekly stretch of an adviser's time, in the service's wall-clock minutes."""

    __tablename__ = "availability_windows"

    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)
    start_minute: Mapped[int] = mapped_column(Integer)
    end_minute: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]


class AvailabilityChange(RowWithId, Base):
    """A one-off addition or time off on one local date."""

    __tablename__ = "availability_changes"

    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(8))
    start_minute: Mapped[int | None] = mapped_column(Integer)
    end_minute: Mapped[int | None] = mapped_column(Integer)
    mode: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime]


# The status of a live booking, as the partial indexes below name it.
BOOKED = "booked"
_BOOKED_ROWS = f"status = '{BOOKED}'"


class Appointment(RowWithId, Base):
    """A booking. Two live bookings of one adviser at one start time cannot both exist."""

    __tablename__ = "appointments"
    SEALED_UNDER: ClassVar[tuple[OwnerKind, str]] = (OwnerKind.STUDENT, "student_id")
    __table_args__ = (
        Index(
            "uq_appointments_booked_slot",
            "staff_id",
            "starts_at",
            unique=True,
            sqlite_where=text(_BOOKED_ROWS),
            postgresql_where=text(_BOOKED_ROWS),
        ),
        # An adviser's live bookings not yet over, without reading their past ones.
        Index(
            "ix_appointments_booked_staff_ends_at",
            "staff_id",
            "ends_at",
            sqlite_where=text(_BOOKED_ROWS),
            postgresql_where=text(_BOOKED_ROWS),
        ),
    )

    student_id: Mapped[str] = mapped_column(
        ForeignKey("students.id", ondelete="CASCADE"), index=True
    )
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"), index=True)
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime]
    mode: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(24))
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # When the current times were set (booked, or last moved): a reminder whose moment had
    # already passed then is never sent.
    scheduled_at: Mapped[datetime]
    # While the student is choosing a new time for it, no reminder is sent (until then).
    moving_until: Mapped[datetime | None]
    # What University Security was last told of this appointment (times only, or nothing):
    # every appointment has one, sealed and padded to one length, since its presence or size
    # would say the student was removed from their course.
    security_enc: Mapped[bytes]

    @hybrid_property
    def is_booked(self) -> bool:
        return self.status == BOOKED

    @is_booked.inplace.expression
    @classmethod
    def _is_booked_where(cls) -> ColumnElement[bool]:
        # A literal, never a bound parameter: the planner can then prove a query matches the
        # partial indexes on booked rows. PostgreSQL's generic plan for a prepared statement
        # (asyncpg prepares every one) cannot see a parameter's value, so it would scan.
        return cls.status == literal_column(f"'{BOOKED}'")


class OutboxMessage(RowWithId, Base):
    """A message written in the same transaction as its cause, sent after commit."""

    __tablename__ = "outbox"
    SEALED_UNDER: ClassVar[tuple[OwnerKind, str]] = (OwnerKind.STUDENT, "student_id")
    __table_args__ = (UniqueConstraint("ordering_key", "position"),)

    kind: Mapped[str] = mapped_column(String(32))
    dedupe_key: Mapped[str] = mapped_column(String(160), unique=True)
    ordering_key: Mapped[str] = mapped_column(String(64), index=True)
    position: Mapped[int] = mapped_column(Integer)
    # Cleared once the message is sent: the outbox keeps no copy of what was delivered.
    recipient_enc: Mapped[bytes | None]
    body_enc: Mapped[bytes | None]
    escalation_enc: Mapped[bytes | None]
    # Set for messages to a student, so a refusal (blocked bot) can mark them unreachable.
    student_id: Mapped[str | None] = mapped_column(
        ForeignKey("students.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    # A short lease, kept alive while its holder sends; the token says whose it is, so a
    # holder that was overtaken records nothing.
    claimed_until: Mapped[datetime | None]
    claim_token: Mapped[str | None] = mapped_column(String(32))
    sent_at: Mapped[datetime | None] = mapped_column(index=True)
    escalated_at: Mapped[datetime | None]


class ChatHold(RowWithId, Base):
    """Telegram told us to wait (RetryAfter) before sending anything more to one chat.

    Shared by every deliverer through the database, and outlives a restart. The chat is named
    by a keyed digest of its own purpose, which joins to no other table.
    """

    __tablename__ = "outbox_chat_holds"

    chat_key: Mapped[str] = mapped_column(String(64), index=True)
    until: Mapped[datetime] = mapped_column(index=True)


SEALED_COLUMNS[OutboxMessage] = ("recipient_enc", "body_enc", "escalation_enc")
SEALED_COLUMNS[Appointment] = ("security_enc",)


class Case(RowWithId, Base):
    """A student's case: opened when a sheet is submitted, closed and reopened by staff.

    The reference staff type is random (never sequential), so it tells neither the caseload
    nor the order. The last activity is what retention counts from.
    """

    __tablename__ = "cases"

    student_id: Mapped[str] = mapped_column(
        ForeignKey("students.id", ondelete="CASCADE"), index=True
    )
    reference: Mapped[str] = mapped_column(String(8), unique=True)
    # The submitted sheet that opened it.
    sheet_id: Mapped[str | None] = mapped_column(
        ForeignKey("information_sheets.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(16))
    assigned_staff_id: Mapped[str | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL"), index=True
    )
    opened_at: Mapped[datetime]
    last_activity_at: Mapped[datetime] = mapped_column(index=True)
    # The last activity its adviser and the coordinator were warned about (30 days before the
    # case is deleted); any later activity restarts the clock, and a new warning comes in time.
    retention_warned_for: Mapped[datetime | None]


class CaseEpisode(RowWithId, Base):
    """One open (and, once closed, closed) stretch of a case; a reopen starts a new one."""

    __tablename__ = "case_episodes"
    SEALED_UNDER: ClassVar[tuple[OwnerKind, str]] = (OwnerKind.CASE, "case_id")
    __table_args__ = (UniqueConstraint("case_id", "position"),)

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    opened_at: Mapped[datetime]
    opened_by: Mapped[str] = mapped_column(String(48))
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(48))
    # The reason it was reopened and the outcome it closed with, sealed together and padded.
    details_enc: Mapped[bytes]


class CaseAccessGrant(RowWithId, Base):
    """An adviser opened a case assigned to someone else, with a reason: for a few hours they
    may go on reading it without being asked again. Each grant is audited with its reason."""

    __tablename__ = "case_access_grants"
    SEALED_UNDER: ClassVar[tuple[OwnerKind, str]] = (OwnerKind.CASE, "case_id")

    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    granted_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    reason_enc: Mapped[bytes]


class CaseNote(RowWithId, Base):
    """A case note. Never edited or deleted (database triggers refuse it): a correction is a
    new note naming the one it corrects."""

    __tablename__ = "case_notes"
    SEALED_UNDER: ClassVar[tuple[OwnerKind, str]] = (OwnerKind.CASE, "case_id")
    __table_args__ = (UniqueConstraint("case_id", "position"),)

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    body_enc: Mapped[bytes]
    author_staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime]
    corrects_note_id: Mapped[str | None] = mapped_column(ForeignKey("case_notes.id"))
    reason_enc: Mapped[bytes | None]


class CaseDocument(RowWithId, Base):
    """A document for a case (a letter, evidence), its bytes sealed to the case and itself."""

    __tablename__ = "case_documents"
    SEALED_UNDER: ClassVar[tuple[OwnerKind, str]] = (OwnerKind.CASE, "case_id")
    # Its bytes and name are sealed to its case as well as to itself (storage.crypto).
    SEALED_WITH_CASE: ClassVar[bool] = True

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    # Name, media type and SHA-256, sealed together.
    meta_enc: Mapped[bytes]
    content_enc: Mapped[bytes]
    size: Mapped[int] = mapped_column(Integer)
    added_by: Mapped[str] = mapped_column(String(48))
    created_at: Mapped[datetime]


class Disclosure(RowWithId, Base):
    """Something about a student that left the service, with its basis: consent or an
    exception. Everything but who made it, when and for which case is sealed and padded, so
    a copy of the database cannot tell a welfare concern from any other disclosure."""

    __tablename__ = "disclosures"
    SEALED_UNDER: ClassVar[tuple[OwnerKind, str]] = (OwnerKind.CASE, "case_id")

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"), index=True)
    made_at: Mapped[datetime] = mapped_column(index=True)
    details_enc: Mapped[bytes]


class ConsentRequest(RowWithId, Base):
    """An adviser asked the student in the chat for one scope; answered once, or never."""

    __tablename__ = "consent_requests"
    SEALED_UNDER: ClassVar[tuple[OwnerKind, str]] = (OwnerKind.CASE, "case_id")

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(String(32))
    purpose_enc: Mapped[bytes]
    requested_by: Mapped[str] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    entry_id: Mapped[str | None] = mapped_column(ForeignKey("consent_entries.id"))


class StaffDraft(RowWithId, Base):
    """What a staff member is in the middle of typing (a note, a reason, consent details):
    kept in the database so a restart resumes it. One at a time per staff member."""

    __tablename__ = "staff_drafts"
    SEALED_UNDER: ClassVar[tuple[OwnerKind, str]] = (OwnerKind.CASE, "case_id")

    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), unique=True)
    purpose: Mapped[str] = mapped_column(String(24))
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    step: Mapped[str] = mapped_column(String(24))
    content_enc: Mapped[bytes]
    updated_at: Mapped[datetime]


class PurgePermit(Base):
    """Present only inside a retention purge's transaction: the one path that may delete
    case notes, which triggers otherwise refuse to change or remove."""

    __tablename__ = "purge_permit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


SEALED_COLUMNS[ConsentEntry] = ("decision_enc", "note_enc", "details_enc")
SEALED_COLUMNS[CaseEpisode] = ("details_enc",)
SEALED_COLUMNS[CaseNote] = ("body_enc", "reason_enc")
SEALED_COLUMNS[CaseAccessGrant] = ("reason_enc",)
SEALED_COLUMNS[CaseDocument] = ("meta_enc", "content_enc")
SEALED_COLUMNS[Disclosure] = ("details_enc",)
SEALED_COLUMNS[ConsentRequest] = ("purpose_enc",)
SEALED_COLUMNS[StaffDraft] = ("content_enc",)


class StaffSecondFactor(RowWithId, Base):
    """A staff member's time-based one-time code (RFC 6238) and the session it unlocks.

    The secret is sealed like every personal field. `last_step` is the time step of the last
    accepted code: a code at or before it is refused, so no code is accepted twice, whichever
    instance sees it. Wrong codes in a row count up to a lock only the coordinator lifts.
    """

    __tablename__ = "staff_second_factors"

    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), unique=True)
    secret_enc: Mapped[bytes]
    created_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    last_step: Mapped[int | None] = mapped_column(BigInteger)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_at: Mapped[datetime | None]
    unlocked_until: Mapped[datetime | None]
    # The set-up messages (QR code, secret) in the staff member's chat, deleted on confirmation.
    setup_message_ids: Mapped[str | None] = mapped_column(String(64))


SEALED_COLUMNS[StaffSecondFactor] = ("secret_enc",)


class PolicyVersion(RowWithId, Base):
    """A published version of the confidentiality statement, as the Board of Trustees
    approved it. The newest published is the one staff must have acknowledged; the text is
    the service's own policy, not personal data, so it is kept in the clear."""

    __tablename__ = "policy_versions"

    version: Mapped[str] = mapped_column(String(32), unique=True)
    text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    approved_on: Mapped[date] = mapped_column(Date)
    published_at: Mapped[datetime]
    published_by: Mapped[str | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))


class PolicyReviewReminder(Base):
    """A review reminder sent to the coordinator: at most one per version and due day."""

    __tablename__ = "policy_review_reminders"

    policy_version: Mapped[str] = mapped_column(String(32), primary_key=True)
    due_on: Mapped[date] = mapped_column(Date, primary_key=True)
    sent_at: Mapped[datetime]


class RetentionRun(RowWithId, Base):
    """What one purge transaction deleted: counts only, for the coordinator's monthly summary
    (the audit log holds the same counts, sealed)."""

    __tablename__ = "retention_runs"

    ran_at: Mapped[datetime] = mapped_column(index=True)
    cases: Mapped[int] = mapped_column(Integer)
    notes: Mapped[int] = mapped_column(Integer)
    documents: Mapped[int] = mapped_column(Integer)
    students: Mapped[int] = mapped_column(Integer)


class RetentionSummary(Base):
    """The coordinator was sent the summary of this month's purges (YYYY-MM, service time)."""

    __tablename__ = "retention_summaries"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    sent_at: Mapped[datetime]


class SubjectRequest(RowWithId, Base):
    """A student's request under data protection law: a copy of what is held (subject
    access) or deletion, however it was made. The one-month clock runs from the day it was
    received; an extension and pauses move the due date. Once a student is gone, the row
    stays with dates only (the register shows requests were answered on time)."""

    __tablename__ = "subject_requests"
    SEALED_UNDER: ClassVar[tuple[OwnerKind, str]] = (OwnerKind.STUDENT, "student_id")

    student_id: Mapped[str | None] = mapped_column(
        ForeignKey("students.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    received_on: Mapped[date] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(String(48))
    recorded_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), index=True)
    extended_months: Mapped[int] = mapped_column(Integer, default=0)
    # Days the clock stood still in finished pauses; a pause under way started on paused_on.
    paused_days: Mapped[int] = mapped_column(Integer, default=0)
    paused_on: Mapped[date | None] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    # The extension's reason, a decline's reason, the pause's reason: sealed JSON, padded.
    details_enc: Mapped[bytes]


SEALED_COLUMNS[SubjectRequest] = ("details_enc",)


class StatisticsCount(RowWithId, Base):
    """How many times something happened in one period, by a few closed-vocabulary facets.

    Anonymous by construction (DESIGN.md invariant 5): a counter, never a row per event, so
    there is no link to a student, case, appointment or staff member, no time finer than the
    month (the removed-from-course count: the term), no order and no free text. And sealed:
    a copy of the database sees an opaque key and a padded ciphertext per counter, so it can
    tell neither which counter a student's submission moved nor by how much (the counters a
    submission may move are all written, by 0 where nothing happened). Purges leave it alone,
    so reports outlive the records they counted.
    """

    __tablename__ = "statistics"

    # A keyed digest of the period, event and facets: how a counter is found.
    counter_key: Mapped[str] = mapped_column(String(64), unique=True)
    # {"period", "event", "facets", "tally"}, sealed and padded to one length.
    sealed: Mapped[bytes]


SEALED_COLUMNS[StatisticsCount] = ("sealed",)


class StatisticsBackfill(Base):
    """Present once the statistics were back-filled from the records held at upgrade time."""

    __tablename__ = "statistics_backfill"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    done_at: Mapped[datetime]
