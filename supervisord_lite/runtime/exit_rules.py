"""When the daemon ends on its own: daemon_exit.py's rules applied as programs end.

A critical program that ends, or (with ``exit_when = "all-exited"``) every program having
ended once boot is over, sets the Supervisor's ``ending`` once and calls its ``on_ending``
(the daemon's shutdown). Nothing is decided during a shutdown already under way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervisord_lite import daemon_exit
from supervisord_lite import lifecycle as lc
from supervisord_lite.runtime.daemonlog import log

if TYPE_CHECKING:
    from supervisord_lite.runtime.program import ProgramRunner
    from supervisord_lite.runtime.supervisor import Supervisor

__all__ = ["judge_exit", "state_changed"]


def state_changed(sup: Supervisor, name: str) -> None:
    """A runner's state changed: look at the exit rules if it ended or stopped."""
    runner = sup.runners.get(name)
    if runner is not None and runner.snapshot.state in (lc.State.EXITED, lc.State.FATAL):
        judge_exit(sup, runner if runner.program.critical else None)
    elif runner is not None and runner.snapshot.state is lc.State.STOPPED:
        judge_exit(sup, None)


def judge_exit(sup: Supervisor, critical: ProgramRunner | None) -> None:
    """Apply the daemon's exit rules (daemon_exit.py) after a program ended: ``critical``
    is a critical program that did; all programs are looked at only for ``all-exited``."""
    if sup.ending is not None or sup.shutting_down:
        return
    if critical is not None:
        views = [_end_view(sup, critical)]
    elif sup.config.daemon.exit_when == "all-exited" and sup.booted:
        views = [_end_view(sup, r) for r in sup.runners.values()]
    else:
        return
    ending = daemon_exit.decide(sup.config.daemon.exit_when, views, booted=sup.booted)
    if ending is None:
        return
    sup.ending = ending
    log.warning("%s: shutting down, exit status %d", ending.reason, ending.status)
    if sup.on_ending is not None:
        sup.on_ending()


def _end_view(sup: Supervisor, runner: ProgramRunner) -> daemon_exit.ProgramEnd:
    snap = runner.snapshot
    blocked = sup.gate.failure(runner.name)
    return daemon_exit.ProgramEnd(
        name=runner.name,
        state=snap.state,
        last_exit=snap.last_exit,
        completed=snap.last_exit is not None and runner.policy.expects(snap.last_exit),
        critical=runner.program.critical,
        waiting=runner.waiting_for.startswith("waiting for") and not blocked,
        blocked=bool(blocked),
    )
