"""What the daemon says of its programs: the one-line summary, and how a shutdown went.

The summary is systemd's ``STATUS=`` line (sdnotify.py) and the log's ready line. At shutdown,
the daemon's log says what held it past its timeout, and the last event of its life says who
had to be SIGKILLed and how many bytes of output were lost (the exit status then: runtime/
__init__.py).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from supervisord_lite.protocol.messages import DaemonEvent
from supervisord_lite.runtime.daemonlog import log

if TYPE_CHECKING:
    from supervisord_lite.runtime.supervisor import Supervisor

__all__ = ["output_lost", "report_timeout", "stopped_event", "summary"]


def summary(supervisor: Supervisor) -> str:
    """The programs' states in one line: systemd's STATUS=, the log's ready line."""
    states: dict[str, int] = {}
    for runner in supervisor.runners.values():
        key = runner.snapshot.state.value.lower()
        states[key] = states.get(key, 0) + 1
    counts = ", ".join(f"{n} {state}" for state, n in sorted(states.items())) or "no programs"
    return f"{len(supervisor.runners)} programs: {counts}"


def stopped_event(killed: list[str], lost: int) -> DaemonEvent:
    """The last event of the daemon's life: how the shutdown went."""
    said = "stopped"
    if killed:
        said += f"; SIGKILLed at the shutdown timeout: {', '.join(killed)}"
    if lost:
        said += f"; {lost} bytes of programs' output could not be written"
    return DaemonEvent(change="stopped", at=time.time(), message=said)


def report_timeout(supervisor: Supervisor, timeout: float, killed: list[str]) -> None:
    """Say what held the shutdown past its timeout: programs that had to be SIGKILLed, or log
    output that had not reached its files (a stalled log target), or neither."""
    backlog = [line for runner in supervisor.runners.values() for line in runner.logs.backlog()]
    if killed:
        log.error("shutdown timed out after %gs; SIGKILLed: %s", timeout, ", ".join(killed))
    if backlog:
        log.error(
            "shutdown timed out after %gs with output not yet in its log files: %s",
            timeout,
            "; ".join(backlog),
        )
    if not killed and not backlog:
        log.error("shutdown timed out after %gs; no program was left to SIGKILL", timeout)


def output_lost(supervisor: Supervisor) -> int:
    """Bytes of programs' output that closing the log files lost, or that are still not in
    them (a close that did not end in time)."""
    return sum(
        runner.logs.lost_at_close + sum(s.backlog for s in runner.logs.streams)
        for runner in supervisor.runners.values()
    )
