"""Publishing a policy version: the coordinator sends the text, the approval date and a name;
every staff member must then acknowledge the new version before their next staff command, and
each active one is told once."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from bot import policy_texts, texts
from bot.services.staff import policy_versions, staff
from bot.services.staff.policy import bundled_policy, current_policy, digest
from bot.services.staff.policy_versions import (
    ApprovalDateRefused,
    PolicyTextRefused,
    TextProblem,
    VersionProblem,
    VersionRefused,
)
from bot.transport import LocalChat, LocalUser, SentMessage
from bot.vocabulary import AuditAction, Role
from storage.models import PolicyAcknowledgement, PolicyVersion, StaffDraft
from tests.handlers.conftest import ADVISER, COORDINATOR, SECURITY, Bot, BotMaker, add_staff
from tests.handlers.test_booking_journey import deliver
from tests.handlers.test_staff_and_roles import actions

NEW_TEXT = bundled_policy().text + "\nReviewed by the Board of Trustees, November 2026.\n"
SECOND_COORDINATOR = LocalUser(3002, "Dana", "Deputy")
FORMER = LocalUser(2009, "Fay", "Former")


def statement(text: str = NEW_TEXT, name: str = "statement.txt") -> tuple[bytes, str]:
    return text.encode("utf-8"), name


async def send_file(bot: Bot, chat: LocalChat, data: bytes, name: str | None) -> list[SentMessage]:
    return await chat.deliver(bot.factory.document(chat.user, content=data, file_name=name))


async def publish_in_the_bot(
    bot: Bot, coordinator: LocalChat, text: str = NEW_TEXT, approved: str = "20/11/2026"
) -> list[SentMessage]:
    """The whole journey, taking the suggested version name; the replies to the last press."""
    await coordinator.send("/policy publish")
    assert coordinator.last_text == policy_texts.PUBLISH_STARTED.replace("<b>", "").replace(
        "</b>", ""
    )
    await send_file(bot, coordinator, *statement(text))
    assert "Board of Trustees" in coordinator.last_text
    await coordinator.send(approved)
    assert coordinator.buttons() == [policy_texts.btn_use_version("2026.2")]
    await coordinator.press(policy_texts.btn_use_version("2026.2"))
    assert coordinator.last_text.startswith("Publish version 2026.2?")
    return await coordinator.press(policy_texts.BTN_PUBLISH)


def policy_sent(replies: list[SentMessage]) -> SentMessage:
    documents = [m for m in replies if m.document is not None]
    assert len(documents) == 1, [m.plain_text[:60] for m in replies]
    return documents[0]


async def test_publishing_makes_every_staff_member_acknowledge_the_new_version_first(
    bot: Bot,
) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    await add_staff(bot, ADVISER, Role.ADVISER)
    coordinator, adviser = bot.chat(COORDINATOR), bot.chat(ADVISER)
    await adviser.send("/today")
    assert adviser.last.document is None  # signed the bundled version: the command works

    replies = await publish_in_the_bot(bot, coordinator)
    assert "Version 2026.2 is published" in replies[0].plain_text
    document = policy_sent(replies)
    assert document.document is not None
    assert document.document[0] == "uss-confidentiality-statement-2026.2.txt"
    assert document.document[1].decode("utf-8") == NEW_TEXT
    assert "approved by the Board of Trustees on Friday 20 November 2026" in document.plain_text

    # The next staff command of each gets the new version, not what it asked for.
    for chat, command in ((adviser, "/today"), (coordinator, "/staff")):
        replies = await chat.send(command)
        sent = policy_sent(replies)
        assert sent.document is not None and sent.document[1].decode("utf-8") == NEW_TEXT
        await chat.press(texts.BTN_ACK_POLICY, message=sent)
        assert "version 2026.2 is recorded" in chat.replies[0].plain_text
        replies = await chat.send(command)
        assert all(m.document is None for m in replies)
    assert "Alex Adviser: adviser" in coordinator.last_text

    async with bot.deps.uow() as uow:
        signed = (
            await uow.session.execute(
                select(PolicyAcknowledgement.policy_version, PolicyAcknowledgement.policy_sha256)
                .join(PolicyVersion, PolicyVersion.version == PolicyAcknowledgement.policy_version)
                .order_by(PolicyAcknowledgement.acknowledged_at)
            )
        ).all()
        row = (await uow.session.execute(select(PolicyVersion))).scalar_one()
    assert signed == [("2026.2", digest(NEW_TEXT))] * 2
    assert (row.version, row.approved_on, row.sha256) == (
        "2026.2",
        date(2026, 11, 20),
        digest(NEW_TEXT),
    )
    assert AuditAction.POLICY_PUBLISHED.value in await actions(bot)


async def test_each_active_staff_member_but_the_publisher_is_told_once(bot: Bot) -> None:
    for user, role in (
        (COORDINATOR, Role.COORDINATOR),
        (SECOND_COORDINATOR, Role.COORDINATOR),
        (ADVISER, Role.ADVISER),
        (SECURITY, Role.SECURITY),
        (FORMER, Role.ADVISER),
    ):
        await add_staff(bot, user, role)
    async with bot.deps.uow() as uow:
        former = await staff.find_staff(uow, bot.deps, FORMER.id)
        assert former is not None
        former.active = False
        await uow.commit()
    await publish_in_the_bot(bot, bot.chat(COORDINATOR))
    await deliver(bot)
    await deliver(bot)  # a second run sends nothing again

    def notices(user: LocalUser) -> list[str]:
        return [
            m.plain_text
            for m in bot.api.messages(user.id)
            if m.plain_text.startswith("A new version of the USS Confidentiality Statement")
        ]

    for user in (SECOND_COORDINATOR, ADVISER, SECURITY):
        told = notices(user)
        assert len(told) == 1, user
        assert "(2026.2, approved by the Board of Trustees on Friday 20 November 2026)" in told[0]
        assert "/policy" in told[0]
    assert notices(COORDINATOR) == []  # shown the new version where they published it
    assert notices(FORMER) == []


async def test_security_acknowledges_the_new_version_with_policy(bot: Bot) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    await add_staff(bot, SECURITY, Role.SECURITY)
    await publish_in_the_bot(bot, bot.chat(COORDINATOR))
    security = bot.chat(SECURITY)
    sent = policy_sent(await security.send("/policy"))
    assert "The notices you receive here are confidential" in sent.plain_text
    await security.press(texts.BTN_ACK_POLICY, message=sent)
    assert "version 2026.2 is recorded" in security.replies[0].plain_text


async def test_an_acknowledgement_pressed_under_a_replaced_version_records_nothing(
    bot: Bot,
) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    await add_staff(bot, ADVISER, Role.ADVISER, acknowledged=False)
    adviser = bot.chat(ADVISER)
    old = policy_sent(await adviser.send("/start"))
    await publish_in_the_bot(bot, bot.chat(COORDINATOR))

    replies = await adviser.press(texts.BTN_ACK_POLICY, message=old)
    assert replies[0].plain_text == policy_texts.POLICY_REPLACED
    fresh = policy_sent(replies)
    assert fresh.document is not None and fresh.document[1].decode("utf-8") == NEW_TEXT
    async with bot.deps.uow() as uow:
        member = await staff.find_staff(uow, bot.deps, ADVISER.id)
        assert member is not None
        assert not await staff.has_acknowledged(uow, member)
    await adviser.press(texts.BTN_ACK_POLICY, message=fresh)
    assert "version 2026.2 is recorded" in adviser.replies[0].plain_text


async def test_a_button_sent_before_versions_existed_still_acknowledges_the_bundled_one(
    bot: Bot,
) -> None:
    await add_staff(bot, ADVISER, Role.ADVISER, acknowledged=False)
    adviser = bot.chat(ADVISER)
    sent = policy_sent(await adviser.send("/start"))
    await adviser.deliver(bot.factory.callback(ADVISER, sent, "pa"))  # no digest on it
    assert f"version {bundled_policy().version} is recorded" in adviser.replies[0].plain_text


async def test_the_journey_survives_a_restart_and_cancel_drops_it(
    bot: Bot, make_bot: BotMaker
) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    await bot.chat(COORDINATOR).send("/policy publish")
    await send_file(bot, bot.chat(COORDINATOR), *statement())

    restarted = await make_bot()
    coordinator = restarted.chat(COORDINATOR)
    await coordinator.send("2026-11-20")
    assert coordinator.buttons() == [policy_texts.btn_use_version("2026.2")]
    await coordinator.send("2026-Autumn")
    assert coordinator.last_text.startswith("Publish version 2026-Autumn?")
    await coordinator.send("/cancel")
    async with restarted.deps.uow() as uow:
        assert (await uow.session.execute(select(StaffDraft))).first() is None
        assert (await current_policy(uow)).version == bundled_policy().version
    await coordinator.send("/policy publish")
    await coordinator.send("/cancel")
    await coordinator.send("/policy publish")
    await send_file(restarted, coordinator, *statement())
    await coordinator.send("20/11/2026")
    await coordinator.send("2026.5")
    await coordinator.press(policy_texts.BTN_DISCARD)
    assert coordinator.last_text == policy_texts.PUBLISH_DISCARDED
    async with restarted.deps.uow() as uow:
        assert (await uow.session.execute(select(PolicyVersion))).first() is None


TOO_BIG = policy_versions.MAX_BYTES + 1


@pytest.mark.parametrize(
    ("data", "name", "problem"),
    [
        (b"%PDF-1.7 a policy", "statement.pdf", TextProblem.NOT_TEXT_FILE),
        (NEW_TEXT.encode(), None, TextProblem.NOT_TEXT_FILE),
        (NEW_TEXT.encode("utf-16"), "statement.txt", TextProblem.NOT_UTF8),
        (b"Caf\xe9 policy in Latin-1", "statement.txt", TextProblem.NOT_UTF8),
        (b"", "statement.txt", TextProblem.EMPTY),
        (b" \n\t\n", "statement.txt", TextProblem.EMPTY),
        (b"PK\x03\x04\x00\x00word/document.xml", "policy.TXT", TextProblem.NOT_PLAIN_TEXT),
        (b"a" * TOO_BIG, "statement.txt", TextProblem.TOO_LARGE),
        (bundled_policy().text.encode(), "statement.txt", TextProblem.SAME_AS_CURRENT),
        # The same text saved on Windows, with a byte order mark: still the same text.
        (
            b"\xef\xbb\xbf" + bundled_policy().text.replace("\n", "\r\n").encode(),
            "statement.txt",
            TextProblem.SAME_AS_CURRENT,
        ),
    ],
    ids=lambda v: v.value if isinstance(v, TextProblem) else None,
)
async def test_a_document_that_is_not_a_new_statement_is_refused_kindly(
    bot: Bot, data: bytes, name: str | None, problem: TextProblem
) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    coordinator = bot.chat(COORDINATOR)
    await coordinator.send("/policy publish")
    replies = await send_file(bot, coordinator, data, name)
    assert [m.plain_text for m in replies] == [
        texts_plain(policy_texts.TEXT_REFUSALS[problem.value])
    ]
    # Still waiting for the statement: a good one goes on.
    await send_file(bot, coordinator, *statement())
    assert "Board of Trustees approve" in coordinator.last_text


def texts_plain(html: str) -> str:
    return html.replace("<b>", "").replace("</b>", "")


async def test_anything_but_a_document_is_answered_with_what_is_awaited(bot: Bot) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    coordinator = bot.chat(COORDINATOR)
    await coordinator.send("/policy publish")
    for payload in (
        bot.factory.photo(COORDINATOR),
        bot.factory.sticker(COORDINATOR),
        bot.factory.text(COORDINATOR, "here is the policy"),
    ):
        replies = await coordinator.deliver(payload)
        assert [m.plain_text for m in replies] == [policy_texts.SEND_A_DOCUMENT]
    # A file Telegram says is too big is refused before it is fetched.
    payload = bot.factory.document(COORDINATOR, file_name="huge.txt", file_size=30_000_000)
    replies = await coordinator.deliver(payload)
    assert [m.plain_text for m in replies] == [policy_texts.TEXT_REFUSALS["too_large"]]


async def test_the_approval_date_and_the_version_name_are_checked(bot: Bot) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    coordinator = bot.chat(COORDINATOR)
    await coordinator.send("/policy publish")
    await send_file(bot, coordinator, *statement())
    for typed, reply in (
        ("next Tuesday", policy_texts.DATE_REFUSALS["format"]),
        ("31/02/2026", policy_texts.DATE_REFUSALS["format"]),
        ("2026-11-25", policy_texts.DATE_REFUSALS["future"]),  # the test clock's tomorrow
        ("01/12/2026", policy_texts.DATE_REFUSALS["future"]),
    ):
        await coordinator.send(typed)
        assert coordinator.last_text == reply, typed
    await coordinator.send("24/11/2026")  # today will do
    for typed, reply in (
        ("version two!", policy_texts.VERSION_REFUSALS["format"]),
        ("x" * 33, policy_texts.VERSION_REFUSALS["format"]),
        ("2026.1", policy_texts.VERSION_REFUSALS["taken"]),  # the bundled statement's
    ):
        await coordinator.send(typed)
        assert coordinator.last_text == reply, typed
    await coordinator.send("2026.2")
    assert "Approved by the Board of Trustees on Tuesday 24 November 2026" in (
        coordinator.last_text
    )


async def test_the_same_text_or_a_taken_name_is_refused_when_publishing(bot: Bot) -> None:
    deps = bot.deps
    async with deps.uow() as uow:
        await policy_versions.publish(
            uow,
            deps,
            text=NEW_TEXT,
            approved_on=date(2026, 11, 20),
            version="2026.2",
            publisher=None,
        )
        await uow.commit()
    attempts: list[tuple[str, str, type[Exception], object]] = [
        (NEW_TEXT, "2026.3", PolicyTextRefused, TextProblem.SAME_AS_CURRENT),
        (NEW_TEXT + "more", "2026.2", VersionRefused, VersionProblem.TAKEN),
        (NEW_TEXT + "more", "2026.1", VersionRefused, VersionProblem.TAKEN),
    ]
    for text, version, error, problem in attempts:
        async with deps.uow() as uow:
            with pytest.raises(error) as raised:
                await policy_versions.publish(
                    uow,
                    deps,
                    text=text,
                    approved_on=date(2026, 11, 20),
                    version=version,
                    publisher=None,
                )
        assert getattr(raised.value, "problem", None) is problem
    async with deps.uow() as uow:
        with pytest.raises(ApprovalDateRefused):
            await policy_versions.publish(
                uow,
                deps,
                text="x",
                approved_on=date(2026, 11, 25),
                version="2026.9",
                publisher=None,
            )
    # The bundled text again, after another version: allowed (going back is a change too).
    async with deps.uow() as uow:
        back = await policy_versions.publish(
            uow,
            deps,
            text=bundled_policy().text,
            approved_on=date(2026, 11, 24),
            version="2026.3",
            publisher=None,
        )
        await uow.commit()
    async with deps.uow() as uow:
        assert await current_policy(uow) == back
