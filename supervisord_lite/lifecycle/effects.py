"""What the state machine asks the runtime to do, in the order ``step()`` returns them.

``step()`` orders its effects: every ``Record`` first (history before anyone hears of the
change), then ``Publish`` for each state passed through, then the timer, then the actions
(``SignalGroup``, ``StopGracefully``, ``Spawn``) whose answers come back as new events.
"""

import enum
from typing import TypeAlias

import msgspec

from supervisord_lite.lifecycle.states import ExitStatus, State
from supervisord_lite.vocabulary import Outcome

__all__ = [
    "ClearDeadline",
    "Effect",
    "Outcome",
    "Publish",
    "Record",
    "RecordKind",
    "SetDeadline",
    "SignalGroup",
    "Spawn",
    "StopGracefully",
]


class RecordKind(enum.StrEnum):
    """What a history record tells; ``exited``, ``stopped`` and ``killed`` end a run."""

    SPAWNED = "spawned"
    SPAWN_FAILED = "spawn_failed"
    EXITED = "exited"
    STOPPED = "stopped"
    KILLED = "killed"
    KILL_FAILED = "kill_failed"
    RESTARTED = "restarted"
    FATAL = "fatal"


class Spawn(msgspec.Struct, frozen=True):
    """Start a new run; answer with ``Spawned`` or ``SpawnFailed``."""


class SignalGroup(msgspec.Struct, frozen=True):
    """Send ``signal`` (a bare name: ``"TERM"``, ``"KILL"``) to the run's process group."""

    signal: str


class StopGracefully(msgspec.Struct, frozen=True):
    """Begin the stop of a live run the program's own way: its ``pre_stop`` hook, then its
    ``stop_command``, or ``signal`` to the group when it has none or the command failed.
    Emitted instead of ``SignalGroup`` by a policy with ``graceful_stop``."""

    signal: str


class SetDeadline(msgspec.Struct, frozen=True):
    """Arm the program's one timer for ``at`` (monotonic seconds), replacing any other."""

    at: float


class ClearDeadline(msgspec.Struct, frozen=True):
    """Disarm the program's timer."""


class Record(msgspec.Struct, frozen=True):
    """Write one history entry; the record that ends a run carries its ``outcome``.

    ``run_id`` names the run the record is about (None for ``spawn_failed`` and ``fatal``).
    """

    kind: RecordKind
    outcome: Outcome | None = None
    exit: ExitStatus | None = None
    reason: str = ""
    run_id: int | None = None


class Publish(msgspec.Struct, frozen=True):
    """Tell subscribers the state went from ``old`` to ``new``."""

    old: State
    new: State


Effect: TypeAlias = (
    Spawn | SignalGroup | StopGracefully | SetDeadline | ClearDeadline | Record | Publish
)
