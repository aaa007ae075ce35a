"""The words of the data lifecycle (retention and its notices): the texts catalogue's third
module. Like bot/texts.py, HTML is escaped here, where messages are built, and only here."""

from __future__ import annotations

from datetime import date
from html import escape


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def retention_warning(reference: str, deleted_on: date, years: int) -> str:
    """To a case's adviser and the coordinator, 30 days ahead: the reference and the day only."""
    return (
        f"Case <b>{escape(reference)}</b> will be deleted on "
        f"{deleted_on.strftime('%d %B %Y').lstrip('0')}: nothing has happened on it for "
        f"{_plural(years, 'year', 'years')}, the most the policy keeps a record. "
        "Anything new on the case (a note, a booking, reopening it) restarts the clock; "
        "the date cannot be put off otherwise."
    )


def retention_summary(month: date, cases: int, notes: int, documents: int, students: int) -> str:
    """To the coordinator, once a month: counts only."""
    named = month.strftime("%B %Y")
    if cases == 0 and students == 0:
        return f"Records deleted under the retention policy in {named}: none."
    return (
        f"Records deleted under the retention policy in {named}: "
        f"{_plural(cases, 'case', 'cases')} reached the end of the retention period and "
        f"{'was' if cases == 1 else 'were'} deleted, with "
        f"{_plural(notes, 'note', 'notes')} and {_plural(documents, 'document', 'documents')}; "
        f"{_plural(students, 'student', 'students')} with nothing left on file "
        f"{'was' if students == 1 else 'were'} removed."
    )
