"""An attacker with exact arithmetic, independent of the engine's own audit.

It knows a set of whole, bounded unknowns (the true counts) and linear equations between
them (rows, columns and totals add up; a block's table is the sum of its months), and asks
how low and how high any linear expression of them can go: a linear programme, solved by
a two-phase simplex over `fractions.Fraction` with Bland's rule (so it always ends). The
real optimum bounds the whole-number one, so "no range inside 1 to 7" found here holds for
whole numbers too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction

Expression = Mapping[int, int]  # variable -> coefficient


@dataclass
class LinearSystem:
    lows: list[int] = field(default_factory=list)
    highs: list[int | None] = field(default_factory=list)
    equations: list[tuple[dict[int, int], int]] = field(default_factory=list)

    def unknown(self, low: int, high: int | None) -> int:
        """A new unknown between low and high (None: no upper bound); its index."""
        self.lows.append(low)
        self.highs.append(high)
        return len(self.lows) - 1

    def equate(self, expression: Expression, total: int) -> None:
        self.equations.append((dict(expression), total))

    def ranges(self, targets: list[Expression]) -> list[tuple[Fraction, Fraction | None]]:
        """For each target, its least and greatest value (None: unbounded above)."""
        feasible = _Tableau.feasible(self)
        found = []
        for target in targets:
            offset = sum(c * self.lows[v] for v, c in target.items())
            low = feasible.copy().minimise(target)
            high = feasible.copy().minimise({v: -c for v, c in target.items()})
            assert low is not None, "a count is bounded below"
            found.append((offset + low, None if high is None else offset - high))
        return found


class _Tableau:
    """min c·y subject to A y = b, y >= 0, with y = x - low and a slack per upper bound."""

    def __init__(self, rows: list[list[Fraction]], basis: list[int], columns: int) -> None:
        self.rows = rows  # each: coefficients over `columns` variables, then the right side
        self.basis = basis
        self.columns = columns

    def copy(self) -> _Tableau:
        return _Tableau([list(r) for r in self.rows], list(self.basis), self.columns)

    @classmethod
    def feasible(cls, system: LinearSystem) -> _Tableau:
        """Phase one: a basic feasible solution, found by minimising artificial variables."""
        n = len(system.lows)
        slacks = [i for i, h in enumerate(system.highs) if h is not None]
        columns = n + len(slacks)
        equations: list[tuple[dict[int, int], int]] = [
            (coefs, total - sum(c * system.lows[v] for v, c in coefs.items()))
            for coefs, total in system.equations
        ]
        for s, v in enumerate(slacks):
            high = system.highs[v]
            assert high is not None
            equations.append(({v: 1, n + s: 1}, high - system.lows[v]))
        m = len(equations)
        rows = []
        for i, (coefs, rhs) in enumerate(equations):
            sign = -1 if rhs < 0 else 1
            row = [Fraction(0)] * (columns + m + 1)
            for v, c in coefs.items():
                row[v] += sign * c
            row[columns + i] = Fraction(1)
            row[-1] = Fraction(sign * rhs)
            rows.append(row)
        tableau = cls(rows, [columns + i for i in range(m)], columns + m)
        cost = {columns + i: 1 for i in range(m)}
        assert tableau._optimise(cost), "phase one is bounded"
        assert tableau._value(cost) == 0, "the true counts satisfy the system"
        tableau._drop_artificials(columns)
        return tableau

    def _drop_artificials(self, columns: int) -> None:
        for i in reversed(range(len(self.rows))):
            if self.basis[i] >= columns:
                swap = next((j for j in range(columns) if self.rows[i][j] != 0), None)
                if swap is None:  # a redundant equation
                    del self.rows[i]
                    del self.basis[i]
                else:
                    self._pivot(i, swap)
        self.rows = [row[:columns] + row[-1:] for row in self.rows]
        self.columns = columns

    def minimise(self, cost: Expression) -> Fraction | None:
        """The least value of cost·y, or None if it has none (unbounded below)."""
        return self._value(cost) if self._optimise(cost) else None

    def _value(self, cost: Expression) -> Fraction:
        return sum(
            (cost.get(b, 0) * row[-1] for b, row in zip(self.basis, self.rows, strict=True)),
            Fraction(0),
        )

    def _optimise(self, cost: Expression) -> bool:
        while True:
            entering = next((j for j in range(self.columns) if self._reduced(cost, j) < 0), None)
            if entering is None:
                return True
            leaving = None
            for i, row in enumerate(self.rows):
                if row[entering] > 0:
                    ratio = row[-1] / row[entering]
                    if leaving is None or (ratio, self.basis[i]) < leaving[:2]:
                        leaving = (ratio, self.basis[i], i)
            if leaving is None:
                return False
            self._pivot(leaving[2], entering)

    def _reduced(self, cost: Expression, column: int) -> Fraction:
        return cost.get(column, 0) - sum(
            (
                cost.get(b, 0) * row[column]
                for b, row in zip(self.basis, self.rows, strict=True)
                if row[column]
            ),
            Fraction(0),
        )

    def _pivot(self, r: int, c: int) -> None:
        pivot = self.rows[r][c]
        self.rows[r] = [v / pivot for v in self.rows[r]]
        for i, row in enumerate(self.rows):
            if i != r and row[c] != 0:
                factor = row[c]
                self.rows[i] = [a - factor * b for a, b in zip(row, self.rows[r], strict=True)]
        self.basis[r] = c
