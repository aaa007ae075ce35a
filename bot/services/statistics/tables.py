"""Report tables: true counts by one dimension or two, and what is published of them.

A `CountTable` holds the true (unrounded) counts of one publication period; it never leaves
the service. A `PublishedTable` is what disclosure control makes of it: every value a
rounded count, a 0, or the suppression mark, with percentages where they are allowed. It is
the only thing a renderer (text, CSV, chart) is given.

Inside, both shapes are one set of entries (cells and totals) and lines (a row or column
with its total, the row totals with the grand total, the column totals with the grand
total): each line says that its entries add up to its total. Each entry joins two lines, so
the table is a flow network whose nodes are lines, which is how the disclosure audit asks
what an attacker can work out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from enum import Enum
from functools import cached_property


class Place(Enum):
    CELL = "cell"
    ROW_TOTAL = "row total"
    COLUMN_TOTAL = "column total"
    GRAND_TOTAL = "grand total"


@dataclass(frozen=True)
class Entry:
    """Where one value sits in a table (rows and columns counted from 0)."""

    place: Place
    row: int = 0
    column: int = 0

    @property
    def is_total(self) -> bool:
        return self.place is not Place.CELL


GRAND = Entry(Place.GRAND_TOTAL)


@dataclass(frozen=True)
class CountTable:
    """True counts of one period by one dimension (rows) or two (rows × columns).

    Every category is listed, used or not, so that a category nobody used shows as 0.
    """

    rows: tuple[str, ...]
    columns: tuple[str, ...]  # empty for one dimension
    grid: tuple[tuple[int, ...], ...]  # one tuple per row, one count per column (or one)

    def __post_init__(self) -> None:
        width = max(1, len(self.columns))
        if not self.rows or len(set(self.rows)) != len(self.rows):
            raise ValueError("a table needs distinct row labels")
        if len(set(self.columns)) != len(self.columns) or len(self.columns) == 1:
            raise ValueError("a two-way table needs two or more distinct column labels")
        if len(self.grid) != len(self.rows) or any(len(r) != width for r in self.grid):
            raise ValueError("the counts do not match the labels")
        if any(count < 0 for row in self.grid for count in row):
            raise ValueError("counts cannot be negative")

    @classmethod
    def one_way(cls, rows: Sequence[str], counts: Mapping[str, int]) -> CountTable:
        """Counts by one dimension; a row missing from `counts` is 0."""
        _check_keys(counts.keys(), set(rows))
        return cls(tuple(rows), (), tuple((counts.get(r, 0),) for r in rows))

    @classmethod
    def two_way(
        cls, rows: Sequence[str], columns: Sequence[str], counts: Mapping[tuple[str, str], int]
    ) -> CountTable:
        """Counts by two dimensions, keyed (row, column); a pair missing from `counts` is 0."""
        _check_keys(counts.keys(), {(r, c) for r in rows for c in columns})
        grid = tuple(tuple(counts.get((r, c), 0) for c in columns) for r in rows)
        return cls(tuple(rows), tuple(columns), grid)

    @property
    def is_two_way(self) -> bool:
        return bool(self.columns)

    def count(self, row: str, column: str | None = None) -> int:
        return self.grid[self.rows.index(row)][
            self.columns.index(column) if column is not None else 0
        ]

    @cached_property
    def row_totals(self) -> tuple[int, ...]:
        return tuple(sum(row) for row in self.grid) if self.is_two_way else ()

    @cached_property
    def column_totals(self) -> tuple[int, ...]:
        return tuple(map(sum, zip(*self.grid, strict=True))) if self.is_two_way else ()

    @cached_property
    def grand_total(self) -> int:
        return sum(sum(row) for row in self.grid)

    @cached_property
    def entries(self) -> tuple[Entry, ...]:
        """Every value, in a fixed order (cells row by row, then the totals) that breaks ties."""
        width = max(1, len(self.columns))
        cells = [Entry(Place.CELL, r, c) for r in range(len(self.rows)) for c in range(width)]
        rows = [Entry(Place.ROW_TOTAL, r) for r in range(len(self.row_totals))]
        columns = [Entry(Place.COLUMN_TOTAL, 0, c) for c in range(len(self.column_totals))]
        return (*cells, *rows, *columns, GRAND)

    @cached_property
    def copies_of_grand_total(self) -> frozenset[Entry]:
        """The grand total and what always equals it: the cell of a one-row, one-way table,
        the row total of a one-row, two-way table."""
        if len(self.rows) > 1:
            return frozenset({GRAND})
        single = Entry(Place.ROW_TOTAL) if self.is_two_way else Entry(Place.CELL)
        return frozenset({GRAND, single})

    def value(self, entry: Entry) -> int:
        if entry.place is Place.CELL:
            return self.grid[entry.row][entry.column]
        if entry.place is Place.ROW_TOTAL:
            return self.row_totals[entry.row]
        if entry.place is Place.COLUMN_TOTAL:
            return self.column_totals[entry.column]
        return self.grand_total

    def ends(self, entry: Entry) -> tuple[int, int]:
        """The two lines an entry joins, as (from, to) nodes of the table's flow network.

        Two-way: rows are nodes 0..m-1, columns m..m+n-1, the column totals' line m+n and
        the row totals' line m+n+1; a cell flows from its row to its column, a column total
        from its column to the column totals' line, the grand total from there to the row
        totals' line, and a row total from there back to its row. One-way: the cells flow
        from node 0 to node 1 and the grand total back.
        """
        if not self.is_two_way:
            return (1, 0) if entry.place is Place.GRAND_TOTAL else (0, 1)
        m, n = len(self.rows), len(self.columns)
        if entry.place is Place.CELL:
            return entry.row, m + entry.column
        if entry.place is Place.ROW_TOTAL:
            return m + n + 1, entry.row
        if entry.place is Place.COLUMN_TOTAL:
            return m + entry.column, m + n
        return m + n, m + n + 1

    @cached_property
    def lines(self) -> tuple[Line, ...]:
        """Each set of entries bound by one sum: the rows, the columns, the row totals, the
        column totals (a one-way table has a single line)."""
        if not self.is_two_way:
            nodes = [0]
        else:
            edge = len(self.rows) + len(self.columns)
            nodes = [*range(edge), edge + 1, edge]
        lines = []
        for node in nodes:
            entries = [e for e in self.entries if node in self.ends(e)]
            total = max(entries, key=lambda e: _TOTAL_RANK[e.place])
            lines.append(Line(tuple(e for e in entries if e != total), total))
        return tuple(lines)


_TOTAL_RANK = {Place.CELL: 0, Place.ROW_TOTAL: 1, Place.COLUMN_TOTAL: 1, Place.GRAND_TOTAL: 2}


@dataclass(frozen=True)
class Line:
    """Entries bound by one sum: a row's cells and the row total, the row totals and the
    grand total, and so on."""

    parts: tuple[Entry, ...]
    total: Entry

    @property
    def entries(self) -> tuple[Entry, ...]:
        return (*self.parts, self.total)


def _check_keys(given: Iterable[object], known: AbstractSet[object]) -> None:
    unknown = [k for k in given if k not in known]
    if unknown:
        raise ValueError(f"{len(unknown)} counts for labels the table does not list")


@dataclass(frozen=True)
class Figure:
    """One published value: a rounded count (or a 0), or the suppression mark."""

    count: int | None  # None: suppressed
    percent: int | None = None  # whole percent of its base, only where the base is 23 or more

    @property
    def suppressed(self) -> bool:
        return self.count is None


class Axis(Enum):
    ROWS = "rows"
    COLUMNS = "columns"


@dataclass(frozen=True)
class PublishedTable:
    """What may be shown of one period's table, for any renderer.

    Percentages: a cell of a one-way table, and a row or column total, as a share of the
    grand total; a cell of a two-way table as a share of its row total.
    """

    rows: tuple[str, ...]
    columns: tuple[str, ...]  # empty for one dimension
    cells: tuple[tuple[Figure, ...], ...]  # one tuple per row, one figure per column (or one)
    row_totals: tuple[Figure, ...]  # empty for one dimension
    column_totals: tuple[Figure, ...]  # empty for one dimension
    grand_total: Figure

    def cell(self, row: str, column: str | None = None) -> Figure:
        return self.cells[self.rows.index(row)][
            self.columns.index(column) if column is not None else 0
        ]

    def margin(self, axis: Axis) -> PublishedTable:
        """The one-way view of a two-way table: its row (or column) totals, the same figures."""
        if not self.columns:
            raise ValueError("a one-way table has no margins")
        labels, totals = (
            (self.rows, self.row_totals)
            if axis is Axis.ROWS
            else (self.columns, self.column_totals)
        )
        return PublishedTable(labels, (), tuple((f,) for f in totals), (), (), self.grand_total)
