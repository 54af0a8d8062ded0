"""``svctl signal``: any signal an operator sends to a program, recorded in its history.

The signal goes to the whole run by default, as the daemon's own stop signals do (its process
group, and its cgroup or escaped descendants: ``RunScope.send``), or with ``main`` to the main
process alone (the leader, still unreaped while the snapshot names its pid, so the pid cannot
have been reused). The lifecycle is not told: what the program does with the signal (reload,
reopen its logs, exit) is seen as for any other run. A program with no run to signal is a
result that is not ok, and nothing is recorded for it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from supervisord_lite import signames
from supervisord_lite.protocol.errors import BadRequest
from supervisord_lite.protocol.messages import ActionResult
from supervisord_lite.runtime.daemonlog import log
from supervisord_lite.runtime.reports import run_event

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from supervisord_lite.runtime.program import ProgramRunner
    from supervisord_lite.runtime.storewriter import StoreWriter

__all__ = ["SIGNALLED", "send_signal", "signal_name"]

SIGNALLED = "signalled"
"""The history's event kind for a signal the operator sent."""


def signal_name(text: str) -> str:
    """The bare name (``HUP``) of a signal given in any spelling ``signames`` accepts.

    Raises:
        BadRequest: not a Linux signal name.
    """
    name = signames.normalise(text)
    if name is None:
        known = ", ".join(signames.SIGNALS)
        raise BadRequest(f"unknown signal {text!r} (known: {known})")
    return name


def send_signal(
    runners: Iterable[ProgramRunner],
    signame: str,
    *,
    main: bool,
    store: StoreWriter,
    wall_clock: Callable[[], float],
) -> tuple[ActionResult, ...]:
    """Send ``signame`` (a bare name) to each program's run, or its main process with
    ``main``; one result per program."""
    results = []
    for runner in runners:
        snap = runner.snapshot
        scope = runner.run_scope
        target = "main process" if main else "process group"
        if scope is None or (main and snap.pid is None):
            message = f"not running: no {target} to send SIG{signame} to"
            results.append(
                ActionResult(name=runner.name, ok=False, state=snap.state, message=message)
            )
            continue
        try:
            if main:
                assert snap.pid is not None
                os.kill(snap.pid, signames.signal_number(signame))
            else:
                scope.send(signame)
        except ProcessLookupError:
            message = f"not running: its {target} is gone"
            results.append(
                ActionResult(name=runner.name, ok=False, state=snap.state, message=message)
            )
            continue
        said = f"SIG{signame} sent to its {target} by the operator"
        log.info("%s: %s", runner.name, said)
        store.submit(run_event(runner.name, snap, SIGNALLED, at=wall_clock(), reason=said))
        message = f"SIG{signame} sent to {target} {snap.pid if main else snap.pgid}"
        results.append(ActionResult(name=runner.name, ok=True, state=snap.state, message=message))
    return tuple(results)
