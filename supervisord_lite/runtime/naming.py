"""Which runners a request's names stand for, and the order they are answered in.

A program's name stands for its runner and, with ``overlap``, its extra runs (overlapping.py);
a replicated program's name (replicas.py) for all its instances, ``NAME:i`` for one. Answers
list runners in config order, a program's instances by index.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervisord_lite.errors import NoSuchProgram
from supervisord_lite.replicas import program_of, split_instance

if TYPE_CHECKING:
    from collections.abc import Iterable

    from supervisord_lite.config import Config
    from supervisord_lite.runtime.program import ProgramRunner
    from supervisord_lite.runtime.supervisor import Supervisor

__all__ = ["has_instances", "instances_of", "known_names", "lookup", "ordered"]


def lookup(sup: Supervisor, names: Iterable[str], *, every: bool = False) -> list[ProgramRunner]:
    """The runners for ``names`` (all of them, in config order, with ``every``); a
    replicated program's name stands for all its instances, ``NAME:i`` for one, and an
    overlapping program's for its extra runs too (overlapping.py).

    Raises:
        NoSuchProgram: some names are unknown; the error lists the known ones.
    """
    if every:
        return ordered(sup, sup.runners.values())
    found: dict[str, ProgramRunner] = {}
    missing = []
    for name in dict.fromkeys(names):
        if name in sup.runners:
            found[name] = sup.runners[name]
            found.update((r.name, r) for r in sup.overlapping.of(name))
        elif _replicated(sup.config, name):
            found.update((r.name, r) for r in instances_of(sup, name))
        else:
            missing.append(name)
    if missing:
        raise NoSuchProgram(missing, known_names(sup))
    return list(found.values())


def _replicated(config: Config, name: str) -> bool:
    """Whether ``name`` is a program of the config that runs instances (``replicas``)."""
    program = config.programs.get(name)
    return program is not None and program.replicas is not None


def has_instances(config: Config, name: str) -> bool:
    """Whether ``name`` is a program whose runs go by ``NAME:i`` names: a replicated
    one, or one with ``overlap`` (its extra runs, overlapping.py)."""
    program = config.programs.get(name)
    return program is not None and (program.replicas is not None or program.overlap)


def instances_of(sup: Supervisor, name: str) -> list[ProgramRunner]:
    """A replicated program's runners, by index."""
    return ordered(sup, (r for r in sup.runners.values() if program_of(r.name) == name))


def known_names(sup: Supervisor) -> list[str]:
    """What a request may name: each runner, and each replicated program."""
    return sorted({*sup.runners, *(n for n in sup.config.programs if _replicated(sup.config, n))})


def ordered(sup: Supervisor, runners: Iterable[ProgramRunner]) -> list[ProgramRunner]:
    """Runners in config order, a program's instances (or extra runs) by index (without
    either: as given, the order they were added in)."""
    if not sup.overlapping and all(p.replicas is None for p in sup.config.programs.values()):
        return list(runners)
    order = {name: i for i, name in enumerate(sup.config.programs)}

    def key(runner: ProgramRunner) -> tuple[int, int]:
        split = split_instance(runner.name)
        program, index = split if split is not None else (runner.name, 0)
        return order.get(program, len(order)), index

    return sorted(runners, key=key)
