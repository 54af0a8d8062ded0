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
    WebhookStatus,
)

if TYPE_CHECKING:
    from supervisord_lite.protocol.messages import Reply

__all__ = [
    "DaemonEvent",
    "End",
    "Lagged",
    "LogChunk",
    "Missed",
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


class StateChanged(Struct, kw_only=True, frozen=True, tag="state", tag_field="type"):
    """An event of a program, number ``seq`` in the daemon's event log, at ``at`` (Unix time).

    ``change`` is ``state`` for a transition from ``old`` to ``new`` (``exit_code`` or
    ``exit_signal`` set only when it is the end of a run); ``health``, ``dependency``,
    ``probe`` or ``log`` (``old == new``) for a change of its health, of what it waits for, a
    probe that started failing or output that was dropped, said in ``message``; or
    ``progress`` for its latest progress report, in ``progress`` (a new phase at once, else at
    most one a second per program); or ``hook`` for a run of one of its hooks (``message``:
    ``"pre_start: exit 1: no database"``)."""

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
    seq: int = 0


class DaemonEvent(Struct, kw_only=True, frozen=True, tag="daemon", tag_field="type"):
    """An event of the daemon itself, number ``seq`` in its event log, at ``at`` (Unix time):
    ``change`` is ``started``, ``stopping``, ``stopped``, ``reload`` (``names``: the programs
    it added, removed or changed) or ``webhook`` (a webhook started failing or delivers again;
    its counters in ``webhook``)."""

    change: str
    at: float
    message: str = ""
    names: tuple[str, ...] = ()
    webhook: WebhookStatus | None = None
    seq: int = 0


class Missed(Struct, kw_only=True, frozen=True):
    """Events from seq ``first`` up to ``oldest`` (exclusive) were asked for but are no longer
    kept by the daemon's event log; ``oldest`` is the oldest it keeps."""

    first: int
    oldest: int


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
