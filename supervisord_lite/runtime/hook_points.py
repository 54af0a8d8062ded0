"""Where a run meets its hooks: which hook each step of the lifecycle starts, cancels or awaits.

``hooks.py`` runs a hook (one at a time, recorded and published); this module says when, so the
runner only hands it what a step did. ``pre_start`` runs before a spawn and a failure fails the
spawn; ``post_start`` starts on RUNNING (with ``MAINPID``) and is cancelled when a stop begins
or the run ends; ``post_stop`` starts once a run is over, told how it ended in systemd's
``EXIT_CODE`` and ``EXIT_STATUS``; a graceful stop runs ``pre_stop``, then ``stop_command``
or, without one or when it failed, sends the stop signal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervisord_lite import lifecycle as lc
from supervisord_lite.runtime.daemonlog import log

if TYPE_CHECKING:
    from collections.abc import Callable

    from supervisord_lite.runtime.hooks import ProgramHooks


async def pre_start(hooks: ProgramHooks) -> lc.SpawnFailed | None:
    """Run ``pre_start`` before a spawn: the event to send instead of spawning when it failed."""
    hooked = await hooks.run("pre_start")
    if hooked is not None and not hooked.ok:
        return lc.SpawnFailed(reason=f"pre_start {hooked.describe()}")
    return None


def entered(hooks: ProgramHooks, state: lc.State, pid: int | None) -> None:
    """The run entered ``state``: RUNNING starts ``post_start``, STOPPING cancels it."""
    if state is lc.State.RUNNING and pid is not None:
        hooks.start("post_start", {"MAINPID": str(pid)})
    elif state is lc.State.STOPPING:
        hooks.cancel("post_start")  # its run is being stopped


def run_over(hooks: ProgramHooks, status: lc.ExitStatus | None) -> None:
    """A run is over: its ``post_start`` goes, its ``post_stop`` starts."""
    hooks.cancel("post_start")
    hooks.start("post_stop", exit_env(status))


async def stop_gracefully(
    hooks: ProgramHooks,
    name: str,
    signame: str,
    stopping: lc.Snapshot,
    current: Callable[[], lc.Snapshot],
    send_signal: Callable[[str], None],
) -> None:
    """A stop of the live run in ``stopping`` began: ``pre_stop``, then ``stop_command`` or,
    without one or when it failed, ``send_signal(signame)``; nothing more once the run is over
    or SIGKILLed (``current`` reads the runner's snapshot)."""
    env = {"MAINPID": str(stopping.pid)}

    def still_stopping() -> bool:
        snap = current()
        return snap.run_id == stopping.run_id and snap.stop_phase is lc.StopPhase.SIGNALLED

    await hooks.run("pre_stop", env)
    if hooks.has("stop_command") and still_stopping():
        result = await hooks.run("stop_command", env)
        if result is None or result.ok:
            return
        log.warning("%s: stop_command failed; sending SIG%s", name, signame)
    if still_stopping():
        send_signal(signame)


def exit_env(status: lc.ExitStatus | None) -> dict[str, str]:
    """How a run ended, for ``post_stop``: systemd's ``EXIT_CODE`` and ``EXIT_STATUS``."""
    if status is None:
        return {}
    if status.signal is not None:
        return {"EXIT_CODE": "killed", "EXIT_STATUS": status.signal}
    return {"EXIT_CODE": "exited", "EXIT_STATUS": str(status.code)}
