"""Replicas: one program run as N instances ``NAME:0`` .. ``NAME:N-1``.

A program with ``replicas`` set is a template; each instance is an ordinary ``ProgramConfig``
named ``NAME:i`` in which ``{replica}`` (the index) and ``{name}`` (the program's name) are
expanded in the command, the values of ``env`` and the log paths, so an instance can take a
port of its own (``--port=80{replica}``) and writes files of its own. Everything the daemon does
to one program (its runner, its history, its log files, its status row) it then does to each
instance by the instance's name. A program without ``replicas`` is not expanded at all: its one
instance keeps the program's name and its command is taken as written.

A scheduled program with ``overlap`` (not replicated) runs a due run that finds the previous
one still going as an extra run ``NAME:i`` (``extra_run``), i >= 1, beside the program's own
runner ``NAME``: the same command and settings, log files of its own, no schedule or watched
files of its own.

Program names hold no ``:`` (config_program.py), so ``NAME:i`` never collides with a program's name,
and ``NAME`` alone can stand for all of a program's instances. Pure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import msgspec

from supervisord_lite import config_wording as wording
from supervisord_lite.errors import Problem

if TYPE_CHECKING:
    from collections.abc import Mapping

    from supervisord_lite.config import ProgramConfig

__all__ = [
    "MAX_OVERLAP",
    "MAX_REPLICAS",
    "REPLICA",
    "check_replicas",
    "extra_run",
    "instance",
    "instance_name",
    "instances",
    "program_of",
    "split_instance",
]

MAX_REPLICAS: Final = 1000
"""The most instances one program may have."""

MAX_OVERLAP: Final = 100
"""The most runs of one program going at once with ``overlap`` (its ``overlap_max``)."""

REPLICA: Final = "{replica}"
NAME: Final = "{name}"


def instance_name(program: str, index: int) -> str:
    """``web``, 2 -> ``web:2``."""
    return f"{program}:{index}"


def split_instance(name: str) -> tuple[str, int] | None:
    """``web:2`` -> ("web", 2); None for a name that is not an instance's."""
    program, colon, index = name.rpartition(":")
    if not colon or not program or not index.isdigit() or str(int(index)) != index:
        return None
    return program, int(index)


def program_of(name: str) -> str:
    """The program an instance belongs to (a program's own name when it is not one)."""
    split = split_instance(name)
    return split[0] if split is not None else name


def expand(text: str, program: str, index: int) -> str:
    """``{replica}`` and ``{name}`` replaced; any other brace is kept as written."""
    return text.replace(REPLICA, str(index)).replace(NAME, program)


def instance(program: ProgramConfig, index: int) -> ProgramConfig:
    """Instance ``index`` of a replicated program, its templates expanded."""
    name = program.name

    def path(target: str | None) -> str | None:
        return expand(target, name, index) if target is not None else None

    log = msgspec.structs.replace(
        program.log, stdout=path(program.log.stdout), stderr=path(program.log.stderr)
    )
    return msgspec.structs.replace(
        program,
        name=instance_name(name, index),
        command=tuple(expand(arg, name, index) for arg in program.command),
        env={key: expand(value, name, index) for key, value in program.env.items()},
        cwd=path(program.cwd),
        log=log,
    )


def extra_run(program: ProgramConfig, index: int) -> ProgramConfig:
    """Extra run ``index`` (>= 1) of an overlapping program: named ``NAME:index``, with no
    schedule and no watched files (the program's runner keeps them), each log file beside the
    program's with ``:index`` after the name's first part (``report.stdout.log`` ->
    ``report:1.stdout.log``), so no two runs write one file."""
    suffix = f":{index}"

    def path(target: str | None) -> str | None:
        if target is None or target == "inherit":
            return target
        folder, _, base = target.rpartition("/")
        stem, dot, rest = base[1:].partition(".")
        return f"{folder}/{base[:1]}{stem}{suffix}{dot}{rest}"

    log = msgspec.structs.replace(
        program.log, stdout=path(program.log.stdout), stderr=path(program.log.stderr)
    )
    return msgspec.structs.replace(
        program,
        name=instance_name(program.name, index),
        schedule=None,
        every=None,
        watch=(),
        reload_check=None,
        log=log,
    )


def instances(program: ProgramConfig, count: int | None = None) -> tuple[ProgramConfig, ...]:
    """The instances a program runs: ``count`` (its ``replicas`` when None) expanded copies,
    or the program itself when it is not replicated."""
    if program.replicas is None:
        return (program,)
    wanted = program.replicas if count is None else count
    return tuple(instance(program, i) for i in range(wanted))


def check_replicas(programs: Mapping[str, ProgramConfig], problems: list[Problem]) -> None:
    """Each instance of a replicated program writes files of its own (its log paths hold
    ``{replica}``), and no program depends on a replicated one (which instance would it wait
    for?)."""
    for name, program in programs.items():
        where = wording.join("$.programs", name)
        for dep in program.depends_on:
            other = programs.get(dep)
            if other is not None and other.replicas is not None:
                message = f"{dep!r} has replicas: depending on replicated programs is not supported"
                problems.append(Problem(f"{where}.depends_on.{dep}", message))
        if program.replicas is None:
            continue
        for stream in ("stdout", "stderr"):
            target = getattr(program.log, stream)
            if target is not None and target != "inherit" and REPLICA not in target:
                message = f"each instance needs a file of its own: put {REPLICA} in the path"
                problems.append(Problem(f"{where}.log.{stream}", message))
