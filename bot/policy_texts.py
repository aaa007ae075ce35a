"""The words of the policy cycle (publishing a version, the signature register, the annual
review): the texts catalogue's third module, kept apart so each stays one idea.

Like bot/texts.py, HTML is escaped here, where messages are built, and only here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from html import escape
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.message_parts import read_length
from bot.texts import ROLE_LABELS, format_date

if TYPE_CHECKING:
    from bot.services.staff.policy import PolicyDocument
    from bot.services.staff.policy_publishing import PublishDraft
    from bot.services.staff.policy_register import Register

POLICY_REPLACED = (
    "A newer version of the policy was published after that one was sent to you: please "
    "read this one, the current version."
)
POLICY_USAGE = (
    "/policy: the confidentiality statement\n"
    "/policy publish: publish a new version approved by the Board of Trustees\n"
    "/policy signatures: who has acknowledged which version"
)

# ---------------------------------------------------------------- publishing
PUBLISH_STARTED = (
    "<b>Publish a new version of the confidentiality statement</b>\n"
    "Send the new text as a document: a plain-text <b>.txt</b> file (UTF-8), up to 100 KB. "
    "The policy's changes must be approved by the Board of Trustees: I will ask when they "
    "approved it. /cancel stops without publishing anything."
)
SEND_A_DOCUMENT = "Please send the new statement as a document (a .txt file), or /cancel to stop."
TEXT_REFUSALS: Mapping[str, str] = {
    "not_text_file": (
        "That is not a .txt file. Please save the statement as plain text (UTF-8) with a "
        ".txt name and send it as a document."
    ),
    "too_large": "That file is over 100 KB, far longer than a policy statement. Please check it.",
    "empty": "That file is empty. Please send the statement's text.",
    "not_utf8": (
        "I can't read that file as UTF-8 text. In your editor, choose Save As, plain text, "
        "encoding UTF-8, and send it again."
    ),
    "not_plain_text": (
        "That file holds characters a plain-text statement never has (it may be a word "
        "processor file renamed .txt). Please save it as plain text and send it again."
    ),
    "same_as_current": (
        "That text is exactly the current version's: there is nothing new to publish. "
        "Send the changed text, or /cancel."
    ),
}
DATE_REFUSALS: Mapping[str, str] = {
    "format": "Please type the date as 2026-11-30 or 30/11/2026.",
    "future": "That date is in the future: please type the date the Board of Trustees approved it.",
}
VERSION_REFUSALS: Mapping[str, str] = {
    "format": (
        "A version name has letters, digits, dots or dashes only (for example 2026.2), "
        "up to 32 characters. Please type another."
    ),
    "taken": "That version name is already used. Please choose another.",
}
BTN_PUBLISH = "Publish it"
BTN_DISCARD = "Cancel"
PUBLISH_DISCARDED = "Nothing was published."


def _short(sha256: str) -> str:
    return f"<code>{escape(sha256[:16])}…</code>"


def _first_line(line: str) -> str:
    return escape(line if len(line) <= 80 else line[:79] + "…")


def ask_approval(draft: PublishDraft) -> str:
    return (
        f"Received: “{_first_line(draft.first_line)}”, {draft.characters:,} characters "
        f"(SHA-256 {_short(draft.sha256)}).\n\n"
        "On what date did the <b>Board of Trustees</b> approve this version? "
        "Type it as 2026-11-30 or 30/11/2026."
    )


def ask_version(draft: PublishDraft) -> str:
    assert draft.approved_on is not None
    return (
        f"Approved on {format_date(draft.approved_on)}.\n\n"
        "What is this version called? Type a name (letters, digits, dots, dashes), or use "
        f"the suggestion, <b>{escape(draft.suggested or '')}</b>."
    )


def btn_use_version(version: str) -> str:
    return f"Call it {version}"


def confirm_publish(draft: PublishDraft) -> str:
    assert draft.approved_on is not None and draft.version is not None
    return (
        f"<b>Publish version {escape(draft.version)}?</b>\n"
        f"• Approved by the Board of Trustees on {format_date(draft.approved_on)}\n"
        f"• “{_first_line(draft.first_line)}”, {draft.characters:,} characters\n"
        f"• SHA-256 {_short(draft.sha256)}\n\n"
        "Once published it is the current policy: each of the "
        f"{draft.staff_to_sign} active staff members (you too) must acknowledge it before "
        "their next staff command, and each is told now."
    )


def published(policy: PolicyDocument) -> str:
    return (
        f"Version {escape(policy.version)} is published: it is now the current policy, and "
        "every active staff member has been asked to acknowledge it. Please acknowledge it "
        "yourself too."
    )


def new_version_notice(version: str, approved_on: date | None) -> str:
    """To each active staff member, through the outbox."""
    approved = (
        f", approved by the Board of Trustees on {format_date(approved_on)}" if approved_on else ""
    )
    return (
        f"<b>A new version of the USS Confidentiality Statement</b> ({escape(version)}"
        f"{approved}) has been published. Please read and acknowledge it: send /policy. "
        "Your staff commands work again once you have."
    )


# ---------------------------------------------------------------- the annual review
def review_due(version: str, approved_on: date, review_by: date, today: date) -> str:
    """To the coordinators, a month before the anniversary of the approval and on the day."""
    when = (
        "is due <b>today</b>"
        if review_by == today
        else f"was due on <b>{format_date(review_by)}</b>"
        if review_by < today
        else f"is due by <b>{format_date(review_by)}</b>"
    )
    return (
        "<b>Annual review of the confidentiality policy</b>\n"
        f"The policy is to be reviewed every year. The current version, {escape(version)}, "
        f"was approved by the Board of Trustees on {format_date(approved_on)}: its review "
        f"{when}. Changes must be approved by the Board of Trustees; then publish the "
        "reviewed version with /policy publish (staff will be asked to acknowledge it)."
    )


# ---------------------------------------------------------------- the signature register
PAGE_BODY_LIMIT = 3600  # of the 4,096 units a message may hold: room for title and footer
REGISTER_TITLE = "<b>Policy signatures</b>"


def _current(policy: PolicyDocument) -> str:
    if policy.approved_on is None:
        approved = "the statement bundled with the bot, no approval date recorded"
    else:
        approved = f"approved by the Board of Trustees on {format_date(policy.approved_on)}"
    return (
        f"Current version: <b>{escape(policy.version)}</b> ({approved}), "
        f"SHA-256 {_short(policy.sha256)}"
    )


def _moment(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local:%d %b %Y %H:%M}"


def register_lines(register: Register, zone: ZoneInfo) -> list[str]:
    """The register as blocks of lines: the current version, who has not signed, then every
    signature, newest first."""
    blocks = [_current(register.current)]
    if register.unsigned:
        blocks.append(f"<b>Not yet signed the current version ({len(register.unsigned)})</b>")
        blocks += [f"• {escape(u.name)} ({ROLE_LABELS[u.role]})" for u in register.unsigned]
    else:
        blocks.append("Every active staff member has signed the current version.")
    if not register.signatures:
        blocks.append("<i>No signatures yet.</i>")
        return blocks
    blocks.append(f"<b>Signatures, newest first ({len(register.signatures)})</b>")
    for s in reversed(register.signatures):
        former = ", no longer active" if not s.active else ""
        blocks.append(
            f"• {_moment(s.acknowledged_at, zone)} · {escape(s.name)} "
            f"({ROLE_LABELS[s.role]}{former}) · version {escape(s.version)} · "
            f"<code>{escape(s.sha256[:16])}</code>"
        )
    blocks.append(REGISTER_EXPORT_HINT)
    return blocks


def register_pages(register: Register, zone: ZoneInfo) -> list[str]:
    """The register in pages that each fit a message, counted as Telegram counts."""
    return paginate(REGISTER_TITLE, register_lines(register, zone))


def paginate(title: str, lines: Sequence[str]) -> list[str]:
    bodies: list[list[str]] = []
    used = PAGE_BODY_LIMIT + 1
    for line in lines:
        units = read_length(line)
        if used + 1 + units > PAGE_BODY_LIMIT:
            bodies.append([])
            used = -1
        bodies[-1].append(line)
        used += 1 + units
    total = len(bodies)
    return [
        f"{title}\n" + "\n".join(body) + (f"\n\n<i>Page {n} of {total}</i>" if total > 1 else "")
        for n, body in enumerate(bodies, start=1)
    ]


REGISTER_EXPORT_HINT = (
    "The Students' Union office copy, with full digests: "
    "<code>python -m bot policy signatures --csv --output signatures.csv</code>"
)
