"""The client's own result types: what a user gets back, without the wire's request ids.

The daemon's replies and pushed items carry the id of the request they answer (the
protocol's routing, handled by :mod:`svctl._session`); that number means nothing to a caller,
so the results that come from such messages are copied into these Structs, field by field
and without ``id``. The values inside replies (``ProgramStatus``, ``ActionResult``,
``HistoryEntry``) carry no id and are handed out as the protocol defines them.

Pure: msgspec and the protocol's vocabulary only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from msgspec import Struct

from supervisord_lite.protocol.messages import (
    PlannedChange,
    PlannedProgram,
    ProgramState,
    Progress,
    Stream,
)

if TYPE_CHECKING:
    from supervisord_lite.protocol.messages import Reply

__all__ = [
    "End",
    "Lagged",
    "LogChunk",
    "ReloadReply",
    "ShutdownReport",
    "StateChanged",
    "Welcome",
    "without_id",
]


class Welcome(Struct, kw_only=True, frozen=True):
    """The daemon's answer to the handshake: its pid, its version, the protocol's version."""

    version: int
    pid: int
    daemon_version: str


class StateChanged(Struct, kw_only=True, frozen=True):
    """A program moved from ``old`` to ``new`` at ``at`` (Unix time); ``change`` is ``state``
    for a transition, ``health`` or ``dependency`` (``old == new``) for a change of its health
    or of what it waits for, said in ``message``, ``progress`` for its latest progress
    report, in ``progress`` (at most one a second per program), or ``hook`` for a run of one
    of its hooks (``message``: ``"pre_start: exit 1: no database"``)."""

    program: str
    old: ProgramState
    new: ProgramState
    pid: int | None
    exit_code: int | None
    exit_signal: str | None
    at: float
    message: str = ""
    change: str = "state"
    progress: Progress | None = None


class LogChunk(Struct, kw_only=True, frozen=True):
    """Raw bytes a program wrote to ``stream``, not split into lines or decoded."""

    program: str
    stream: Stream
    data: bytes


class Lagged(Struct, kw_only=True, frozen=True):
    """This reader fell behind and missed ``dropped`` bytes of a program's ``stream``."""

    program: str
    stream: Stream
    dropped: int


class End(Struct, kw_only=True, frozen=True):
    """A stream is over; ``message`` says why when it is not the plain end of a log tail."""

    message: str = ""


class ReloadReply(Struct, kw_only=True, frozen=True):
    """What a reload did (or, with ``dry_run``, would do): program names by what the new
    config did to them, and the plan in full: per program its fate and each changed field
    (``hot`` or ``restart``), and the ``[daemon]`` changes (``live`` or ``daemon-restart``)."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    dry_run: bool = False
    programs: tuple[PlannedProgram, ...] = ()
    daemon: tuple[PlannedChange, ...] = ()


class ShutdownReport(Struct, kw_only=True, frozen=True):
    """How the daemon's shutdown went: the programs it had to SIGKILL at ``shutdown_timeout``
    and the bytes of their output that could not reach the log files (the daemon then exits 4,
    or 5 for lost output alone); clean when both are empty."""

    killed: tuple[str, ...] = ()
    output_lost: int = 0

    @property
    def clean(self) -> bool:
        """Nothing was SIGKILLed and no output was lost."""
        return not self.killed and not self.output_lost


R = TypeVar("R", bound=Struct)


def without_id(cls: type[R], message: Reply) -> R:
    """``message``'s fields that ``cls`` has, as a ``cls``: the wire's id stays behind."""
    fields: dict[str, Any] = {name: getattr(message, name) for name in cls.__struct_fields__}
    return cls(**fields)
