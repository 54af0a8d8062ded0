"""When the daemon ends on its own, and with which exit status: ``critical`` and ``exit_when``.

Rule 1 (``critical = true``, under either ``exit_when``): a critical program that has ended for
good, EXITED with ``autorestart`` not starting it again or FATAL, ends the daemon with that
program's exit status: its exit code, or 128 + the signal's number when a signal ended it (what
a shell reports). A FATAL program whose last run ended with 0, or that never ran, gives 1: a
FATAL program never reads as a success.

Rule 2 (``exit_when = "all-exited"``, once the autostart programs were started): when no program
is running, starting, backing off or waiting for a dependency, the daemon ends with 0 when none
failed, else ``EXIT_PROGRAMS_FAILED``. A program failed when it is FATAL, EXITED with a code not
in its ``exit_codes`` or by a signal, or held by a dependency that can no longer be met.
Programs that were never started, or stopped by the operator, did not fail.

Either way the daemon then shuts down as it does on SIGTERM, and the status decided here is its
exit status, whatever the shutdown met (SIGKILLs at ``shutdown_timeout``, lost output, records
not written: exits 4, 5 and 6 otherwise), which its log still says. Pure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Literal

import msgspec

from supervisord_lite.lifecycle.states import ExitStatus, State
from supervisord_lite.signames import SIGNALS

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["EXIT_PROGRAMS_FAILED", "Ending", "ProgramEnd", "decide", "shell_status"]

EXIT_PROGRAMS_FAILED: Final = 8
"""The daemon's exit status under ``exit_when = "all-exited"`` when some program failed."""

ExitWhen = Literal["any-critical", "all-exited"]


class ProgramEnd(msgspec.Struct, frozen=True, kw_only=True):
    """What the rules need to know of one program now.

    ``completed``: its last exit was expected (a code in ``exit_codes``); ``waiting``: held by
    a dependency that may still be met; ``blocked``: held by one that never can be.
    """

    name: str
    state: State
    last_exit: ExitStatus | None = None
    completed: bool = False
    critical: bool = False
    waiting: bool = False
    blocked: bool = False

    @property
    def over(self) -> bool:
        """Whether it ended for good (EXITED and not restarted, or FATAL)."""
        return self.state in (State.EXITED, State.FATAL)

    @property
    def failed(self) -> bool:
        if self.state is State.FATAL or self.blocked:
            return True
        return self.state is State.EXITED and not self.completed


class Ending(msgspec.Struct, frozen=True, kw_only=True):
    """The daemon ends: with ``status``, because of ``reason`` (for its log)."""

    status: int
    reason: str


def shell_status(status: ExitStatus | None, *, fatal: bool = False) -> int:
    """An exit status as a shell reports it: the code, or 128 + the signal's number; for a
    ``fatal`` program, 1 in place of 0 or no status."""
    if status is None:
        return 1
    if status.signal is not None:
        return 128 + SIGNALS.get(status.signal, 0)
    code = status.code or 0
    return 1 if fatal and code == 0 else code


def decide(exit_when: ExitWhen, programs: Iterable[ProgramEnd], *, booted: bool) -> Ending | None:
    """Whether the daemon ends now, by rule 1 or 2 of the module docstring; None if not."""
    views = list(programs)
    for program in views:
        if program.critical and program.over:
            fatal = program.state is State.FATAL
            status = shell_status(program.last_exit, fatal=fatal)
            how = "is FATAL" if fatal else "exited"
            ended = f" ({program.last_exit.describe()})" if program.last_exit else ""
            return Ending(status=status, reason=f"critical program {program.name} {how}{ended}")
    if exit_when != "all-exited" or not booted:
        return None
    active = (State.STARTING, State.RUNNING, State.BACKOFF, State.STOPPING)
    if any(p.state in active or p.waiting for p in views):
        return None
    failed = sorted(p.name for p in views if p.failed)
    if failed:
        return Ending(
            status=EXIT_PROGRAMS_FAILED,
            reason=f"every program has exited; failed: {', '.join(failed)}",
        )
    return Ending(status=0, reason="every program has exited, none failed")
