"""Case records at rest, on both engines: every sealed column of a case holds no plaintext,
reads back exactly, is sealed under the case's own data key, and still opens after a key
rotation has rewrapped that key and the old key is gone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.services import audit
from bot.services.cases import cases
from bot.services.deps import Deps
from bot.services.intake import consent
from bot.services.staff import staff, staff_drafts
from bot.vocabulary import (
    ConsentChannel,
    ConsentScope,
    DisclosureBasis,
    DraftPurpose,
    NoteKind,
    RecipientKind,
    Role,
)
from storage import data_keys
from storage.crypto import (
    DecryptionError,
    FieldCipher,
    KeyRing,
    new_key_material,
    parse_key_spec,
    sealed_under_data_key,
)
from storage.models import (
    CONSENT_DETAILS_BLOCK,
    DISCLOSURE_BLOCK,
    SEALED_COLUMNS,
    Case,
    CaseAccessGrant,
    CaseDocument,
    CaseNote,
    ConsentRequest,
    Disclosure,
)
from storage.rotation import rotate_all
from tests.conftest import Database
from tests.integration.test_cases import submit
from tests.integration.test_storage_protection import _raw_contents

NOTE = "Canarynote the student told me about zqxjk"
CORRECTION_REASON = "Canaryreason wrong date zqxjk"
DOCUMENT_NAME = "canary-zqxjk-letter.pdf"
DOCUMENT_BYTES = b"%PDF-1.4 Canarydocumentbytes zqxjk"
DISCLOSED = "Canarydisclosed the appeal deadline zqxjk"
RECIPIENT = "Canaryrecipient Registry zqxjk"
EMAIL_REFERENCE = "Canaryemail subject zqxjk"
LIMITATION = "Canarylimit only the appeal zqxjk"
PURPOSE = "Canarypurpose to contact Registry zqxjk"
GLASS_REASON = "Canaryglass covering zqxjk"
REOPEN_REASON = "Canaryreopen new letter zqxjk"
DRAFT_TEXT = "Canarydraft half a note zqxjk"
STAFF_TG = 2001

CANARIES = [
    NOTE,
    CORRECTION_REASON,
    DOCUMENT_NAME,
    DOCUMENT_BYTES.decode(),
    DISCLOSED,
    RECIPIENT,
    EMAIL_REFERENCE,
    LIMITATION,
    PURPOSE,
    GLASS_REASON,
    REOPEN_REASON,
    DRAFT_TEXT,
]


async def fill_a_case(deps: Deps) -> Case:
    """A case with a canary in every sealed column case records have."""
    await submit(deps)
    async with deps.uow() as uow:
        adviser = await staff.add_staff(
            uow, deps, telegram_user_id=STAFF_TG, name="Alex A", role=Role.COORDINATOR, actor="t"
        )
        await uow.commit()
    async with deps.uow() as uow:
        found: Case | None = await uow.session.scalar(select(Case))
        assert found is not None
        case = found
        await cases.close(uow, deps, adviser, case, 0)
        await cases.reopen(uow, deps, adviser, case, REOPEN_REASON)
        first = CaseNote(
            case_id=case.id,
            position=1,
            kind=NoteKind.PHONE_CALL.value,
            author_staff_id=adviser.id,
            created_at=deps.clock.now(),
        )
        await data_keys.bind(uow.session, first)
        first.body_enc = deps.cipher.seal(first, "body_enc", NOTE)  # type: ignore[assignment]
        uow.session.add(first)
        await uow.session.flush()
        second = CaseNote(
            case_id=case.id,
            position=2,
            kind=NoteKind.OTHER.value,
            author_staff_id=adviser.id,
            created_at=deps.clock.now(),
            corrects_note_id=first.id,
        )
        document = CaseDocument(
            case_id=case.id,
            size=len(DOCUMENT_BYTES),
            added_by=audit.staff_actor(adviser.id),
            created_at=deps.clock.now(),
        )
        disclosure = Disclosure(case_id=case.id, staff_id=adviser.id, made_at=deps.clock.now())
        grant = CaseAccessGrant(
            staff_id=adviser.id,
            case_id=case.id,
            granted_at=deps.clock.now(),
            expires_at=deps.clock.now() + timedelta(hours=8),
        )
        request = ConsentRequest(
            case_id=case.id,
            scope=ConsentScope.UNIVERSITY.value,
            requested_by=adviser.id,
            created_at=deps.clock.now(),
        )
        await data_keys.bind(uow.session, second, document, disclosure, grant, request)
        second.body_enc = deps.cipher.seal(second, "body_enc", NOTE + " (corrected)")  # type: ignore[assignment]
        second.reason_enc = deps.cipher.seal(second, "reason_enc", CORRECTION_REASON)
        document.meta_enc = deps.cipher.seal_json(
            document,
            "meta_enc",
            {"name": DOCUMENT_NAME, "media_type": "application/pdf", "sha256": "0" * 64},
        )
        document.content_enc = deps.cipher.seal_bytes(document, "content_enc", DOCUMENT_BYTES)
        disclosure.details_enc = deps.cipher.seal_json(
            disclosure,
            "details_enc",
            {
                "basis": DisclosureBasis.WELFARE.value,
                "recipient_kind": RecipientKind.HEALTH_CENTRE.value,
                "recipient": RECIPIENT,
                "content": DISCLOSED,
                "statute": None,
                "statute_text": None,
                "scope": None,
                "limitation": None,
            },
            pad_to=DISCLOSURE_BLOCK,
        )
        grant.reason_enc = deps.cipher.seal_json(
            grant, "reason_enc", {"reason": "other", "other": GLASS_REASON}
        )
        request.purpose_enc = deps.cipher.seal(request, "purpose_enc", PURPOSE)  # type: ignore[assignment]
        uow.session.add_all([second, document, disclosure, grant, request])
        entry = await consent.record_consent(
            uow,
            deps,
            student_id=case.student_id,
            scope=ConsentScope.SCHOOL,
            granted=True,
            channel=ConsentChannel.EMAIL,
            actor=audit.staff_actor(adviser.id),
            recorded_by_staff_id=adviser.id,
        )
        entry.details_enc = deps.cipher.seal_json(
            entry,
            "details_enc",
            {
                "email_date": "2026-11-20",
                "email_reference": EMAIL_REFERENCE,
                "limitation": LIMITATION,
                "purpose": None,
                "request": None,
            },
            pad_to=CONSENT_DETAILS_BLOCK,
        )
        await staff_drafts.begin(
            uow,
            deps,
            adviser.id,
            DraftPurpose.NOTE,
            case_id=case.id,
            content={"parts": [DRAFT_TEXT]},
        )
        await uow.commit()
    return case


async def test_no_case_record_canary_reaches_the_database_in_plaintext(
    deps: Deps, database: Database
) -> None:
    await fill_a_case(deps)
    raw = await _raw_contents(database)
    assert len(raw) > 1000
    for canary in CANARIES:
        for needle in (canary.encode(), canary.lower().encode()):
            assert needle not in raw, f"{canary!r} in plaintext in the {database.kind} database"


async def test_case_records_stay_under_their_case_key_and_open_after_a_rotation(
    deps: Deps, key_spec: str
) -> None:
    case = await fill_a_case(deps)
    async with deps.uow() as uow:
        before = {n.id: n.body_enc for n in (await uow.session.execute(select(CaseNote))).scalars()}
    material = new_key_material()
    newer = Deps(
        deps.sessions,
        FieldCipher(KeyRing(parse_key_spec(f"k2:{material},{key_spec}"))),
        deps.index,
        deps.clock,
        deps.settings,
        deps.audit_key,
    )
    async with newer.uow() as uow:
        report = await rotate_all(uow.session, newer.cipher)
        await uow.commit()
    # The case's and the student's keys are rewrapped; the records themselves are not touched.
    assert report.data_keys_rewrapped == report.data_keys_examined == 2
    only_new = Deps(
        deps.sessions,
        FieldCipher(KeyRing(parse_key_spec(f"k2:{material}"))),
        deps.index,
        deps.clock,
        deps.settings,
        deps.audit_key,
    )
    async with only_new.uow() as uow:
        for model in (CaseNote, CaseDocument, Disclosure, CaseAccessGrant, ConsentRequest):
            for row in (await uow.session.execute(select(model))).scalars():
                for column in SEALED_COLUMNS[model]:
                    token = getattr(row, column)
                    if token is not None:
                        assert sealed_under_data_key(token), column
        notes = list(
            (await uow.session.execute(select(CaseNote).order_by(CaseNote.position))).scalars()
        )
        assert {n.id: n.body_enc for n in notes} == before
        assert [only_new.cipher.open(n, "body_enc", n.body_enc) for n in notes] == [
            NOTE,
            NOTE + " (corrected)",
        ]
        document = await uow.session.scalar(select(CaseDocument))
        assert document is not None
        assert only_new.cipher.open_bytes(document, "content_enc", document.content_enc) == (
            DOCUMENT_BYTES
        )
        reopened = await cases.case_by_reference(uow, case.reference)
        history = await cases.episodes(uow, only_new, reopened)
    assert history[-1].reopen_reason == REOPEN_REASON


async def test_a_documents_bytes_open_under_its_own_case_only(deps: Deps) -> None:
    await fill_a_case(deps)
    async with deps.uow() as uow:
        document = await uow.session.scalar(select(CaseDocument))
        assert document is not None
        assert deps.cipher.open_bytes(document, "content_enc", document.content_enc) == (
            DOCUMENT_BYTES
        )
        # The same row, as if its ciphertext had been moved to another case.
        moved = CaseDocument(id=document.id, case_id="f" * 32)
        await data_keys.bind(uow.session, moved)
        with pytest.raises(DecryptionError):
            deps.cipher.open_bytes(moved, "content_enc", document.content_enc)
        with pytest.raises(DecryptionError):
            deps.cipher.open_json(moved, "meta_enc", document.meta_enc)
