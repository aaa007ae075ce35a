"""Disclosure control: what may be published of one period's table of counts.

The rule, applied to every value (cells and totals alike) of every output:

1. **Small numbers.** A value describing 1 to 7 people is suppressed (OpenSAFELY's rule).
   A table whose grand total is 1 to 7 is suppressed whole, zeros included.
2. **Rounding.** Every other count is rounded to the nearest 5 (HESA's base). Whole numbers
   are never halfway between two multiples of 5, so "half up" never has to decide: a count
   ending in 1 or 2 (or 6, 7) goes down, 3 or 4 (8, 9) up, and a published count p means a
   true count between p - 2 and p + 2 (and, as 1 to 7 are never published, at least 8).
3. **Totals** are the rounded true totals, never sums of rounded cells, and they follow the
   same small-number rule.
4. **Complementary suppression.** A line (a row or column with its total, the row totals
   with the grand total, the column totals with the grand total) never holds exactly one
   hidden value: the smallest value still shown in that line is hidden with it, ties going
   to the first in reading order (cells row by row, then totals). Then an exact audit
   (`disclosure_audit`) asks what an attacker who knows every published figure exactly (as
   if nothing were rounded) can work out by linear algebra on the rows and columns; while
   any hidden value is pinned to one number, or to a range inside 1 to 7, the smallest value
   shown in a line through it is hidden too, and the audit runs again. The same goes for
   the hidden values of one line taken together: if a row's total less its shown cells
   leaves 1 to 7 people, those few would be a group disclosed as surely as a cell ("5
   housing cases by video or phone"), so one more of its cells is hidden. Rounding is thus
   a second layer of protection, not the one the rule rests on.
5. **Percentages** are shown only where the base has at least 23 people (HESA suppresses
   them on fewer than 22.5), and are worked out from the published (rounded) figures, so
   they tell nothing the figures do not.

**The grand total**, when it is 8 or more, is always shown. It is the one figure that every
table about the same events in the same period shares (by category, by year of study...), so
it must be the same in all of them, and the audit takes it as known. If protecting the rest
of a table would take the grand total too, the table shows its grand total alone, and hides
its zeros as well, so that nothing says a hidden value is at least 1.

**Zeros.** A 0 is shown only where it cannot tell anything about a person: where its whole
row or column is empty (a category nobody used that period), which the row's or column's
published 0 total says anyway, and only in a table of at least 8 people. Every other zero
is hidden like a small count, for two reasons:

- a zero beside a small total tells where the few people are *not*: a row of 1 to 7 people
  reading [0, 0, hidden] says that all of them share the third column's category (group
  disclosure, as the issue's "a zero beside a total of 1" warns);
- if zeros were always shown, the mark itself would say "at least 1", and an attacker who
  bounds a hidden cell at 7 or fewer would know it holds 1 to 7 people. Because a hidden
  cell may be a zero, the mark means "0 to 7, or a larger number hidden to protect one".

In a one-way table each category is a row of its own, so its zeros are all shown (in a table
of 8 or more) and a hidden count there is known to be at least 1; the audit knows it too.

A table of 1 to 7 people shows nothing but the mark: its zeros would point at the others.
A table of nobody shows its zeros: that says nothing about anyone.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from bot.services.statistics.disclosure_audit import Arc, Bounds, Knowledge, range_of
from bot.services.statistics.tables import (
    GRAND,
    CountTable,
    Entry,
    Figure,
    Line,
    Place,
    PublishedTable,
)

SMALLEST_PUBLISHED = 8  # 1 to 7 people are never published
ROUNDING_BASE = 5
SMALLEST_PERCENT_BASE = 23  # HESA: no percentage on fewer than 22.5 people
ROUNDING_ERROR = 2  # a rounded count is within 2 of the true one
# The attacker the audit protects against knows every published figure exactly, as if
# nothing were rounded: so the protection does not rest on rounding, and holds against anyone
# who knows less (`Knowledge.ROUNDED`) or has a figure exactly from elsewhere (an annual
# report's total, say). It costs a few more hidden values than assuming rounded knowledge.
ATTACKER = Knowledge.EXACT


def is_small(count: int) -> bool:
    """1 to 7 people."""
    return 1 <= count < SMALLEST_PUBLISHED


def round_to_base(count: int) -> int:
    """The nearest multiple of 5 (a whole number is never halfway, so this is also half-up)."""
    return ROUNDING_BASE * ((2 * count + ROUNDING_BASE) // (2 * ROUNDING_BASE))


def percent(part: int, base: int) -> int:
    """100 × part / base to the nearest whole percent, halves up."""
    return (200 * part + base) // (2 * base)


def publish(table: CountTable) -> PublishedTable:
    """The table as it may be published: rounded, suppressed, with allowed percentages."""
    hidden = suppression(table)
    shown_zero = empty_entries(table)

    def figure(entry: Entry) -> Figure:
        if entry in hidden:
            return Figure(None)
        count = 0 if entry in shown_zero else round_to_base(table.value(entry))
        base = _percent_base(table, entry)
        if base is None or base in hidden or table.value(base) < SMALLEST_PERCENT_BASE:
            return Figure(count)
        return Figure(count, percent(count, round_to_base(table.value(base))))

    width = max(1, len(table.columns))
    cells = tuple(
        tuple(figure(Entry(Place.CELL, r, c)) for c in range(width)) for r in range(len(table.rows))
    )
    row_totals = tuple(figure(Entry(Place.ROW_TOTAL, r)) for r in range(len(table.row_totals)))
    column_totals = tuple(
        figure(Entry(Place.COLUMN_TOTAL, 0, c)) for c in range(len(table.column_totals))
    )
    return PublishedTable(
        table.rows, table.columns, cells, row_totals, column_totals, figure(GRAND)
    )


def _percent_base(table: CountTable, entry: Entry) -> Entry | None:
    if entry.place is Place.GRAND_TOTAL:
        return None
    if entry.place is Place.CELL and table.is_two_way:
        return Entry(Place.ROW_TOTAL, entry.row)
    return GRAND


def empty_entries(table: CountTable) -> frozenset[Entry]:
    """The zeros that may be shown: those of an empty row or column, in a table of 0 or 8+."""
    if is_small(table.grand_total):
        return frozenset()
    if not table.is_two_way:
        return frozenset(e for e in table.entries if table.value(e) == 0)
    empty_rows = {r for r, total in enumerate(table.row_totals) if total == 0}
    empty_columns = {c for c, total in enumerate(table.column_totals) if total == 0}
    return frozenset(
        e
        for e in table.entries
        if table.value(e) == 0
        and (
            e.place is Place.GRAND_TOTAL
            or (e.place is not Place.COLUMN_TOTAL and e.row in empty_rows)
            or (e.place is not Place.ROW_TOTAL and e.column in empty_columns)
        )
    )


def suppression(table: CountTable) -> frozenset[Entry]:
    """Every value to hide: small ones, unsafe zeros, and their complements."""
    if is_small(table.grand_total):
        return frozenset(table.entries)
    kept = empty_entries(table) | table.copies_of_grand_total
    hidden = {e for e in table.entries if e not in kept and table.value(e) < SMALLEST_PUBLISHED}
    while True:
        _close_lines(table, hidden, kept)
        near = _first_exposure(table, hidden)
        if near is None:
            return frozenset(hidden)
        complement = _smallest_shown(table, near, hidden, kept) or _smallest_shown(
            table, table.entries, hidden, kept
        )
        if complement is None:
            return frozenset(table.entries) - table.copies_of_grand_total
        hidden.add(complement)


def _close_lines(table: CountTable, hidden: set[Entry], kept: Collection[Entry]) -> None:
    """Until no line holds exactly one hidden value, hide the smallest shown value beside it."""
    changed = True
    while changed:
        changed = False
        for line in table.lines:
            if sum(e in hidden for e in line.entries) == 1:
                complement = _smallest_shown(table, line.entries, hidden, kept)
                if complement is not None:
                    hidden.add(complement)
                    changed = True


def _smallest_shown(
    table: CountTable,
    candidates: Iterable[Entry],
    hidden: Collection[Entry],
    kept: Collection[Entry],
) -> Entry | None:
    """The shown value that loses least information to hide; first in reading order on ties."""
    order = {e: i for i, e in enumerate(table.entries)}
    shown = [e for e in candidates if e not in hidden and e not in kept]
    return min(shown, key=lambda e: (table.value(e), order[e]), default=None)


def _first_exposure(table: CountTable, hidden: Collection[Entry]) -> tuple[Entry, ...] | None:
    """The entries beside the first hidden value (or line's hidden group) the audit finds
    revealed: one of them is to be hidden too. None when nothing is revealed."""
    arcs = attacker_view(table, hidden, ATTACKER)
    for index, entry in enumerate(table.entries):
        if entry in hidden and range_of(arcs, index).reveals:
            return tuple(e for line in table.lines if entry in line.entries for e in line.entries)
    for line in table.lines:
        group = _hidden_group(table, line, hidden, arcs)
        if group is not None and group.reveals_few:
            return line.entries
    return None


def hidden_groups(table: CountTable, hidden: Collection[Entry]) -> dict[Line, Bounds]:
    """For each line with two or more hidden parts, what they add up to, as far as someone
    who knows every published figure exactly can tell."""
    arcs = attacker_view(table, hidden, Knowledge.EXACT)
    found = {line: _hidden_group(table, line, hidden, arcs) for line in table.lines}
    return {line: bounds for line, bounds in found.items() if bounds is not None}


def _hidden_group(
    table: CountTable, line: Line, hidden: Collection[Entry], arcs: list[Arc]
) -> Bounds | None:
    # The line's total less its shown parts (the arcs must know shown figures exactly).
    if sum(part in hidden for part in line.parts) < 2:
        return None
    shown = sum(table.value(part) for part in line.parts if part not in hidden)
    total = range_of(arcs, table.entries.index(line.total))
    return Bounds(total.low - shown, None if total.high is None else total.high - shown)


def hidden_ranges(
    table: CountTable, hidden: Collection[Entry], knowledge: Knowledge
) -> dict[Entry, Bounds]:
    """What the attacker can tell of each hidden value of the table, given what is shown."""
    arcs = attacker_view(table, hidden, knowledge)
    return {e: range_of(arcs, i) for i, e in enumerate(table.entries) if e in hidden}


def attacker_view(table: CountTable, hidden: Collection[Entry], knowledge: Knowledge) -> list[Arc]:
    """Each value of the table with the bounds someone reading the publication knows it in."""
    shown_zero = empty_entries(table)
    beyond_total = any(
        e not in hidden for e in table.entries if e not in table.copies_of_grand_total
    )
    arcs = []
    for entry in table.entries:
        value = table.value(entry)
        tail, head = table.ends(entry)
        if entry in hidden:
            low = _floor_of_hidden(table, entry, beyond_total)
            arcs.append(Arc(tail, head, value, low, None))
        elif entry in shown_zero or _known_exactly(entry, knowledge):
            arcs.append(Arc(tail, head, value, value, value))
        else:
            published = round_to_base(value)
            low = max(SMALLEST_PUBLISHED, published - ROUNDING_ERROR)
            arcs.append(Arc(tail, head, value, low, published + ROUNDING_ERROR))
    return arcs


def _known_exactly(entry: Entry, knowledge: Knowledge) -> bool:
    return knowledge is Knowledge.EXACT or (knowledge is Knowledge.EXACT_TOTALS and entry.is_total)


def _floor_of_hidden(table: CountTable, entry: Entry, beyond_total: bool) -> int:
    """The least a hidden value can be, to someone who knows this rule.

    A hidden grand total is 1 to 7 (one of 8 or more is always shown). A table showing more
    than its grand total has its empty rows and columns shown as 0, so a hidden total (and
    a hidden cell of a one-way table, which is its own row) is at least 1; a hidden cell of
    a two-way table may be a hidden 0. A table showing only its grand total, or nothing,
    may be hiding zeros anywhere.
    """
    if entry.place is Place.GRAND_TOTAL:
        return 1
    if not beyond_total:
        return 0
    return 1 if entry.is_total or not table.is_two_way else 0
