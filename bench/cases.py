"""Case records figures: a full case read and written, and a search among many students.

    python -m bench.cases [--students 10000] [--repeat 30] [--engines sqlite,postgresql]

One case holds 200 notes, 20 documents (100 kB each) and 50 disclosures; `--students`
students with sheets and cases surround it. Through the real Application on the local
transport, as the adviser would: `/case REF` (the first page, audited), a note typed in one
message, its kind chosen and saved (three updates), and `/find` by exact student number and
by exact full name (blind indexes). Prints the median and 95th percentile of each; asserts
nothing on time, but stops with an error if a reply is not the one expected (so a figure is
never of a failure).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from dataclasses import dataclass

from sqlalchemy.engine import make_url

from bench.intake import POSTGRES_URL, database
from bot import case_texts
from bot.app import build_application
from bot.clock import SystemClock
from bot.handlers.common import App
from bot.services import audit
from bot.services.cases import cases
from bot.services.deps import Deps
from bot.services.intake.sheet_store import write_answers
from bot.services.staff import second_factor, staff
from bot.services.staff.policy import bundled_policy
from bot.settings import Settings
from bot.transport import LocalBotApi, LocalChat, LocalRequest, LocalUser, UpdateFactory
from bot.vocabulary import (
    CaseStatus,
    ConsentScope,
    DisclosureBasis,
    NoteKind,
    RecipientKind,
    Role,
    SheetField,
    SheetStatus,
    SheetStep,
)
from storage import data_keys
from storage.crypto import (
    AuditKey,
    BlindIndex,
    KeyRing,
    Owner,
    OwnerKind,
    new_key_material,
    parse_key_spec,
)
from storage.models import (
    CASE_EPISODE_BYTES,
    DISCLOSURE_BLOCK,
    REMOVED_FLAG_BYTES,
    Case,
    CaseDocument,
    CaseEpisode,
    CaseNote,
    Disclosure,
    InformationSheet,
    Student,
)

ADVISER = LocalUser(900_001, "Alex", "Adviser")
NOTES, DOCUMENTS, DISCLOSURES = 200, 20, 50
DOCUMENT_BYTES = 100_000
BATCH = 1000


@dataclass
class Row:
    engine: str
    figures: dict[str, list[float]]
    skipped: str = ""


def _number(i: int) -> str:
    return f"{210_000_000 + i}"


async def unlocked_session(deps: Deps, telegram_user_id: int) -> None:
    """A second factor set up and a session unlocked, as the adviser's app would (the timed
    commands all read students' information)."""
    async with deps.uow() as uow:
        setup = await second_factor.begin_setup(uow, deps, telegram_user_id)
    code = second_factor.code_for(setup.secret, second_factor.step_at(deps.clock.now()))
    async with deps.uow() as uow:
        await second_factor.present_code(uow, deps, telegram_user_id, code)


async def students_with_cases(deps: Deps, count: int) -> list[Case]:
    """`count` students, each with a submitted sheet and an open case (inserted directly)."""
    made: list[Case] = []
    now = deps.clock.now()
    for start in range(0, count, BATCH):
        batch: list[tuple[Student, InformationSheet, Case, CaseEpisode]] = []
        async with deps.uow() as uow:
            for i in range(start, min(count, start + BATCH)):
                student = Student(
                    telegram_index=deps.telegram_key(5_000_000 + i),
                    created_at=now,
                    last_activity_at=now,
                )
                student_key = Owner(OwnerKind.STUDENT, student.id)
                data_keys.create(uow.session, deps.cipher.keys, student_key, now)
                sheet = InformationSheet(
                    student_id=student.id,
                    status=SheetStatus.SUBMITTED.value,
                    step=SheetStep.SUBMITTED.value,
                    editing=False,
                    consent_position=len(ConsentScope),
                    created_at=now,
                    updated_at=now,
                    submitted_at=now,
                )
                await data_keys.bind(uow.session, student, sheet)
                student.telegram_id_enc = deps.cipher.seal(  # type: ignore[assignment]
                    student, "telegram_id_enc", str(5_000_000 + i)
                )
                student.removed_enc = deps.cipher.seal_padded(
                    student, "removed_enc", "no", REMOVED_FLAG_BYTES
                )
                write_answers(
                    deps,
                    sheet,
                    {
                        SheetField.FULL_NAME: f"Bench Student {i}",
                        SheetField.STUDENT_NUMBER: _number(i),
                        SheetField.CATEGORY: "Academic appeal",
                    },
                )
                case = Case(
                    student_id=student.id,
                    reference=cases.new_reference(),
                    sheet_id=sheet.id,
                    status=CaseStatus.OPEN.value,
                    opened_at=now,
                    last_activity_at=now,
                )
                data_keys.create(uow.session, deps.cipher.keys, Owner(OwnerKind.CASE, case.id), now)
                episode = CaseEpisode(case_id=case.id, position=1, opened_at=now, opened_by="bench")
                await data_keys.bind(uow.session, episode)
                episode.details_enc = deps.cipher.seal_json(
                    episode,
                    "details_enc",
                    {"outcome": None, "reopen_reason": None},
                    pad_to=CASE_EPISODE_BYTES,
                )
                batch.append((student, sheet, case, episode))
                made.append(case)
            # Without ORM relationships the flush does not order inserts by foreign key.
            for position in range(4):
                uow.session.add_all([rows[position] for rows in batch])
                await uow.session.flush()
            await uow.commit()
    return made


async def fill_the_case(deps: Deps, case: Case, adviser_id: str) -> None:
    now = deps.clock.now()
    async with deps.uow() as uow:
        row = await uow.session.get(Case, case.id)
        assert row is not None
        row.assigned_staff_id = adviser_id
        for n in range(NOTES):
            note = CaseNote(
                case_id=case.id,
                position=n + 1,
                kind=NoteKind.PHONE_CALL.value,
                author_staff_id=adviser_id,
                created_at=now,
            )
            await data_keys.bind(uow.session, note)
            note.body_enc = deps.cipher.seal(  # type: ignore[assignment]
                note, "body_enc", f"Note {n}: spoke to the student about the appeal. " * 8
            )
            uow.session.add(note)
        for d in range(DOCUMENTS):
            data = b"%PDF-1.4\n" + os.urandom(DOCUMENT_BYTES)
            document = CaseDocument(
                case_id=case.id,
                size=len(data),
                added_by=audit.staff_actor(adviser_id),
                created_at=now,
            )
            await data_keys.bind(uow.session, document)
            document.meta_enc = deps.cipher.seal_json(
                document,
                "meta_enc",
                {"name": f"letter-{d}.pdf", "media_type": "application/pdf", "sha256": "0" * 64},
            )
            document.content_enc = deps.cipher.seal_bytes(document, "content_enc", data)
            uow.session.add(document)
        for d in range(DISCLOSURES):
            disclosure = Disclosure(case_id=case.id, staff_id=adviser_id, made_at=now)
            await data_keys.bind(uow.session, disclosure)
            disclosure.details_enc = deps.cipher.seal_json(
                disclosure,
                "details_enc",
                {
                    "basis": DisclosureBasis.CONSENT.value,
                    "recipient_kind": RecipientKind.SCHOOL.value,
                    "recipient": f"Course office {d}",
                    "content": "Asked for the appeal deadline to be extended.",
                    "statute": None,
                    "statute_text": None,
                    "scope": ConsentScope.SCHOOL.value,
                    "limitation": None,
                },
                pad_to=DISCLOSURE_BLOCK,
            )
            uow.session.add(disclosure)
        await uow.commit()


async def timed(chat: LocalChat, text: str, expect: str, repeat: int) -> list[float]:
    """Send `text` `repeat` times (after two untimed warm-ups); seconds per update."""
    times = []
    for i in range(repeat + 2):
        start = time.perf_counter()
        replies = await chat.send(text)
        elapsed = time.perf_counter() - start
        shown = " ".join(m.plain_text for m in replies)
        if expect not in shown:
            raise RuntimeError(f"{text!r} answered {shown[:200]!r}, not {expect!r}")
        if i >= 2:
            times.append(elapsed)
    return times


async def note_saves(chat: LocalChat, reference: str, repeat: int) -> list[float]:
    """A note typed in one message, its kind chosen and saved: the three updates together."""
    times = []
    for i in range(repeat + 2):
        start = time.perf_counter()
        await chat.send(f"/note {reference} Called the school office about the deadline.")
        await chat.press(case_texts.NOTE_KIND_LABELS[NoteKind.PHONE_CALL])
        await chat.press(case_texts.BTN_NOTE_SAVE)
        elapsed = time.perf_counter() - start
        if "saved to case" not in chat.last_text:
            raise RuntimeError(f"a note was not saved: {chat.last_text[:200]!r}")
        if i >= 2:
            times.append(elapsed)
    return times


async def measure(engine_name: str, students: int, repeat: int) -> Row:
    api = LocalBotApi()
    async with database(engine_name) as db:
        if db is None:
            shown = make_url(POSTGRES_URL).render_as_string(hide_password=True)
            return Row(engine_name, {}, f"skipped (no server at {shown})")
        url, engine = db
        app: App = build_application(
            Settings(_env_file=None, database_url=url),  # type: ignore[call-arg]
            clock=SystemClock(),
            keys=KeyRing(parse_key_spec(f"k1:{new_key_material()}")),
            index=BlindIndex.from_spec(new_key_material()),
            audit_key=AuditKey.from_spec(new_key_material()),
            engine=engine,
            request=LocalRequest(api),
        )
        await app.initialize()
        try:
            deps = app.bot_data.deps
            async with deps.uow() as uow:
                member = await staff.add_staff(
                    uow,
                    deps,
                    telegram_user_id=ADVISER.id,
                    name="Alex Adviser",
                    role=Role.ADVISER,
                    actor="bench",
                )
                await uow.commit()
            async with deps.uow() as uow:
                shown = bundled_policy().short_digest  # a new database: the bundled one
                await staff.acknowledge_policy(uow, deps, ADVISER.id, shown)
            await unlocked_session(deps, ADVISER.id)
            made = await students_with_cases(deps, students)
            target = made[len(made) // 2]
            await fill_the_case(deps, target, member.id)
            chat = LocalChat(app, api, UpdateFactory(api), ADVISER)
            middle = len(made) // 2
            figures = {
                "/case (first page)": await timed(
                    chat, f"/case {target.reference}", target.reference, repeat
                ),
                "note (3 updates)": await note_saves(chat, target.reference, repeat),
                "/find number": await timed(
                    chat, f"/find {_number(middle)}", target.reference, repeat
                ),
                "/find name": await timed(
                    chat, f"/find bench student {middle}", target.reference, repeat
                ),
            }
        finally:
            await app.shutdown()
    return Row(engine_name, figures)


def _ms(values: list[float], q: float) -> str:
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000:7.1f}"


async def main(students: int, repeat: int, engines: list[str]) -> None:
    print(
        f"One case with {NOTES} notes, {DOCUMENTS} documents of {DOCUMENT_BYTES // 1000} kB and "
        f"{DISCLOSURES} disclosures, among {students} students; {repeat} timed runs each "
        "(ms per update, through the Application on the local transport)"
    )
    print(f"{'engine':<11} {'what':<20} {'p50':>7} {'p95':>7}")
    for name in engines:
        row = await measure(name, students, repeat)
        if row.skipped:
            print(f"{name:<11} {row.skipped}")
            continue
        for what, values in row.figures.items():
            median = statistics.median(values) * 1000
            print(f"{name:<11} {what:<20} {median:7.1f} {_ms(values, 0.95)}")


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--engines", default="sqlite,postgresql")
    return parser.parse_args()


if __name__ == "__main__":
    args = _args()
    asyncio.run(main(args.students, args.repeat, args.engines.split(",")))
