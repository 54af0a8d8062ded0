"""A helper command run for a program: an ``exec`` probe, a hook.

It runs as the program would (its user, groups, environment and folder), with stdin from
/dev/null and stdout and stderr captured together, as the leader of its own process group.
It is registered with the daemon's subreaper before it can exit, so its exit status is ours to
read and never reaped away (docs/architecture.md, "Kernel facts"). Overrunning its timeout, or
cancelled (the daemon shutting down), it is SIGKILLed with its whole group and waited for:
no helper outlives its caller.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
from typing import TYPE_CHECKING, Final

import msgspec
import trio

from supervisord_lite.errors import SpawnError
from supervisord_lite.runtime.spawn import build_env, resolve_identity

if TYPE_CHECKING:
    from collections.abc import Mapping

    from supervisord_lite.config import ProgramConfig
    from supervisord_lite.runtime.reaper import Reaper

__all__ = ["OUTPUT_TAIL", "HelperResult", "run_helper"]

#: How much of a helper's output a result keeps (its last bytes).
OUTPUT_TAIL: Final = 512


class HelperResult(msgspec.Struct, frozen=True, kw_only=True):
    """How a helper ended: an exit ``code`` or a ``signal`` name; neither when it could not be
    run (``error`` says why). ``output`` is the tail of what it printed."""

    code: int | None = None
    signal: str | None = None
    output: str = ""
    error: str = ""
    timed_out: float | None = None
    """The timeout (seconds) it overran, and was SIGKILLed at."""

    @property
    def ok(self) -> bool:
        return self.code == 0

    def status(self) -> str:
        """``"exit 1"``, ``"signal KILL"``, ``"timed out after 5 s"``, or why it did not run."""
        if self.error:
            return self.error
        if self.timed_out is not None:
            return f"timed out after {self.timed_out:g} s"
        return f"exit {self.code}" if self.code is not None else f"signal {self.signal}"

    def describe(self) -> str:
        """The status, then the output's tail (``"exit 1: not ready"``)."""
        said = self.status()
        return f"{said}: {self.output}" if self.output else said


async def run_helper(
    argv: tuple[str, ...],
    program: ProgramConfig,
    *,
    cwd: str,
    reaper: Reaper | None,
    extra_env: Mapping[str, str] | None = None,
    kill_after: float = math.inf,
) -> HelperResult:
    """Run ``argv`` for ``program`` until it exits, or SIGKILL it with its group after
    ``kill_after`` seconds; never raises for what the helper did. ``cwd`` is the folder of a
    program that names none."""
    try:
        identity = resolve_identity(program.user, program.group)
    except SpawnError as exc:
        return HelperResult(error=str(exc))
    switch = identity if identity is not None and os.geteuid() == 0 else None
    env = build_env(program, identity, os.environ)
    env.update(extra_env or {})
    try:
        with reaper.spawning() if reaper is not None else contextlib.nullcontext():
            process = await trio.lowlevel.open_process(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=program.cwd or cwd,
                env=env,
                process_group=0,
                user=switch.uid if switch else None,
                group=switch.gid if switch else None,
                extra_groups=list(switch.groups) if switch else None,
            )
            if reaper is not None:
                reaper.manage(process.pid)
    except OSError as exc:
        return HelperResult(error=f"cannot run {argv[0]!r}: {exc.strerror or exc}")
    output = bytearray()
    try:
        with trio.move_on_after(kill_after) as overran:
            assert process.stdout is not None
            async with process.stdout:
                async for chunk in process.stdout:
                    output += chunk
                    del output[:-OUTPUT_TAIL]
            code = await process.wait()
    finally:
        if process.returncode is None:  # overran or cancelled: the whole group goes
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            with trio.CancelScope(shield=True):
                code = await process.wait()
        if reaper is not None:
            reaper.release(process.pid)
    tail = bytes(output).decode("utf-8", "replace").strip()
    return HelperResult(
        code=code if code >= 0 else None,
        signal=signal.Signals(-code).name[3:] if code < 0 else None,
        output=tail,
        timed_out=kill_after if overran.cancelled_caught else None,
    )
