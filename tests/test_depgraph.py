"""The dependency graph: problems named with their path, start levels, dependents."""

from __future__ import annotations

import pytest

from supervisord_lite.depgraph import DependencyGraph
from supervisord_lite.errors import Problem


def _paths(*names: str) -> dict[str, str]:
    return {n: f"$.programs.{n}.depends_on" for n in names}


STACK = {
    "db": {},
    "migrate": {"db": "ready"},
    "web": {"db": "ready", "migrate": "completed_successfully"},
    "worker": {"db": "ready", "web": "ready"},
    "cron": {},
}


def test_levels_start_dependencies_first_and_independents_together() -> None:
    assert DependencyGraph(STACK).levels() == [["cron", "db"], ["migrate"], ["web"], ["worker"]]


def test_levels_of_some_programs_include_what_they_need() -> None:
    assert DependencyGraph(STACK).levels(["web"]) == [["db"], ["migrate"], ["web"]]


def test_diamond() -> None:
    graph = DependencyGraph(
        {
            "top": {"l": "ready", "r": "ready"},
            "l": {"base": "ready"},
            "r": {"base": "ready"},
            "base": {},
        }
    )
    assert graph.levels() == [["base"], ["l", "r"], ["top"]]
    assert graph.dependents("base") == {"l", "r", "top"}
    assert graph.dependents("base", transitive=False) == {"l", "r"}


def test_dependents_and_closure() -> None:
    graph = DependencyGraph(STACK)
    assert graph.dependents("db") == {"migrate", "web", "worker"}
    assert graph.dependents("web") == {"worker"}
    assert graph.dependents("cron") == set()
    assert graph.closure(["worker"]) == {"worker", "web", "db", "migrate"}


@pytest.mark.parametrize(
    ("needs", "expected"),
    [
        (
            {"a": {"b": "ready"}, "b": {"a": "ready"}},
            [Problem("$.programs.a.depends_on", "dependency cycle: a -> b -> a")],
        ),
        (
            {"a": {"b": "ready"}, "b": {"c": "ready"}, "c": {"a": "started"}, "d": {}},
            [Problem("$.programs.a.depends_on", "dependency cycle: a -> b -> c -> a")],
        ),
        (
            {"x": {"y": "ready"}, "y": {"z": "ready"}, "z": {"y": "ready"}},
            [Problem("$.programs.y.depends_on", "dependency cycle: y -> z -> y")],
        ),
        (
            {"a": {"a": "ready"}},
            [Problem("$.programs.a.depends_on", "'a' cannot depend on itself")],
        ),
        (
            {"a": {"nope": "ready"}, "b": {}},
            [Problem("$.programs.a.depends_on", "no program named 'nope' (known: a, b)")],
        ),
        ({"a": {"b": "ready"}, "b": {}}, []),
    ],
)
def test_problems(needs: dict[str, dict[str, str]], expected: list[Problem]) -> None:
    graph = DependencyGraph(needs)  # type: ignore[arg-type]
    assert graph.problems(_paths(*needs)) == expected
