"""/stats in the bot, on both engines: the series and their latest period, a series as text
exactly as the disclosure-control rule publishes it, the chart as an image, and refusals
that say why. No reply ever holds a true small count."""

from __future__ import annotations

import re
from pathlib import Path

from bot import statistics_texts as words
from bot import texts
from bot.message_parts import TEXT_LIMIT, read_length
from bot.services.statistics.disclosure_control import publish
from bot.services.statistics.tables import CountTable, Figure, PublishedTable
from bot.transport import SentMessage
from bot.vocabulary import AuditAction, Role
from storage.audit import entries as audit_entries
from tests.handlers.conftest import COORDINATOR, Bot, add_staff
from tests.integration.test_statistics_reports import opened, put

MODES = ("in_person", "phone", "video")
# Cases opened in summer 2026 (the clock is in November 2026: the latest term that is over),
# spread over its months: finance by phone is 3.
SUMMER = {
    ("Finance", "in_person"): 43,
    ("Finance", "video"): 12,
    ("Finance", "phone"): 3,
    ("Housing", "in_person"): 31,
    ("Housing", "phone"): 16,
    ("Academic appeal", "in_person"): 52,
    ("Academic appeal", "video"): 21,
    ("Academic appeal", "phone"): 9,
}
SUMMER_MONTHS = ("2026-05", "2026-06", "2026-07", "2026-08")


async def summer_counted(bot: Bot) -> CountTable:
    """SUMMER written into the statistics table, split over the term's months; its table."""
    rows = []
    for (category, mode), tally in SUMMER.items():
        first = tally // 2
        rows.append(opened(SUMMER_MONTHS[0], category, mode, first))
        rows.append(opened(SUMMER_MONTHS[3], category, mode, tally - first))
    await put(bot.deps, [r for r in rows if r[3]])
    return CountTable.two_way(bot.deps.settings.categories, MODES, SUMMER)


def shown(figure: Figure) -> str:
    """A figure as the README writes it."""
    if figure.count is None:
        return "*"
    return f"{figure.count}" + (f" ({figure.percent}%)" if figure.percent is not None else "")


def expected_lines(table: PublishedTable) -> list[str]:
    """What the rule published, a line per category someone used, and the modes' totals."""
    modes = [texts.MODE_LABELS[m] for m in table.columns]
    lines = [f"2026-summer (May to August 2026): {shown(table.grand_total)} in all"]
    for row, cells, total in zip(table.rows, table.cells, table.row_totals, strict=True):
        if total.count != 0:
            crossed = ", ".join(f"{m} {shown(c)}" for m, c in zip(modes, cells, strict=True))
            lines.append(f"{row}: {shown(total)}: {crossed}")
    margin = ", ".join(f"{m} {shown(c)}" for m, c in zip(modes, table.column_totals, strict=True))
    return [*lines, f"By mode: {margin}"]


def said(replies: list[SentMessage]) -> str:
    return "\n".join(m.plain_text for m in replies)


async def test_a_series_is_shown_exactly_as_the_rule_publishes_it(bot: Bot) -> None:
    # Given the coordinator, and a term's cases opened, one cell of them 3
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    truth = await summer_counted(bot)
    # When they ask for it
    replies = await bot.chat(COORDINATOR).send("/stats opened 2026-summer")
    # Then every line is the published table's: rounded, hidden where the rule hides
    text = said(replies)
    published = publish(truth)
    for line in expected_lines(published):
        assert line in text.splitlines(), line
    assert "Finance: 60 (32%): In person 45 (75%), By phone *, By video call *" in text
    assert "By mode: In person 125 (68%), By phone 30 (16%), By video call 35 (19%)" in text
    assert words.KEY in text
    # And no true count of 1 to 7 (the 3), nor any true count the rule rounded, is shown
    assert not re.search(r"\b3\b", text)
    counts = re.sub(r"\(\d+%\)", "", text)  # percentages aside (of published figures)
    assert not re.search(r"\b(43|31|52|21|12|16|9|187)\b", counts)


async def test_the_readme_shows_the_report_the_bot_sends(bot: Bot) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    await summer_counted(bot)
    sent = said(await bot.chat(COORDINATOR).send("/stats opened 2026-summer")).splitlines()
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    example = readme.split("A report in the bot reads", 1)[1].split("```", 2)[1]
    table = example.strip().split("\n\n* hidden", 1)[0]  # the key is wrapped in the README
    assert [line for line in table.splitlines() if line] == [
        line for line in sent[: sent.index(words.KEY)] if line
    ]


async def test_the_overview_lists_every_series_with_its_latest_period(bot: Bot) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    await summer_counted(bot)
    replies = await bot.chat(COORDINATOR).send("/stats")
    text = said(replies)
    for name in ("opened", "opened-by-year", "closed", "appointments", "consent"):
        assert f"{name}: " in text
    assert "opened: Cases opened by category and mode, per term. 2026-summer: 185 in all" in text
    assert "removed: Students removed from their course, per term. 2026-summer: 0 in all" in text
    assert replies[-1].buttons == [[(words.BTN_CHART, "st")]]
    assert not re.search(r"\b3\b", text)


async def test_a_request_across_part_of_a_term_is_refused_with_the_reason(bot: Bot) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    await summer_counted(bot)
    replies = await bot.chat(COORDINATOR).send("/stats opened 2026-06 2026-08")
    text = said(replies)
    assert text.startswith("That report cannot be published: ")
    assert "2026-06 does not begin one (2026-summer begins 2026-05)" in text
    assert "185" not in text
    not_over = said(await bot.chat(COORDINATOR).send("/stats opened 2026-autumn"))
    assert "2026-autumn is not over yet" in not_over
    unknown = said(await bot.chat(COORDINATOR).send("/stats students"))
    assert "there is no series 'students'; there are: opened, opened-by-year" in unknown


async def test_a_long_report_is_sent_in_parts_within_telegram_limits(bot: Bot) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    years = range(2022, 2026)
    await put(
        bot.deps,
        [
            opened(f"{year + (month < 9)}-{month:02d}", category, "phone", 9)
            for year in years
            for month in (1, 5, 9)
            for category in bot.deps.settings.categories
        ],
    )
    replies = await bot.chat(COORDINATOR).send("/stats opened 2022-autumn 2026-summer")
    assert len(replies) > 1
    assert all(read_length(m.text or "") <= TEXT_LIMIT for m in replies)
    text = said(replies)
    for year in years:
        for term in (f"{year}-autumn", f"{year + 1}-spring", f"{year + 1}-summer"):
            assert f"{term} (" in text
    longer = said(await bot.chat(COORDINATOR).send("/stats opened 2021-autumn 2026-summer"))
    assert "that is 15 periods; at most 12 are shown at once" in longer


async def test_the_chart_is_a_png_of_the_published_figures(bot: Bot) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    await summer_counted(bot)
    coordinator = bot.chat(COORDINATOR)
    by_command = await coordinator.send("/stats chart")
    await coordinator.send("/stats")
    by_button = await coordinator.press(words.BTN_CHART)
    for replies in (by_command, by_button):
        (photo,) = [m for m in replies if m.photo is not None]
        assert photo.photo is not None and photo.photo.startswith(b"\x89PNG\r\n\x1a\n")
        assert photo.protect_content
        caption = photo.plain_text
        assert caption.startswith("Cases opened by category, per term, 2025-autumn to 2026-summer")
        assert words.CHART_NOTE in caption


async def test_each_report_released_is_audited_without_its_figures(bot: Bot) -> None:
    await add_staff(bot, COORDINATOR, Role.COORDINATOR)
    await summer_counted(bot)
    coordinator = bot.chat(COORDINATOR)
    await coordinator.send("/stats")
    await coordinator.send("/stats opened 2026-summer")
    await coordinator.send("/stats chart 2026-summer")
    await coordinator.send("/stats opened 2026-06 2026-08")  # refused: nothing released
    async with bot.deps.uow() as uow:
        found = [
            e.detail
            async for e in audit_entries(
                uow.session, bot.deps.cipher, action=AuditAction.STATISTICS_PUBLISHED.value
            )
        ]
    assert found == [
        {"series": "all", "first": "", "last": "", "form": "overview"},
        {"series": "opened", "first": "2026-summer", "last": "2026-summer", "form": "text"},
        {"series": "opened", "first": "2026-summer", "last": "2026-summer", "form": "chart"},
    ]
