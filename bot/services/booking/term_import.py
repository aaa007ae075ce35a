"""Setting up a term at once: weekly availability from a CSV file, row by row."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from bot.services import audit
from bot.services.booking.availability import InvalidRange, booking_rules, parse_weekly_range
from bot.services.booking.schedule import add_window
from bot.services.deps import Deps
from bot.services.staff import staff
from bot.vocabulary import Role
from storage.uow import UnitOfWork

COLUMNS = ("adviser_telegram_id", "weekday", "start", "end", "mode")
SCHEDULING = (Role.ADVISER.value, Role.COORDINATOR.value)


@dataclass
class ImportReport:
    accepted: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)


async def import_weekly_csv(uow: UnitOfWork, deps: Deps, text: str) -> ImportReport:
    """Add every valid row; report each rejected row with its line number and reason."""
    report = ImportReport()
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        report.rejected.append((1, f"the header needs the columns {', '.join(COLUMNS)}"))
        return report
    rules = booking_rules(deps.settings)
    for row in reader:
        line = reader.line_num
        try:
            telegram_id = int((row["adviser_telegram_id"] or "").strip())
        except ValueError:
            report.rejected.append((line, "adviser_telegram_id is not a number"))
            continue
        member = await staff.find_staff(uow, deps, telegram_id)
        if member is None or not member.active or member.role not in SCHEDULING:
            report.rejected.append((line, "no active adviser or coordinator has that Telegram id"))
            continue
        typed = f"{row['weekday']} {row['start']}-{row['end']} {row['mode'] or ''}"
        try:
            window = parse_weekly_range(typed, rules)
            # add_window refuses an overlap before writing anything, so a rejected row
            # leaves nothing behind.
            await add_window(uow, deps, member.id, window, actor=audit.COMMAND_LINE)
        except InvalidRange as problem:
            report.rejected.append((line, problem.problem.value.replace("_", " ")))
            continue
        report.accepted += 1
    await uow.commit()
    return report
