"""The dependency graph as text other tools draw (``svctl graph``): Mermaid, Graphviz dot, or
JSON. Edges point from a dependency to the program that waits for it, labelled with the
condition it waits for. Pure: it reads the programs' ``depends_on`` from their status."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["FORMATS", "render"]

FORMATS: Final = ("mermaid", "dot", "json")


def _edges(needs: Mapping[str, Mapping[str, str]]) -> list[tuple[str, str, str]]:
    return sorted((dep, name, cond) for name, deps in needs.items() for dep, cond in deps.items())


def _mermaid_id(name: str) -> str:
    """A node id Mermaid accepts: program names may hold characters it reads as syntax."""
    return "p_" + "".join(c if c.isalnum() else f"_{ord(c):x}_" for c in name)


def render(needs: Mapping[str, Mapping[str, str]], fmt: str) -> str:
    """``needs`` maps every program to its dependencies and their conditions."""
    import json  # here: svctl's other commands do without it

    names = sorted(needs)
    edges = _edges(needs)
    if fmt == "json":
        return json.dumps(
            {
                "programs": names,
                "edges": [{"from": a, "to": b, "condition": c} for a, b, c in edges],
            }
        )
    if fmt == "dot":
        lines = ["digraph programs {", "  rankdir=LR;"]
        lines += [f"  {json.dumps(n)};" for n in names]
        lines += [
            f"  {json.dumps(a)} -> {json.dumps(b)} [label={json.dumps(c)}];" for a, b, c in edges
        ]
        return "\n".join([*lines, "}"])
    if fmt == "mermaid":
        lines = ["graph LR"]
        lines += [f'  {_mermaid_id(n)}["{n}"]' for n in names]
        lines += [f"  {_mermaid_id(a)} -->|{c}| {_mermaid_id(b)}" for a, b, c in edges]
        return "\n".join(lines)
    raise ValueError(f"unknown graph format {fmt!r} (one of {', '.join(FORMATS)})")
