"""Overlapping runs of scheduled programs (``overlap = true``): a due run that finds the
program's run still going starts beside it, as an extra run ``NAME:i`` (replicas.extra_run).

An extra run is an ordinary runner, in the Supervisor's runners for as long as its run lasts:
its own pid, history, log files and status row, and the program's name stands for it as for
the program's own runner (``svctl stop NAME`` stops every run, a reload that removes or
restarts the program stops them, the daemon's shutdown stops them with the rest). It is
started once, through the dependency gate's rules, and has no schedule of its own. Once its
run is over (STOPPED, EXITED or FATAL: ``autorestart`` is done with it) it is retired and
forgotten: its ``post_stop`` hook runs, its logs drain to their files, then its runner and
status row go; its history stays.

At most ``overlap_max`` runs of a program go at once, the program's own included (an extra
run counts until it is forgotten); a due run beyond that is skipped, and the scheduler records
why (scheduler.py).
"""

from __future__ import annotations

import functools
import itertools
from typing import TYPE_CHECKING

from supervisord_lite import lifecycle as lc
from supervisord_lite.replicas import extra_run, instance_name, program_of, split_instance

if TYPE_CHECKING:
    from supervisord_lite.runtime.program import ProgramRunner
    from supervisord_lite.runtime.supervisor import Supervisor

__all__ = ["OverlappingRuns"]

_OVER = (lc.State.STOPPED, lc.State.EXITED, lc.State.FATAL)
"""States of an extra run whose run is over: nothing will start it again."""


class OverlappingRuns:
    """The extra runs going, by name; see the module docstring."""

    def __init__(self, sup: Supervisor) -> None:
        self._sup = sup
        self._extras: dict[str, ProgramRunner] = {}

    def __contains__(self, name: object) -> bool:
        return name in self._extras

    def __bool__(self) -> bool:
        return bool(self._extras)

    def of(self, name: str) -> list[ProgramRunner]:
        """Program ``name``'s extra runs, by index."""
        runs = [r for n, r in self._extras.items() if program_of(n) == name]
        return sorted(runs, key=lambda r: _index(r.name))

    def start(self, runner: ProgramRunner) -> str | None:
        """Start another run of ``runner``'s program beside its run still going: None once
        it is started, else why it is not (the bound, or a dependency not met)."""
        sup = self._sup
        program = runner.program
        going = 1 + len(self.of(program.name))
        if going >= program.overlap_max:
            return f"{going} runs still go (overlap_max = {program.overlap_max})"
        unmet = sup.gate.unmet(runner)
        if unmet:
            return f"the previous run still goes, and another is {unmet}"
        free = (i for i in itertools.count(1) if instance_name(program.name, i) not in sup.runners)
        index = next(free)
        extra = sup.add(extra_run(program, index))
        self._extras[extra.name] = extra
        sup.gate.refresh()
        extra.watch(functools.partial(self._stepped, extra))
        sup.gate.want_up(extra)
        return None

    def _stepped(
        self, extra: ProgramRunner, entered: tuple[lc.State, ...], snap: lc.Snapshot
    ) -> bool:
        if snap.state not in _OVER:
            return False
        self._sup.services.nursery.start_soon(self._forget, extra, name=f"forget {extra.name}")
        return True

    async def _forget(self, extra: ProgramRunner) -> None:
        """The run is over: let its hooks finish and its logs drain, then forget it (unless
        the daemon is shutting down: its shutdown retires every runner it holds)."""
        await extra.wait_hooks()
        if extra.snapshot.state not in _OVER:  # an operator started it again meanwhile
            extra.watch(functools.partial(self._stepped, extra))
            return
        extra.retire()
        await extra.finished.wait()
        sup = self._sup
        if sup.shutting_down:
            return
        if self._extras.get(extra.name) is extra:
            del self._extras[extra.name]
        if sup.runners.get(extra.name) is extra:  # a reload may have retired it already
            del sup.runners[extra.name]
            sup.gate.refresh()


def _index(name: str) -> int:
    split = split_instance(name)
    return split[1] if split is not None else 0
