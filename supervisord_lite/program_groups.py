"""Program groups: ``svctl start/stop/restart/signal/status GROUP:`` acts on every member.

A program joins groups with ``groups = ["web", ...]``. On the command line a name ending in
``:`` is a group and any other name a program, so a group may share its name with a program
without ambiguity: ``web`` is the program, ``web:`` every member of the group ``web`` (which
need not include the program ``web``). Members come in config order; a program named twice
(by itself and by a group, or by two groups) is acted on once. An unknown group is an error
naming the groups there are, before anything is done. Pure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervisord_lite.errors import NoSuchGroup

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from supervisord_lite.config import ProgramConfig

__all__ = ["expand", "group_names"]


def group_names(programs: Mapping[str, ProgramConfig]) -> list[str]:
    """Every group some program is in, sorted."""
    return sorted({group for program in programs.values() for group in program.groups})


def expand(names: Iterable[str], programs: Mapping[str, ProgramConfig]) -> tuple[str, ...]:
    """``names`` with each ``GROUP:`` replaced by its members, each name once, in order.

    Raises:
        NoSuchGroup: a ``GROUP:`` that no program is in.
    """
    found: dict[str, None] = {}
    unknown = []
    for name in names:
        if not name.endswith(":") or name.count(":") != 1:
            found[name] = None
            continue
        group = name[:-1]
        members = [p.name for p in programs.values() if group in p.groups]
        if not members:
            unknown.append(group)
        found.update(dict.fromkeys(members))
    if unknown:
        raise NoSuchGroup(unknown, group_names(programs))
    return tuple(found)
