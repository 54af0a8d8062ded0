"""Which program waits for which: the dependency graph of a config, checked and ordered.

A program's ``depends_on`` names other programs and the condition each must reach before it
starts. The graph must name only known programs and have no cycle; ``problems`` says what is
wrong with a path and, for a cycle, the cycle itself (``a -> b -> a``). Start order is by
levels: a program's level is one more than its deepest dependency's, so independent programs
share a level and start in parallel; stop order is the reverse, dependents first. Pure: the
standard library's ``graphlib`` does the ordering.
"""

from __future__ import annotations

import graphlib
from typing import TYPE_CHECKING, Final, Literal

from supervisord_lite.errors import Problem

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ["CONDITIONS", "Condition", "DependencyGraph"]

Condition = Literal["started", "ready", "healthy", "completed", "completed_successfully"]
CONDITIONS: Final[tuple[Condition, ...]] = (
    "started",
    "ready",
    "healthy",
    "completed",
    "completed_successfully",
)


class DependencyGraph:
    """The programs' dependencies: ``needs[name]`` maps each dependency to its condition."""

    def __init__(self, needs: Mapping[str, Mapping[str, Condition]]) -> None:
        self.needs: dict[str, dict[str, Condition]] = {n: dict(d) for n, d in needs.items()}
        self._dependents: dict[str, set[str]] = {name: set() for name in self.needs}
        for name, deps in self.needs.items():
            for dep in deps:
                self._dependents.setdefault(dep, set()).add(name)

    def problems(self, path_of: Mapping[str, str]) -> list[Problem]:
        """What makes the graph unusable: unknown names and cycles, each at the path of the
        ``depends_on`` that says it (``path_of[name]``)."""
        found: list[Problem] = []
        for name, deps in self.needs.items():
            for dep in deps:
                if dep == name:
                    found.append(Problem(path_of[name], f"{name!r} cannot depend on itself"))
                elif dep not in self.needs:
                    known = ", ".join(sorted(self.needs)) or "none"
                    message = f"no program named {dep!r} (known: {known})"
                    found.append(Problem(path_of[name], message))
        if found:
            return found
        cycle = self._cycle()
        if cycle:
            message = f"dependency cycle: {' -> '.join(cycle)}"
            found.append(Problem(path_of[cycle[0]], message))
        return found

    def _cycle(self) -> list[str]:
        sorter = graphlib.TopologicalSorter(self.needs)
        try:
            sorter.prepare()
        except graphlib.CycleError as exc:
            # graphlib names the cycle ending where it began, dependency first: turn it into
            # "dependent -> dependency" reading order, starting at its smallest name.
            nodes: list[str] = list(reversed(exc.args[1]))[:-1]
            start = nodes.index(min(nodes))
            ordered = nodes[start:] + nodes[:start]
            return [*ordered, ordered[0]]
        return []

    def levels(self, names: Iterable[str] | None = None) -> list[list[str]]:
        """Start order of ``names`` (all programs when None) and everything they need: lists of
        programs that may start together, dependencies first, each list sorted by name.

        Raises:
            graphlib.CycleError: the graph has a cycle (``problems`` reports it first).
        """
        wanted = self.closure(self.needs if names is None else names)
        sorter = graphlib.TopologicalSorter({n: set(self.needs.get(n, ())) for n in wanted})
        sorter.prepare()
        order: list[list[str]] = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready())
            order.append(ready)
            sorter.done(*ready)
        return order

    def closure(self, names: Iterable[str]) -> set[str]:
        """``names`` and every program they need, directly or through others."""
        seen: set[str] = set()
        todo = list(names)
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo.extend(self.needs.get(name, ()))
        return seen

    def dependents(self, name: str, *, transitive: bool = True) -> set[str]:
        """The programs that need ``name`` (and, with ``transitive``, those that need them)."""
        found: set[str] = set()
        todo = list(self._dependents.get(name, ()))
        while todo:
            other = todo.pop()
            if other not in found:
                found.add(other)
                if transitive:
                    todo.extend(self._dependents.get(other, ()))
        return found
