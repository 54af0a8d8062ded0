"""What a program needs of the other programs and of its own tables, checked once every table is
converted: ``depends_on`` names declared programs and makes no cycle, a probe or progress that
reads output needs that output captured, and a watchdog needs the notify socket it is fed through.

These checks read whole ``ProgramConfig``s (or all of them), so they run after each table has
passed its own checks; a program whose table had problems is still a known name. Pure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervisord_lite import config_wording as wording
from supervisord_lite.config_logs import INHERIT
from supervisord_lite.depgraph import Condition, DependencyGraph
from supervisord_lite.errors import Problem

if TYPE_CHECKING:
    from collections.abc import Mapping

    from supervisord_lite.config_program import ProgramConfig

__all__ = ["check_needs"]


def check_needs(
    programs: Mapping[str, ProgramConfig], declared: Mapping[str, object], problems: list[Problem]
) -> None:
    """``depends_on`` names declared programs and makes no cycle; a watchdog needs notify.

    A program whose own table has problems is still a known name (it is reported already)."""
    needs: dict[str, dict[str, Condition]] = {name: {} for name in declared}
    needs.update({name: dict(p.depends_on) for name, p in programs.items()})
    paths = {name: f"{wording.join('$.programs', name)}.depends_on" for name in needs}
    problems.extend(DependencyGraph(needs).problems(paths))
    for name, program in programs.items():
        captured = [t for t in (program.log.stdout, program.log.stderr) if t not in (None, INHERIT)]
        if program.ready is not None and program.ready.log is not None and not captured:
            where = f"{wording.join('$.programs', name)}.ready.log"
            problems.append(Problem(where, "needs captured output (log.stdout or log.stderr)"))
        if program.watchdog is not None and (program.ready is None or not program.ready.notify):
            where = f"{wording.join('$.programs', name)}.watchdog"
            problems.append(Problem(where, "needs ready.notify = true (WATCHDOG=1 comes that way)"))
        if not program.notify_socket and program.ready is not None and program.ready.notify:
            where = f"{wording.join('$.programs', name)}.notify_socket"
            problems.append(Problem(where, "must be true with ready.notify = true"))
        progress = program.progress
        if progress is not None and getattr(program.log, progress.source) in (None, INHERIT):
            where = f"{wording.join('$.programs', name)}.progress.from"
            problems.append(Problem(where, f"needs log.{progress.source} captured to a file"))
