"""What an attacker can work out of a published table: the range each hidden value can take.

The attacker knows every published figure (within its rounding, or exactly, by the
`Knowledge` assumed), that counts are whole and never negative, and that each line of the
table adds up. A hidden value is *revealed* if those facts pin it to one value, or to a range
inside 1 to 7 (so it is known to be a small, non-zero number of people).

Ranges are exact. A table with its totals is a circulation on a small network (see
`CountTable.ends`): each value is the flow on one arc, between known bounds. Another table
with the same published figures differs from the true one by a circulation, so the most a
value can fall is the most flow that can be sent around the rest of the network from its
arc's tail to its head (and the most it can rise, the other way): a maximum flow, found by
Edmonds-Karp on integers. The network's matrix is totally unimodular, so the whole-number
answer and the real (linear programming) answer are the same; the tests check this against
an independent simplex in fractions.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

SMALLEST_SAFE = 8  # counts of 1 to 7 people are what must never be published or revealed


class Knowledge(Enum):
    """How much of the published figures the attacker is assumed to know exactly."""

    ROUNDED = "rounded"  # every count only within ±2 (it was rounded to the nearest 5)
    EXACT_TOTALS = "exact totals"  # totals exactly (from an annual report, say), cells ±2
    EXACT = "exact"  # every published count exactly, as if nothing were rounded


@dataclass(frozen=True)
class Bounds:
    """The values a hidden count can take, as far as the attacker can tell."""

    low: int
    high: int | None  # None: no upper limit

    @property
    def reveals(self) -> bool:
        """Pinned to one value, or known to be 1 to 7 people."""
        return self.low == self.high or self.reveals_few

    @property
    def reveals_few(self) -> bool:
        """Known to be 1 to 7 people."""
        return self.low >= 1 and self.high is not None and self.high < SMALLEST_SAFE


@dataclass(frozen=True)
class Arc:
    """One value of the table as a flow: between two lines, its true value, its known bounds."""

    tail: int
    head: int
    value: int
    low: int
    high: int | None  # None: unbounded above (a hidden value)


def range_of(arcs: Sequence[Arc], index: int) -> Bounds:
    """The lowest and highest value one arc's flow can take, the others keeping their bounds."""
    arc = arcs[index]
    others = [a for i, a in enumerate(arcs) if i != index]
    fall = _most_flow(others, arc.tail, arc.head, limit=arc.value - arc.low)
    rise_limit = None if arc.high is None else arc.high - arc.value
    rise = _most_flow(others, arc.head, arc.tail, limit=rise_limit)
    high = None if rise is None else arc.value + rise
    return Bounds(arc.value - (fall or 0), high)


def _most_flow(arcs: Sequence[Arc], source: int, sink: int, limit: int | None) -> int | None:
    """The most flow the arcs' slack can carry from source to sink, up to `limit`.

    An arc with value v between low and high can carry high - v more forward and v - low
    back. None means unbounded (only possible with no limit).
    """
    finite = sum(a.value - a.low + (a.high - a.value if a.high is not None else 0) for a in arcs)
    # More than any cut of finite arcs can carry, and more than was asked for.
    unbounded = finite + (limit or 0) + 1
    target = unbounded if limit is None else limit
    nodes = 1 + max((max(a.tail, a.head) for a in arcs), default=max(source, sink))
    nodes = max(nodes, source + 1, sink + 1)
    graph: list[list[int]] = [[] for _ in range(nodes)]
    to: list[int] = []
    room: list[int] = []
    for a in arcs:
        forward = unbounded if a.high is None else a.high - a.value
        for start, end, capacity in ((a.tail, a.head, forward), (a.head, a.tail, a.value - a.low)):
            graph[start].append(len(to))
            to.append(end)
            room.append(capacity)
            graph[end].append(len(to))
            to.append(start)
            room.append(0)
    flow = 0
    while flow < target:
        path = _augmenting_path(graph, to, room, source, sink)
        if path is None:
            break
        push = min(target - flow, *(room[e] for e in path))
        for e in path:
            room[e] -= push
            room[e ^ 1] += push
        flow += push
    return None if limit is None and flow >= unbounded else flow


def _augmenting_path(
    graph: list[list[int]], to: list[int], room: list[int], source: int, sink: int
) -> list[int] | None:
    """The arcs of a shortest path with room left from source to sink (Edmonds-Karp)."""
    came_by: dict[int, int] = {source: -1}
    queue = deque([source])
    while queue and sink not in came_by:
        node = queue.popleft()
        for e in graph[node]:
            if room[e] > 0 and to[e] not in came_by:
                came_by[to[e]] = e
                queue.append(to[e])
    if sink not in came_by:
        return None
    path: list[int] = []
    node = sink
    while node != source:
        e = came_by[node]
        path.append(e)
        node = to[e ^ 1]
    return path
