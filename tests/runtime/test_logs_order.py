"""The order of lines across a program's streams (``runtime/logs/order.py``), table-driven:
what is noted, the plan for the last N lines, and the dealing of each stream's lines."""

from __future__ import annotations

import pytest

from supervisord_lite.runtime.logs.order import LineOrder, Plan, deal, runs


def noted(*chunks: tuple[str, bytes], max_runs: int = 100) -> LineOrder:
    order = LineOrder(max_runs)
    for stream, data in chunks:
        order.note(stream, data)
    return order


@pytest.mark.parametrize(
    ("chunks", "lines", "runs_", "counts"),
    [
        ([], 5, [], {}),
        ([("stdout", b"a\nb\n")], 5, [("stdout", 2)], {"stdout": 2}),
        ([("stdout", b"a\n"), ("stdout", b"b\n")], 5, [("stdout", 2)], {"stdout": 2}),
        (
            [("stdout", b"a\n"), ("stderr", b"x\ny\n"), ("stdout", b"b\n")],
            3,
            [("stderr", 2), ("stdout", 1)],
            {"stderr": 2, "stdout": 1},
        ),
        (
            [("stdout", b"a\n"), ("stderr", b"x\ny\n"), ("stdout", b"b\n")],
            2,
            [("stderr", 1), ("stdout", 1)],
            {"stderr": 1, "stdout": 1},
        ),
        # A chunk without a newline ends no line: the run goes on.
        ([("stdout", b"a"), ("stderr", b"par"), ("stdout", b"\n")], 5, [("stdout", 1)], None),
        ([("stdout", b"a\n")], 0, [], {}),
    ],
)
def test_plan(
    chunks: list[tuple[str, bytes]],
    lines: int,
    runs_: list[tuple[str, int]],
    counts: dict[str, int] | None,
) -> None:
    plan = noted(*chunks).plan(lines)
    assert plan.runs == runs_
    assert plan.counts == (counts if counts is not None else {"stdout": 1})
    assert plan.lines == sum(n for _, n in runs_)


def test_the_oldest_runs_are_forgotten_past_the_bound() -> None:
    order = noted(*[(("stdout", "stderr")[i % 2], b"l\n") for i in range(10)], max_runs=4)
    assert order.plan(100).runs == [("stdout", 1), ("stderr", 1)] * 2


def test_deal_follows_the_runs() -> None:
    plan = Plan([("stdout", 2), ("stderr", 1), ("stdout", 1)])
    lines = {"stdout": [b"a\n", b"b\n", b"c\n"], "stderr": [b"x\n"]}
    assert deal(plan, lines) == [
        ("stdout", b"a\n"),
        ("stdout", b"b\n"),
        ("stderr", b"x\n"),
        ("stdout", b"c\n"),
    ]


def test_a_stream_short_of_lines_gives_what_it_has_from_its_newest_runs() -> None:
    # The file holds fewer lines than were read (a drop policy, a rotation without backups).
    plan = Plan([("stdout", 2), ("stderr", 1), ("stdout", 1)])
    lines = {"stdout": [b"c\n"], "stderr": [b"x\n"]}
    assert deal(plan, lines) == [("stderr", b"x\n"), ("stdout", b"c\n")]


def test_runs_join_neighbours_of_one_stream_within_the_limit() -> None:
    picked = [("stdout", b"a\n"), ("stdout", b"b\n"), ("stderr", b"x\n"), ("stdout", b"c\n")]
    assert list(runs(picked, 100)) == [
        ("stdout", b"a\nb\n"),
        ("stderr", b"x\n"),
        ("stdout", b"c\n"),
    ]
    assert list(runs(picked[:2], 3)) == [("stdout", b"a\n"), ("stdout", b"b\n")]
