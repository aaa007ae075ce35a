"""Disclosure control: the rule on fixed examples, and properties an attacker cannot break.

The attacker in these tests (`linear_attack`) is independent of the engine's audit: it reads
only what was published, knows the rule, and solves the table's rows, columns and totals as
a linear programme in exact fractions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.services.errors import StatisticsProblem, StatisticsRequestRefused
from bot.services.statistics.disclosure_audit import Knowledge
from bot.services.statistics.disclosure_control import (
    empty_entries,
    hidden_groups,
    hidden_ranges,
    percent,
    publish,
    round_to_base,
    suppression,
)
from bot.services.statistics.periods import (
    Granularity,
    Month,
    Period,
    block_of,
    blocks_between,
    parse_period,
    publishable_periods,
)
from bot.services.statistics.publication import (
    PublicationSeries,
    ReportRequest,
    check_catalogue,
    check_request,
    publish_report,
)
from bot.services.statistics.tables import Axis, CountTable, Entry, Figure, Place, PublishedTable
from tests.unit.linear_attack import Expression, LinearSystem

SEP_2026 = Month(2026, 9)
AFTER_THE_YEAR = Month(2027, 9)  # every block of 2026/27 is over


# ---------------------------------------------------------------- how the tests read a table


def shown(figure: Figure) -> str:
    """A figure as the README writes it: the count, or * where it is suppressed."""
    if figure.count is None:
        return "*"
    return f"{figure.count}" + (f" ({figure.percent}%)" if figure.percent is not None else "")


def layout(table: PublishedTable) -> list[list[str]]:
    """Rows of the table as text, each ending with its total; the totals row last."""
    if not table.columns:
        return [[shown(row[0])] for row in table.cells] + [[shown(table.grand_total)]]
    body = [
        [*map(shown, row), shown(total)]
        for row, total in zip(table.cells, table.row_totals, strict=True)
    ]
    return [*body, [*map(shown, table.column_totals), shown(table.grand_total)]]


def figures(table: PublishedTable) -> list[Figure]:
    flat = [f for row in table.cells for f in row]
    return [*flat, *table.row_totals, *table.column_totals, table.grand_total]


def true_values(table: CountTable) -> list[int]:
    """The true counts in the same order as `figures`."""
    flat = [c for row in table.grid for c in row]
    return [*flat, *table.row_totals, *table.column_totals, table.grand_total]


# ------------------------------------------------------------------ the attacker's equations


def entry_expressions(cells: Sequence[Sequence[Expression]], two_way: bool) -> list[Expression]:
    """Every value of a table as a sum of its cells, in the order of `figures`."""

    def add(parts: Sequence[Expression]) -> Expression:
        total: dict[int, int] = {}
        for part in parts:
            for variable, coefficient in part.items():
                total[variable] = total.get(variable, 0) + coefficient
        return total

    flat = [c for row in cells for c in row]
    rows = [add(row) for row in cells] if two_way else []
    columns = [add(column) for column in zip(*cells, strict=True)] if two_way else []
    return [*flat, *rows, *columns, add(flat)]


def learn(
    system: LinearSystem,
    published: PublishedTable,
    truth: CountTable,
    values: list[Expression],
    knowledge: Knowledge,
) -> list[Expression]:
    """Add what a publication tells to the system; return the hidden values' expressions.

    The attacker knows the rule: a hidden grand total is 1 to 7 (at least 1, then); once
    the table shows more than its grand total, its empty rows and columns show as 0, so a
    hidden total or a hidden cell of a one-way table is at least 1; a hidden two-way cell
    may be 0.
    """
    two_way = bool(published.columns)
    cells = len(published.cells) * max(1, len(published.columns))
    # The grand total, and what always equals it in a table of one row.
    single = (cells if two_way else 0) if len(published.cells) == 1 else len(values) - 1
    copies = {len(values) - 1, single}
    shown_any = any(not f.suppressed for i, f in enumerate(figures(published)) if i not in copies)
    hidden = []
    for index, (figure, value, true) in enumerate(
        zip(figures(published), values, true_values(truth), strict=True)
    ):
        is_total = index >= cells
        if figure.count is None:
            is_grand = index == len(values) - 1
            floor = 1 if is_grand or (shown_any and (is_total or not two_way)) else 0
            system.equate({**value, system.unknown(floor, None): -1}, 0)
            hidden.append(value)
        elif figure.count == 0:
            system.equate(value, 0)
        elif knowledge is Knowledge.EXACT or (knowledge is Knowledge.EXACT_TOTALS and is_total):
            system.equate(value, true)
        else:
            rounded = system.unknown(max(8, figure.count - 2), figure.count + 2)
            system.equate({**value, rounded: -1}, 0)
    return hidden


def fresh_cells(system: LinearSystem, table: CountTable) -> list[list[Expression]]:
    return [[{system.unknown(0, None): 1} for _ in row] for row in table.grid]


def revealed(low: Fraction, high: Fraction | None) -> bool:
    """Pinned to one value, or known to be 1 to 7 people."""
    return low == high or reveals_someone(low, high)


def reveals_someone(low: Fraction, high: Fraction | None) -> bool:
    """Known to be 1 to 7 people (a group of hidden values, or a month inside a term)."""
    return low >= 1 and high is not None and high <= 7


def attack(table: CountTable, knowledge: Knowledge) -> list[tuple[Fraction, Fraction | None]]:
    """The range of every hidden value of the published table, as the attacker solves it."""
    system = LinearSystem()
    values = entry_expressions(fresh_cells(system, table), table.is_two_way)
    hidden = learn(system, publish(table), table, values, knowledge)
    return system.ranges(hidden)


def line_parts(table: CountTable) -> list[list[int]]:
    """The parts of each line (a row's cells, the row totals...), as indices into `figures`."""
    m, n = len(table.rows), len(table.columns)
    if not n:
        return [list(range(m))]
    rows = [[i * n + j for j in range(n)] for i in range(m)]
    columns = [[i * n + j for i in range(m)] for j in range(n)]
    return [*rows, *columns, [m * n + i for i in range(m)], [m * n + m + j for j in range(n)]]


def attack_groups(
    table: CountTable, published: PublishedTable, knowledge: Knowledge
) -> list[tuple[Fraction, Fraction | None]]:
    """For each line with two or more hidden parts, the range of their sum."""
    system = LinearSystem()
    values = entry_expressions(fresh_cells(system, table), table.is_two_way)
    learn(system, published, table, values, knowledge)
    shown = figures(published)
    groups: list[Expression] = []
    for parts in line_parts(table):
        hidden = [values[i] for i in parts if shown[i].suppressed]
        if len(hidden) >= 2:
            group: dict[int, int] = {}
            for value in hidden:
                for variable, coefficient in value.items():
                    group[variable] = group.get(variable, 0) + coefficient
            groups.append(group)
    return system.ranges(groups)


# ---------------------------------------------------------------------- rounding, percentages


def test_counts_round_to_the_nearest_five_and_no_count_is_halfway() -> None:
    for count in range(200):
        rounded = round_to_base(count)
        assert rounded % 5 == 0
        assert abs(rounded - count) <= 2
    examples = {0: 0, 8: 10, 10: 10, 12: 10, 13: 15, 22: 20, 23: 25, 57: 55}
    assert {n: round_to_base(n) for n in examples} == examples


def test_percentages_round_halves_up() -> None:
    assert percent(1, 8) == 13  # 12.5
    assert percent(1, 3) == 33
    assert percent(2, 3) == 67
    assert percent(0, 25) == 0


# ------------------------------------------------------------------------------------ periods


@pytest.mark.parametrize(
    ("name", "first", "last", "canonical"),
    [
        ("2026-09", "2026-09", "2026-09", "2026-09"),
        (" 2011-12 ", "2011-12", "2011-12", "2011-12"),  # December 2011, not a year
        ("2026-autumn", "2026-09", "2026-12", "2026-autumn"),
        ("2027-Spring", "2027-01", "2027-04", "2027-spring"),
        ("2027-summer", "2027-05", "2027-08", "2027-summer"),
        ("2026/27", "2026-09", "2027-08", "2026/27"),
        ("1999/00", "1999-09", "2000-08", "1999/00"),
    ],
)
def test_periods_are_named_as_months_terms_and_academic_years(
    name: str, first: str, last: str, canonical: str
) -> None:
    period = parse_period(name)
    assert (period.first.name, period.last.name, period.name) == (first, last, canonical)


@pytest.mark.parametrize(
    "name", ["2026-13", "2026-00", "2026/28", "autumn", "2026-fall", "26-09", ""]
)
def test_a_name_that_is_no_period_is_refused_with_its_reason(name: str) -> None:
    with pytest.raises(StatisticsRequestRefused) as refused:
        parse_period(name)
    assert refused.value.problem is StatisticsProblem.UNKNOWN_PERIOD
    assert "2026-autumn" in str(refused.value)


def test_every_month_belongs_to_exactly_one_block_of_each_granularity() -> None:
    for granularity in Granularity:
        seen = blocks_between(SEP_2026, Month(2029, 8), granularity)
        months = [m for block in seen for m in block.months]
        assert months == [SEP_2026.plus(i) for i in range(36)]
        assert all(block_of(m, granularity).contains(m) for m in months)
    assert block_of(Month(2027, 1), Granularity.TERM).name == "2027-spring"
    assert block_of(Month(2027, 8), Granularity.ACADEMIC_YEAR).name == "2026/27"


def test_only_whole_blocks_that_are_over_may_be_published() -> None:
    in_may = Month(2027, 5)
    terms = publishable_periods(Granularity.TERM, since=SEP_2026, now=in_may)
    assert [t.name for t in terms] == ["2026-autumn", "2027-spring"]  # summer is not over
    months = publishable_periods(Granularity.MONTH, since=Month(2026, 10), now=Month(2026, 12))
    assert [m.name for m in months] == ["2026-10", "2026-11"]
    years = publishable_periods(Granularity.ACADEMIC_YEAR, since=SEP_2026, now=Month(2027, 8))
    assert years == ()


# ----------------------------------------------------------------------------------- requests

TERMLY = PublicationSeries("case opened", ("category", "mode"), Granularity.TERM)
MONTHLY = PublicationSeries("case opened", ("category",), Granularity.MONTH)


def refusal(
    series: PublicationSeries, request: ReportRequest, now: Month = AFTER_THE_YEAR
) -> StatisticsRequestRefused:
    with pytest.raises(StatisticsRequestRefused) as refused:
        check_request(series, request, now)
    return refused.value


def test_a_termly_series_refuses_part_of_a_term() -> None:
    # Sep-Dec and Sep-Nov would give December by difference.
    refused = refusal(TERMLY, ReportRequest("2026-09", "2026-11", ("category", "mode")))
    assert refused.problem is StatisticsProblem.NOT_WHOLE_BLOCKS
    assert str(refused) == (
        "case opened statistics are published per term: "
        "2026-11 does not end one (2026-autumn ends 2026-12)"
    )
    late_start = refusal(TERMLY, ReportRequest("2026-10", "2026-12", ("category",)))
    assert "2026-10 does not begin one (2026-autumn begins 2026-09)" in str(late_start)


def test_whole_terms_are_accepted_however_they_are_named() -> None:
    by_months = check_request(
        TERMLY, ReportRequest("2026-09", "2027-04", ("mode",)), AFTER_THE_YEAR
    )
    by_terms = check_request(
        TERMLY, ReportRequest("2026-autumn", "2027-spring", ("mode",)), AFTER_THE_YEAR
    )
    names = [p.name for p in by_months.blocks]
    assert names == [p.name for p in by_terms.blocks] == ["2026-autumn", "2027-spring"]


def test_a_monthly_series_reports_each_month_on_its_own() -> None:
    plan = check_request(
        MONTHLY, ReportRequest("2026-autumn", "2026-autumn", ("category",)), AFTER_THE_YEAR
    )
    assert [p.name for p in plan.blocks] == ["2026-09", "2026-10", "2026-11", "2026-12"]


def test_a_request_is_refused_until_its_last_block_is_over() -> None:
    refused = refusal(
        TERMLY, ReportRequest("2026-autumn", "2026-autumn", ("mode",)), now=Month(2026, 12)
    )
    assert refused.problem is StatisticsProblem.NOT_ENDED
    assert "2026-autumn is not over yet" in str(refused)
    assert check_request(
        TERMLY, ReportRequest("2026-autumn", "2026-autumn", ("mode",)), Month(2027, 1)
    )


def test_a_request_per_another_granularity_or_by_other_dimensions_is_refused() -> None:
    per_month = refusal(
        TERMLY, ReportRequest("2026-09", "2026-12", ("mode",), per=Granularity.MONTH)
    )
    assert per_month.problem is StatisticsProblem.WRONG_GRANULARITY
    assert str(per_month) == "case opened statistics are published per term, not per month"
    other = refusal(TERMLY, ReportRequest("2026-09", "2026-12", ("category", "year")))
    assert other.problem is StatisticsProblem.WRONG_DIMENSIONS
    assert str(other) == "case opened statistics are published by category,mode (or one of them)"
    reversed_ = refusal(TERMLY, ReportRequest("2027-spring", "2026-autumn", ("mode",)))
    assert reversed_.problem is StatisticsProblem.REVERSED


def test_a_report_is_published_only_for_the_blocks_of_its_plan() -> None:
    plan = check_request(TERMLY, ReportRequest("2026-09", "2026-12", ("mode",)), AFTER_THE_YEAR)
    sep_to_nov = Period(SEP_2026, Granularity.MONTH)  # no block of a termly series
    with pytest.raises(ValueError, match="each block of the plan"):
        publish_report(plan, {sep_to_nov: EXAMPLE})
    with pytest.raises(ValueError, match="dimensions"):
        publish_report(plan, {plan.blocks[0]: CountTable.one_way(["a"], {"a": 9})})


def test_series_that_could_be_played_against_each_other_are_refused() -> None:
    check_catalogue([TERMLY, PublicationSeries("case opened", ("year",), Granularity.TERM)])
    check_catalogue([TERMLY, PublicationSeries("case closed", ("category",), Granularity.MONTH)])
    with pytest.raises(ValueError, match="one granularity"):
        check_catalogue([TERMLY, PublicationSeries("case opened", ("year",), Granularity.MONTH)])
    with pytest.raises(ValueError, match="share a dimension"):
        check_catalogue(
            [TERMLY, PublicationSeries("case opened", ("category", "year"), Granularity.TERM)]
        )


# ------------------------------------------------------------------------- the fixed example

CATEGORIES = ["finance", "housing", "academic", "visa"]
MODES = ["in person", "video", "phone"]
# The README's example: cases opened in one term, by category and mode (true counts).
EXAMPLE = CountTable.two_way(
    CATEGORIES,
    MODES,
    {
        ("finance", "in person"): 43,
        ("finance", "video"): 12,
        ("finance", "phone"): 3,
        ("housing", "in person"): 31,
        ("housing", "phone"): 16,
        ("academic", "in person"): 52,
        ("academic", "video"): 21,
        ("academic", "phone"): 9,
    },
)


def test_the_readme_example_is_published_as_the_readme_shows() -> None:
    assert [list(row) for row in EXAMPLE.grid] + [list(EXAMPLE.column_totals)] == [
        [43, 12, 3],
        [31, 0, 16],
        [52, 21, 9],
        [0, 0, 0],
        [126, 33, 28],
    ]
    assert (EXAMPLE.row_totals, EXAMPLE.grand_total) == ((58, 47, 82, 0), 187)
    assert layout(publish(EXAMPLE)) == [
        ["45 (75%)", "*", "*", "60 (32%)"],
        ["30 (67%)", "*", "*", "45 (24%)"],
        ["50 (63%)", "20 (25%)", "10 (13%)", "80 (43%)"],
        ["0", "0", "0", "0 (0%)"],
        ["125 (68%)", "35 (19%)", "30 (16%)", "185"],
    ]


def test_the_readme_shows_the_example_as_published() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Anonymous statistics") :]
    for heading, expected in (("True counts:", None), ("Published:", publish(EXAMPLE))):
        block = section[section.index(heading) :].split("```")[1]
        rows = [re.split(r" {2,}", line.strip()) for line in block.strip().splitlines()]
        assert rows[0] == ["in person", "video", "phone", "total"]
        assert [row[0] for row in rows[1:]] == [*CATEGORIES, "total"]
        if expected is None:
            counts = [*map(list, EXAMPLE.grid), list(EXAMPLE.column_totals)]
            totals = [*EXAMPLE.row_totals, EXAMPLE.grand_total]
            assert [row[1:] for row in rows[1:]] == [
                [*map(str, r), str(t)] for r, t in zip(counts, totals, strict=True)
            ]
        else:
            assert [row[1:] for row in rows[1:]] == layout(expected)


def test_the_readme_example_hides_nothing_an_attacker_can_pin() -> None:
    # Knowing every figure exactly: finance by video and phone add up to 58 - 43 = 15,
    # housing's to 47 - 31 = 16, the video column's to 33 - 21 = 12 and the phone column's
    # to 28 - 9 = 19. Finance by phone is then 3 to 15, housing by video 0 to 12.
    ranges = hidden_ranges(EXAMPLE, suppression(EXAMPLE), Knowledge.EXACT)
    assert {(e.row, e.column): (b.low, b.high) for e, b in ranges.items()} == {
        (0, 1): (0, 12),
        (0, 2): (3, 15),
        (1, 1): (0, 12),
        (1, 2): (4, 16),
    }
    groups = hidden_groups(EXAMPLE, suppression(EXAMPLE))
    assert sorted((b.low, b.high) for b in groups.values()) == [
        (12, 12),
        (15, 15),
        (16, 16),
        (19, 19),
    ]
    for knowledge in Knowledge:
        assert not any(revealed(low, high) for low, high in attack(EXAMPLE, knowledge))


# ------------------------------------------------------------------------- the rule by parts


def one_way(*counts: int) -> CountTable:
    return CountTable.one_way(
        [f"c{i}" for i in range(len(counts))],
        dict(zip([f"c{i}" for i in range(len(counts))], counts, strict=True)),
    )


def two_way(*rows: Sequence[int]) -> CountTable:
    labels, columns = [f"r{i}" for i in range(len(rows))], [f"k{j}" for j in range(len(rows[0]))]
    return CountTable.two_way(
        labels,
        columns,
        {(labels[i], columns[j]): c for i, row in enumerate(rows) for j, c in enumerate(row)},
    )


def test_one_small_cell_takes_the_smallest_other_with_it() -> None:
    assert layout(publish(one_way(3, 20, 9, 40))) == [
        ["*"],
        ["20 (29%)"],
        ["*"],
        ["40 (57%)"],
        ["70"],
    ]


def test_ties_go_to_the_first_in_reading_order() -> None:
    assert layout(publish(one_way(3, 9, 9, 40))) == [
        ["*"],
        ["*"],
        ["10 (17%)"],
        ["40 (67%)"],
        ["60"],
    ]


def test_totals_are_rounded_from_the_true_counts_not_summed() -> None:
    table = publish(one_way(8, 8, 8))
    assert [f.count for f in figures(table)] == [10, 10, 10, 25]  # not 30


def test_a_small_total_is_suppressed_like_a_cell() -> None:
    table = publish(two_way([2, 3, 0], [20, 30, 40], [10, 0, 15]))
    assert table.row_totals[0].suppressed
    assert all(f.suppressed for f in table.cells[0])


def test_a_category_nobody_used_shows_as_zero() -> None:
    table = publish(two_way([20, 30], [0, 0], [12, 14]))
    assert layout(table)[1] == ["0", "0", "0 (0%)"]
    assert layout(publish(one_way(0, 20, 15)))[0] == ["0 (0%)"]


def test_a_zero_beside_a_small_row_is_suppressed() -> None:
    # Shown, [0, 0, *] would say that the 2 people of that row are all in the third column.
    table = publish(two_way([0, 0, 2], [20, 30, 40], [12, 14, 15]))
    assert all(f.suppressed for f in [*table.cells[0], table.row_totals[0]])


def test_a_table_of_one_to_seven_people_shows_nothing() -> None:
    for table in (one_way(0, 0, 5), two_way([0, 1], [0, 0]), one_way(7)):
        assert all(f.suppressed for f in figures(publish(table)))


def test_when_only_the_grand_total_can_stay_it_stays_alone() -> None:
    # Knowing the 8, two hidden finance and housing counts would each be 1 to 7 beside a
    # shown 0 (which says "nobody here"). The grand total is never hidden, as other tables
    # of the same events show it: so everything else is, the zero included.
    assert layout(publish(one_way(5, 3, 0))) == [["*"], ["*"], ["*"], ["10"]]
    assert not any(revealed(low, high) for low, high in attack(one_way(5, 3, 0), Knowledge.EXACT))


def test_a_table_of_nobody_shows_its_zeros() -> None:
    assert all(f.count == 0 for f in figures(publish(two_way([0, 0], [0, 0]))))


def test_percentages_need_a_base_of_23_and_use_the_published_figures() -> None:
    below = publish(one_way(10, 12))  # 22 people
    assert [f.percent for f in figures(below)] == [None, None, None]
    at = publish(one_way(11, 12))  # 23: published 10 of 25, 10 of 25
    assert [f.percent for f in figures(at)] == [40, 40, None]


def test_the_audit_hides_more_when_hidden_pairs_are_not_enough() -> None:
    # Two small rows (5 and 1 people) hide each other in every line, but the row totals'
    # line gives their sum, 64 - 58 = 6 (to someone who knows the figures exactly, as the
    # audit assumes), so each would be known to be 1 to 5: the first row's total is hidden
    # too, then (its row holding one hidden value) its smallest cell, 16. The second
    # column's hidden cells would then add up to 44 - 42 = 2 people: its 42 goes as well.
    table = two_way([16, 42], [3, 2], [1, 0])
    pairs_only = {
        Entry(Place.CELL, 1, 0),
        Entry(Place.CELL, 1, 1),
        Entry(Place.CELL, 2, 0),
        Entry(Place.CELL, 2, 1),
        Entry(Place.ROW_TOTAL, 1),
        Entry(Place.ROW_TOTAL, 2),
    }
    first_total = hidden_ranges(table, pairs_only, Knowledge.EXACT)[Entry(Place.ROW_TOTAL, 1)]
    assert (first_total.low, first_total.high) == (1, 5)
    assert suppression(table) == {
        *pairs_only,
        Entry(Place.ROW_TOTAL, 0),
        Entry(Place.CELL, 0, 0),
        Entry(Place.CELL, 0, 1),
    }
    assert layout(publish(table)) == [
        ["*", "*", "*"],
        ["*", "*", "*"],
        ["*", "*", "*"],
        ["20 (31%)", "45 (69%)", "65"],
    ]
    assert not any(revealed(low, high) for low, high in attack(table, Knowledge.EXACT))


def test_a_lines_hidden_cells_together_are_not_a_small_group() -> None:
    # Housing: 31 in person, 2 by video, 5 by phone. Hiding only the two small cells would
    # leave their sum in plain sight, 38 - 31 = 7 people by video or phone: a group as
    # surely disclosed as a cell. So in person is hidden too.
    table = two_way([31, 2, 5], [40, 20, 30], [35, 25, 30])
    assert [f.suppressed for f in publish(table).cells[0]] == [True, True, True]
    groups = hidden_groups(table, suppression(table))
    assert not any(bounds.reveals_few for bounds in groups.values())


def test_a_margin_report_shows_the_two_way_tables_own_totals() -> None:
    def report(*by: str) -> PublishedTable:
        plan = check_request(TERMLY, ReportRequest("2026-09", "2026-12", by), AFTER_THE_YEAR)
        return publish_report(plan, {parse_period("2026-autumn"): EXAMPLE}).tables[0][1]

    full, by_category, by_mode = report("category", "mode"), report("category"), report("mode")
    assert by_category == full.margin(Axis.ROWS)
    assert [row[0] for row in by_category.cells] == list(full.row_totals)
    assert [row[0] for row in by_mode.cells] == list(full.column_totals)
    assert by_mode.grand_total == full.grand_total


# ----------------------------------------------------------------------------- the properties

# Counts skewed to small numbers: many zeros and 1 to 7s, as a small service's months are.
counts = st.one_of(st.just(0), st.integers(1, 7), st.integers(8, 20), st.integers(0, 60))


@st.composite
def count_tables(draw: st.DrawFn, most_rows: int = 4, most_columns: int = 3) -> CountTable:
    """A table of one dimension (1 to `most_rows` categories) or two (and 2 to `most_columns`)."""
    rows = [f"r{i}" for i in range(draw(st.integers(1, most_rows)))]
    columns = [f"k{j}" for j in range(draw(st.sampled_from([0, *range(2, most_columns + 1)])))]
    if not columns:
        return CountTable.one_way(rows, {r: draw(counts) for r in rows})
    return CountTable.two_way(rows, columns, {(r, c): draw(counts) for r in rows for c in columns})


@given(count_tables(most_rows=6, most_columns=4))
@settings(max_examples=400)
def test_no_published_value_describes_one_to_seven_people(table: CountTable) -> None:
    published = publish(table)
    for figure, true in zip(figures(published), true_values(table), strict=True):
        if figure.count is None:
            continue
        assert not 1 <= true <= 7
        assert figure.count % 5 == 0 and abs(figure.count - true) <= 2
        assert (figure.count == 0) == (true == 0)


@given(count_tables(most_rows=6, most_columns=4))
@settings(max_examples=300)
def test_a_zero_is_shown_only_in_an_empty_row_or_column_of_a_table_of_eight_or_more(
    table: CountTable,
) -> None:
    published = publish(table)
    if 1 <= table.grand_total <= 7:
        assert all(f.suppressed for f in figures(published))
    for r, row in enumerate(published.cells):
        for c, figure in enumerate(row):
            if figure.count == 0 and table.is_two_way:
                assert table.row_totals[r] == 0 or table.column_totals[c] == 0


@given(count_tables(most_rows=6, most_columns=4))
@settings(max_examples=300)
def test_percentages_only_on_a_base_of_23_or_more_from_the_published_figures(
    table: CountTable,
) -> None:
    published = publish(table)
    grand = (table.grand_total, published.grand_total)
    pairs = [
        (figure, (table.row_totals[r], published.row_totals[r]) if table.is_two_way else grand)
        for r, row in enumerate(published.cells)
        for figure in row
    ]
    pairs += [(figure, grand) for figure in (*published.row_totals, *published.column_totals)]
    for figure, (true_base, base) in pairs:
        if figure.percent is not None:
            assert true_base >= 23 and figure.count is not None and base.count is not None
            assert figure.percent == percent(figure.count, base.count)
        elif true_base >= 23 and not figure.suppressed:
            assert base.suppressed
    assert published.grand_total.percent is None


@pytest.mark.parametrize("knowledge", list(Knowledge))
@given(table=count_tables())
@settings(max_examples=150)
def test_no_hidden_value_can_be_worked_out_from_the_published_table(
    knowledge: Knowledge, table: CountTable
) -> None:
    for low, high in attack(table, knowledge):
        assert not revealed(low, high), (table.grid, low, high)


@given(table=count_tables())
@settings(max_examples=150)
def test_no_line_gives_away_a_small_group_of_hidden_values(table: CountTable) -> None:
    for low, high in attack_groups(table, publish(table), Knowledge.EXACT):
        assert not reveals_someone(low, high), (table.grid, low, high)


@given(table=count_tables(), extra=st.sets(st.integers(0, 30), max_size=6))
@settings(max_examples=150)
def test_the_engines_audit_finds_the_same_ranges_as_the_simplex(
    table: CountTable, extra: set[int]
) -> None:
    # Any pattern at all, not only the engine's: the published pattern plus some more.
    # (Not a shown zero: the rule never hides one, and it is known to be 0.)
    more = {table.entries[i] for i in extra if i < len(table.entries)} - empty_entries(table)
    hidden = set(suppression(table)) | more
    for knowledge in Knowledge:
        engine = hidden_ranges(table, hidden, knowledge)
        system = LinearSystem()
        values = entry_expressions(fresh_cells(system, table), table.is_two_way)
        published = _published_with(table, hidden)
        targets = learn(system, published, table, values, knowledge)
        simplex = system.ranges(targets)
        in_order = [engine[e] for e in table.entries if e in hidden]
        assert [(Fraction(b.low), _fraction(b.high)) for b in in_order] == simplex
    groups = hidden_groups(table, hidden)
    in_line_order = [groups[line] for line in table.lines if line in groups]
    simplex_groups = attack_groups(table, _published_with(table, hidden), Knowledge.EXACT)
    assert [(Fraction(b.low), _fraction(b.high)) for b in in_line_order] == simplex_groups


def _fraction(value: int | None) -> Fraction | None:
    return None if value is None else Fraction(value)


def _published_with(table: CountTable, hidden: set[Entry]) -> PublishedTable:
    """The table published with a given pattern (figures only: the attacker needs no more)."""
    zeros = empty_entries(table)

    def figure(entry: Entry) -> Figure:
        if entry in hidden:
            return Figure(None)
        return Figure(0 if entry in zeros else round_to_base(table.value(entry)))

    width = max(1, len(table.columns))
    return PublishedTable(
        table.rows,
        table.columns,
        tuple(
            tuple(figure(Entry(Place.CELL, r, c)) for c in range(width))
            for r in range(len(table.rows))
        ),
        tuple(figure(Entry(Place.ROW_TOTAL, r)) for r in range(len(table.row_totals))),
        tuple(figure(Entry(Place.COLUMN_TOTAL, 0, c)) for c in range(len(table.column_totals))),
        figure(Entry(Place.GRAND_TOTAL)),
    )


# ------------------------------------------------------------------------ the differencing attack


def add_cells(parts: Sequence[Sequence[Sequence[Expression]]]) -> list[list[Expression]]:
    """Cell by cell, the sum of several months' cells."""
    summed: list[list[Expression]] = []
    for r, row in enumerate(parts[0]):
        summed.append([])
        for c in range(len(row)):
            total: dict[int, int] = {}
            for part in parts:
                for variable, coefficient in part[r][c].items():
                    total[variable] = total.get(variable, 0) + coefficient
            summed[r].append(total)
    return summed


def add_tables(tables: Sequence[CountTable]) -> CountTable:
    first = tables[0]
    grid = tuple(
        tuple(sum(t.grid[r][c] for t in tables) for c in range(len(first.grid[0])))
        for r in range(len(first.rows))
    )
    return CountTable(first.rows, first.columns, grid)


class Attacker:
    """Someone holding several publications about the same months, solving them together."""

    def __init__(self, months: dict[Month, CountTable], knowledge: Knowledge) -> None:
        self.system = LinearSystem()
        self.months = months
        self.knowledge = knowledge
        self.cells = {m: fresh_cells(self.system, t) for m, t in months.items()}
        self.hidden: list[Expression] = []

    def read(self, first: Month, last: Month, published: PublishedTable) -> None:
        """A table published for the months first to last (inclusive)."""
        span = [m for m in self.months if first <= m <= last]
        cells = add_cells([self.cells[m] for m in span])
        truth = add_tables([self.months[m] for m in span])
        values = entry_expressions(cells, truth.is_two_way)
        self.hidden += learn(self.system, published, truth, values, self.knowledge)

    def month_totals(self) -> list[Expression]:
        return [entry_expressions(cells, False)[-1] for cells in self.cells.values()]


AUTUMN = [SEP_2026.plus(i) for i in range(4)]
DECEMBER = Month(2026, 12)


def by_category(finance: int, housing: int) -> CountTable:
    return CountTable.one_way(["finance", "housing"], {"finance": finance, "housing": housing})


# September to November: 8 finance cases, 8 housing; December: 3 finance cases.
AUTUMN_CASES = {
    Month(2026, 9): by_category(8, 8),
    Month(2026, 10): by_category(0, 0),
    Month(2026, 11): by_category(0, 0),
    DECEMBER: by_category(3, 0),
}


def test_tables_over_overlapping_periods_would_reveal_december() -> None:
    # Each table is protected on its own (nothing in either is small), yet together they
    # say that December had 1 to 6 cases, even to someone who takes every figure as rounded.
    attacker = Attacker(AUTUMN_CASES, Knowledge.ROUNDED)
    sep_to_dec = publish(add_tables(list(AUTUMN_CASES.values())))
    sep_to_nov = publish(add_tables([AUTUMN_CASES[m] for m in AUTUMN[:3]]))
    assert not any(f.suppressed for f in [*figures(sep_to_dec), *figures(sep_to_nov)])
    attacker.read(AUTUMN[0], DECEMBER, sep_to_dec)
    attacker.read(AUTUMN[0], Month(2026, 11), sep_to_nov)
    december = attacker.system.ranges(attacker.month_totals())[-1]
    assert december == (Fraction(1), Fraction(6))
    assert reveals_someone(*december)


def test_the_rule_publishes_december_on_its_own_and_refuses_part_of_a_term() -> None:
    monthly = PublicationSeries("case opened", ("category",), Granularity.MONTH)
    attacker = Attacker(AUTUMN_CASES, Knowledge.EXACT)
    for last in ("2026-12", "2026-11"):
        plan = check_request(monthly, ReportRequest("2026-09", last, ("category",)), AFTER_THE_YEAR)
        report = publish_report(plan, {b: AUTUMN_CASES[b.first] for b in plan.blocks})
        for period, published in report.tables:
            attacker.read(period.first, period.last, published)
    assert not any(reveals_someone(*r) for r in attacker.system.ranges(attacker.month_totals()))
    termly = PublicationSeries("case opened", ("category",), Granularity.TERM)
    with pytest.raises(StatisticsRequestRefused):
        check_request(termly, ReportRequest("2026-09", "2026-11", ("category",)), AFTER_THE_YEAR)


@st.composite
def month_by_month(
    draw: st.DrawFn, months: Sequence[Month], two_way: bool
) -> dict[Month, CountTable]:
    rows = ["finance", "housing"]
    if not two_way:
        return {m: CountTable.one_way(rows, {r: draw(counts) for r in rows}) for m in months}
    columns = ["in person", "video"]
    return {
        m: CountTable.two_way(rows, columns, {(r, c): draw(counts) for r in rows for c in columns})
        for m in months
    }


@given(
    cases=st.lists(counts, min_size=8, max_size=8),
    crossed=st.sampled_from([("category", "mode"), ("category",)]),
)
# Categories 5 and 3, all in one year and one mode: the year table shows the total, 8.
@example(cases=[5, 0, 0, 0, 3, 0, 0, 0], crossed=("category",))
@example(cases=[5, 0, 0, 0, 3, 0, 0, 0], crossed=("category", "mode"))
@settings(max_examples=100)
def test_two_series_of_the_same_events_cannot_be_played_against_each_other(
    cases: list[int], crossed: tuple[str, ...]
) -> None:
    # One term's cases by category, mode and year of study (two of each), published as a
    # series by category and mode (or category alone) and one by year, which the catalogue
    # allows: they share only the term's grand total.
    by_three = {(c, m, y): cases[4 * c + 2 * m + y] for c in (0, 1) for m in (0, 1) for y in (0, 1)}
    crossed_series = PublicationSeries("case opened", crossed, Granularity.TERM)
    years = PublicationSeries("case opened", ("year",), Granularity.TERM)
    check_catalogue([crossed_series, years])
    system = LinearSystem()
    unknowns = {key: {system.unknown(0, None): 1} for key in by_three}

    def read(table: CountTable, cells: list[list[Expression]]) -> list[Expression]:
        values = entry_expressions(cells, table.is_two_way)
        return learn(system, publish(table), table, values, Knowledge.EXACT)

    def summed(keys: list[tuple[int, int, int]]) -> Expression:
        return {v: 1 for key in keys for v in unknowns[key]}

    def count(keys: list[tuple[int, int, int]]) -> int:
        return sum(by_three[key] for key in keys)

    labels = ["a", "b"]
    if crossed == ("category", "mode"):
        keys = [[[(c, m, y) for y in (0, 1)] for m in (0, 1)] for c in (0, 1)]
        first = CountTable.two_way(
            labels,
            labels,
            {(labels[c], labels[m]): count(keys[c][m]) for c in (0, 1) for m in (0, 1)},
        )
        hidden = read(first, [[summed(keys[c][m]) for m in (0, 1)] for c in (0, 1)])
    else:
        keys_1 = [[(c, m, y) for m in (0, 1) for y in (0, 1)] for c in (0, 1)]
        first = CountTable.one_way(labels, {labels[c]: count(keys_1[c]) for c in (0, 1)})
        hidden = read(first, [[summed(keys_1[c])] for c in (0, 1)])
    keys_y = [[(c, m, y) for c in (0, 1) for m in (0, 1)] for y in (0, 1)]
    second = CountTable.one_way(labels, {labels[y]: count(keys_y[y]) for y in (0, 1)})
    hidden += read(second, [[summed(keys_y[y])] for y in (0, 1)])
    assert not any(revealed(low, high) for low, high in system.ranges(hidden))


@given(data=st.data())
@settings(max_examples=120)
def test_reports_the_validator_accepts_cannot_be_differenced(data: st.DataObject) -> None:
    granularity = data.draw(st.sampled_from([Granularity.MONTH, Granularity.TERM]))
    two_way = data.draw(st.booleans())
    by = ("category", "mode") if two_way else ("category",)
    series = PublicationSeries("case opened", by, granularity)
    # Autumn month by month, or autumn and spring term by term.
    months = AUTUMN if granularity is Granularity.MONTH else [SEP_2026.plus(i) for i in range(8)]
    cases = data.draw(month_by_month(months, two_way))
    blocks = blocks_between(months[0], months[-1], granularity)
    spans = [(a, b) for a in range(len(blocks)) for b in range(a, len(blocks))]
    chosen = data.draw(st.lists(st.sampled_from(spans), min_size=2, max_size=2, unique=True))
    attacker = Attacker(cases, Knowledge.EXACT)
    seen: dict[Period, PublishedTable] = {}
    for a, b in chosen:
        request = ReportRequest(blocks[a].first.name, blocks[b].last.name, by)
        plan = check_request(series, request, AFTER_THE_YEAR)
        counts = {p: add_tables([cases[m] for m in p.months]) for p in plan.blocks}
        for period, published in publish_report(plan, counts).tables:
            # The same block always gives the same table, so a second copy tells nothing new.
            if period in seen:
                assert seen[period] == published
                continue
            seen[period] = published
            attacker.read(period.first, period.last, published)
    hidden = attacker.system.ranges(attacker.hidden)
    assert not any(revealed(low, high) for low, high in hidden)
    month_totals = attacker.system.ranges(attacker.month_totals())
    assert not any(reveals_someone(low, high) for low, high in month_totals)
