"""`python -m bot stats`, run as a person would run it, on a SQLite file: text, CSV, XLSX and
PNG of the published tables only, refusals with their reason and exit status 1, and no true
small count in any of them."""

from __future__ import annotations

import csv
import io
import re
import struct
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot import statistics_texts as words
from bot.app import build_deps
from bot.clock import SystemClock
from bot.settings import Settings
from storage.crypto import AuditKey, BlindIndex, KeyRing, new_key_material, parse_key_spec
from storage.engine import make_engine
from tests.integration.test_cli import run
from tests.integration.test_statistics_reports import opened, put

# Cases opened in the academic year 2025/26 (over by the time the tests run, whatever the
# machine's clock says after 2026-09): one term each, finance by phone 3 in autumn.
COUNTS = {
    ("2025-10", "Finance", "in_person"): 43,
    ("2025-11", "Finance", "video"): 12,
    ("2025-12", "Finance", "phone"): 3,
    ("2025-10", "Housing", "in_person"): 31,
    ("2025-11", "Housing", "phone"): 16,
    ("2025-09", "Academic appeal", "in_person"): 52,
    ("2025-09", "Academic appeal", "video"): 21,
    ("2025-12", "Academic appeal", "phone"): 9,
    ("2026-02", "Housing", "in_person"): 40,
    ("2026-06", "Complaint", "phone"): 2,
}
TRUE_COUNTS_ROUNDED_AWAY = ("43", "12", "31", "16", "52", "21", "9", "187")


@pytest.fixture
async def counted(tmp_path: Path) -> dict[str, str]:
    """A migrated database holding COUNTS in its statistics table, and its settings."""
    env = {
        "USS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/cli.db",
        "USS_DATA_KEYS": f"k1:{new_key_material()}",
        "USS_INDEX_KEY": new_key_material(),
        "USS_AUDIT_KEY": new_key_material(),
    }
    migrated = run(["migrate"], env, cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    # Into the sealed counters, with the installation's keys, as the bot would have.
    engine = make_engine(env["USS_DATABASE_URL"])
    settings = Settings(_env_file=None, database_url=env["USS_DATABASE_URL"])  # type: ignore[call-arg]
    deps = build_deps(
        settings,
        clock=SystemClock(),
        keys=KeyRing(parse_key_spec(env["USS_DATA_KEYS"])),
        index=BlindIndex.from_spec(env["USS_INDEX_KEY"]),
        engine=engine,
        audit_key=AuditKey.from_spec(env["USS_AUDIT_KEY"]),
    )
    try:
        await put(deps, [opened(p, c, m, n) for (p, c, m), n in COUNTS.items()])
    finally:
        await engine.dispose()
    return env


YEAR = ["--from", "2025-09", "--to", "2026-08"]


def test_the_csv_holds_one_row_per_published_value(counted: dict[str, str], tmp_path: Path) -> None:
    output = tmp_path / "opened.csv"
    result = run(
        ["stats", "--series", "opened", *YEAR, "--format", "csv", "--output", str(output)],
        counted,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "Wrote CSV for 3 period(s)" in result.stdout
    assert output.stat().st_mode & 0o777 == 0o600
    rows = list(csv.reader(io.StringIO(output.read_text(encoding="utf-8"))))
    assert rows[0] == ["period", "category", "mode", "count", "percent", "percent of"]
    by_key = {tuple(r[:3]): r[3:] for r in rows[1:]}
    assert by_key[("2025-autumn", "Finance", "By phone")] == ["*", "", ""]
    assert by_key[("2025-autumn", "Finance", "In person")] == ["45", "75", "row total"]
    assert by_key[("2025-autumn", "Total", "Total")] == ["185", "", ""]
    assert by_key[("2026-spring", "Housing", "In person")] == ["40", "100", "row total"]
    # A term of 2 people in all: nothing but marks.
    summer = [r[3] for r in rows[1:] if r[0] == "2026-summer"]
    assert summer and set(summer) == {"*"}
    counts = [r[3] for r in rows[1:]]
    assert all(c == "*" or int(c) % 5 == 0 for c in counts)
    assert "3" not in counts and "2" not in counts


def test_the_workbook_opens_and_holds_only_published_figures(
    counted: dict[str, str], tmp_path: Path
) -> None:
    output = tmp_path / "opened.xlsx"
    result = run(
        ["stats", "--by", "category,mode", *YEAR, "--format", "xlsx", "--output", str(output)],
        counted,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    book = load_workbook(output, read_only=True)
    assert book.sheetnames == [words.XLSX_REPORT_SHEET, words.XLSX_KEY_SHEET]
    values = [row for row in book[words.XLSX_REPORT_SHEET].iter_rows(values_only=True)]
    assert values[0][0] == "Cases opened by category and mode, per term"
    assert values[2] == ("period", "category", "mode", "count", "percent", "percent of")
    assert ("2025-autumn", "Finance", "By phone", "*", None, None) in values
    assert ("2025-autumn", "Finance", "Total", 60, 32, "grand total") in values
    counts = [row[3] for row in values[3:]]
    assert all(c == "*" or (isinstance(c, int) and c % 5 == 0) for c in counts)
    assert 3 not in counts and "3" not in counts
    assert next(book[words.XLSX_KEY_SHEET].iter_rows(values_only=True))[0] == words.KEY


def test_the_chart_is_a_png(counted: dict[str, str], tmp_path: Path) -> None:
    output = tmp_path / "opened.png"
    chart = ["--format", "png", "--output", str(output)]
    result = run(
        ["stats", "--series", "opened", "--by", "category", *YEAR, *chart], counted, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    data = output.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk comes first
    assert 600 <= width <= 2600 and 400 <= height <= 1000
    needs_a_file = run(["stats", "--series", "opened", "--format", "png"], counted, cwd=tmp_path)
    assert needs_a_file.returncode == 1
    assert "needs --output FILE" in needs_a_file.stderr


def test_the_text_is_the_published_tables(counted: dict[str, str], tmp_path: Path) -> None:
    result = run(["stats", "--series", "opened", *YEAR], counted, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "2025-autumn (September to December 2025)" in text
    finance = next(line for line in text.splitlines() if line.startswith("Finance "))
    assert finance.split() == ["Finance", "45", "(75%)", "*", "*", "60", "(32%)"]
    assert words.KEY in text
    assert not re.search(r"\b3\b", text)
    counts = re.sub(r"\(\d+%\)", "", text)
    assert not re.search(rf"\b({'|'.join(TRUE_COUNTS_ROUNDED_AWAY)})\b", counts)


def test_refusals_give_the_reason_and_exit_1(counted: dict[str, str], tmp_path: Path) -> None:
    part = run(
        ["stats", "--series", "opened", "--from", "2025-10", "--to", "2025-12"],
        counted,
        cwd=tmp_path,
    )
    assert part.returncode == 1
    assert "Not published: " in part.stderr
    assert "2025-10 does not begin one (2025-autumn begins 2025-09)" in part.stderr
    assert part.stdout == ""
    crossed = run(["stats", "--by", "category,year", *YEAR], counted, cwd=tmp_path)
    assert crossed.returncode == 1
    assert "no series is published by category,year; there are: opened by category,mode" in (
        crossed.stderr
    )
    future = run(["stats", "--series", "opened", "--from", "2099-autumn"], counted, cwd=tmp_path)
    assert future.returncode == 1
    assert "2099-autumn is not over yet" in future.stderr
    listed = run(["stats"], counted, cwd=tmp_path)
    assert listed.returncode == 0
    assert "opened-by-year" in listed.stdout and "--by category,mode" in listed.stdout
