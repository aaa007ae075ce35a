"""The signature register: each signature with its version and digest, who has not signed the
current version, in pages that fit Telegram; and the CSV copy for the Students' Union office."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

from bot.clock import FixedClock
from bot.message_parts import TEXT_LIMIT, read_length
from bot.services.staff import policy_register, policy_versions, staff
from bot.services.staff.policy import bundled_policy, current_policy, digest
from bot.services.staff.policy_register import BOM
from bot.transport import LocalUser
from bot.vocabulary import AuditAction, Role
from tests.handlers.conftest import ADVISER, COORDINATOR, Bot, add_staff
from tests.handlers.test_policy_publishing import NEW_TEXT
from tests.handlers.test_staff_and_roles import actions

# Names in any script, and names a spreadsheet would otherwise run as formulas.
NAMES = {
    5101: "Siân Llŷr-Ffrancon",
    5102: "ليلى حداد",
    5103: "王小明",
    5104: "Jo 🌈 Rainbow",
    5105: '=HYPERLINK("http://evil.example","click")',
    5106: "+44 Team",
    5107: "-Minus Sign",
    5108: "@Handle Person",
    5109: "Robin <b>Bold</b> & Co",
}


async def add_named(bot: Bot, telegram_id: int, name: str, role: Role = Role.ADVISER) -> None:
    async with bot.deps.uow() as uow:
        await staff.add_staff(
            uow, bot.deps, telegram_user_id=telegram_id, name=name, role=role, actor="test"
        )
        await uow.commit()


async def sign(bot: Bot, telegram_id: int) -> None:
    async with bot.deps.uow() as uow:
        await staff.acknowledge_policy(uow, bot.deps, telegram_id, shown=None)


async def publish(bot: Bot, text: str = NEW_TEXT, version: str = "2026.2") -> None:
    async with bot.deps.uow() as uow:
        await policy_versions.publish(
            uow,
            bot.deps,
            text=text,
            approved_on=date(2026, 11, 20),
            version=version,
            publisher=None,
        )
        await uow.commit()


async def sign_current(bot: Bot, telegram_id: int) -> None:
    """Acknowledge whatever is current (as pressing the button under it does)."""
    async with bot.deps.uow() as uow:
        shown = (await current_policy(uow)).short_digest
        await staff.acknowledge_policy(uow, bot.deps, telegram_id, shown)


async def test_the_register_lists_each_signature_with_version_and_digest_and_who_has_not_signed(
    bot: Bot, clock: FixedClock
) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)  # signs 2026.1 now
    clock.advance(timedelta(minutes=1))
    await add_staff(bot, ADVISER, Role.ADVISER)  # signs 2026.1 a minute later
    clock.advance(timedelta(minutes=1))
    await add_named(bot, 5109, NAMES[5109])  # signs nothing
    clock.advance(timedelta(days=1))
    await publish(bot)
    clock.advance(timedelta(hours=2))
    await sign_current(bot, COORDINATOR.id)

    coordinator = bot.chat(COORDINATOR)
    await coordinator.send("/policy signatures")
    shown = coordinator.last_text
    assert "Current version: 2026.2 (approved by the Board of Trustees on Friday 20 November" in (
        shown
    )
    not_signed = shown.split("Not yet signed the current version (2)\n", 1)[1]
    assert not_signed.startswith("• Alex Adviser (adviser)\n• Robin <b>Bold</b> & Co (adviser)")
    signatures = shown.split("Signatures, newest first (3)\n", 1)[1].splitlines()
    old, new = bundled_policy().sha256[:16], digest(NEW_TEXT)[:16]
    assert signatures[:3] == [
        f"• 25 Nov 2026 12:02 · Casey Coordinator (coordinator) · version 2026.2 · {new}",
        f"• 24 Nov 2026 10:01 · Alex Adviser (adviser) · version 2026.1 · {old}",
        f"• 24 Nov 2026 10:00 · Casey Coordinator (coordinator) · version 2026.1 · {old}",
    ]
    # The name was escaped where the message was built: it reads as typed, nothing bold.
    assert "&lt;b&gt;Bold&lt;/b&gt; &amp; Co" in (coordinator.last.text or "")
    assert AuditAction.POLICY_SIGNATURES_READ.value in await actions(bot)


async def test_a_long_register_comes_in_pages_within_telegram_limits(bot: Bot) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    long_name = "👩🏽‍⚖️ Ōkami " * 8  # emoji count twice in Telegram's UTF-16 units
    for n in range(40):
        await add_named(bot, 7000 + n, f"{long_name}{n}"[:100])
        await sign(bot, 7000 + n)
    coordinator = bot.chat(COORDINATOR)
    await coordinator.send("/policy signatures")
    first = coordinator.last
    assert "Page 1 of " in first.plain_text
    total = int(first.plain_text.rsplit("Page 1 of ", 1)[1].split()[0])
    assert total >= 2
    seen = [first.plain_text]
    for page in range(2, total + 1):
        await coordinator.press("Next ›", message=coordinator.last)
        assert coordinator.replies == []  # the page replaces the one pressed
        seen.append(coordinator.last.plain_text)
        assert f"Page {page} of {total}" in seen[-1]
    assert all(read_length(text) <= TEXT_LIMIT for text in seen)
    listed = "\n".join(seen)
    assert all(f"{long_name}{n}"[:100].strip() in listed for n in range(40))
    await coordinator.press("‹ Previous", message=coordinator.last)
    assert f"Page {total - 1} of {total}" in coordinator.last.plain_text


async def test_the_csv_opens_in_a_spreadsheet_with_names_in_any_script(
    bot: Bot, clock: FixedClock
) -> None:
    for telegram_id, name in NAMES.items():
        await add_named(bot, telegram_id, name)
        await sign(bot, telegram_id)
        clock.advance(timedelta(minutes=1))
    clock.set(datetime(2027, 6, 1, 8, 30, tzinfo=UTC))  # British Summer Time
    await publish(bot)
    await sign_current(bot, 5102)
    async with bot.deps.uow() as uow:
        register = await policy_register.for_export(uow, bot.deps)
    data = policy_register.as_csv(register.signatures, bot.deps.settings.zone).encode("utf-8")

    assert data.startswith(b"\xef\xbb\xbf")  # the byte order mark Excel looks for
    text = data.decode("utf-8")
    assert text.startswith(BOM)
    rows = list(csv.reader(io.StringIO(text.removeprefix(BOM), newline="")))
    assert rows[0] == [
        "Name",
        "Role",
        "Policy version",
        "SHA-256 of the text acknowledged",
        "Acknowledged at (UTC)",
        "Acknowledged at (Europe/London)",
    ]
    body = rows[1:]
    assert len(body) == len(NAMES) + 1  # one row per signature
    expected_names = ["'" + name if name[0] in "=+-@" else name for name in NAMES.values()] + [
        "ليلى حداد"
    ]
    assert [r[0] for r in body] == expected_names
    assert body[0][1:] == [  # the first, signed at the test clock's start
        "adviser",
        "2026.1",
        bundled_policy().sha256,
        "2026-11-24T10:00:00Z",
        "2026-11-24T10:00:00+00:00",
    ]
    assert body[-1][2:] == [
        "2026.2",
        digest(NEW_TEXT),
        "2027-06-01T08:30:00Z",
        "2027-06-01T09:30:00+01:00",
    ]
    # No cell a spreadsheet would run as a formula.
    assert not [cell for row in body for cell in row if cell[:1] in ("=", "+", "-", "@")]


def test_a_cell_that_would_be_a_formula_is_kept_as_text() -> None:
    safe = policy_register.safe_cell
    assert safe("=1+1") == "'=1+1"
    assert safe("+44") == "'+44"
    assert safe("-2") == "'-2"
    assert safe("@SUM(A1)") == "'@SUM(A1)"
    assert safe("\t=1") == "'\t=1"
    assert safe("Siân = Llŷr") == "Siân = Llŷr"
    assert safe("") == ""


async def test_only_the_coordinator_reads_the_register(bot: Bot) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    await add_staff(bot, ADVISER, Role.ADVISER)
    adviser = bot.chat(ADVISER)
    await adviser.send("/policy signatures")
    assert adviser.last_text == "Sorry, that is only for USS staff with the right role."
    await adviser.send("/policy")
    assert adviser.last.document is not None  # reading the statement is for everyone


async def test_a_deactivated_signer_stays_in_the_register_and_is_not_asked_to_sign(
    bot: Bot,
) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    former = LocalUser(2010, "Fay", "Former")
    await add_staff(bot, former, Role.ADVISER)
    async with bot.deps.uow() as uow:
        member = await staff.find_staff(uow, bot.deps, former.id)
        assert member is not None
        member.active = False
        await uow.commit()
    await publish(bot)
    await add_staff(bot, ADVISER, Role.ADVISER, acknowledged=False)
    await sign_current(bot, COORDINATOR.id)
    coordinator = bot.chat(COORDINATOR)
    await coordinator.send("/policy signatures")
    shown = coordinator.last_text
    assert "• Alex Adviser (adviser)" in shown.split("Signatures")[0]
    assert "Fay Former" not in shown.split("Signatures")[0]
    assert "Casey Coordinator" not in shown.split("Signatures")[0]
    assert "Fay Former (adviser, no longer active) · version 2026.1" in shown
