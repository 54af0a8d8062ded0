"""What the runtime tells the state machine: operator wishes, process facts and the timer.

Operator events (``WantUp``, ``WantDown``, ``Restart``) may come at any time. Process events
answer what the machine asked for or report what the kernel saw: ``Spawned``/``SpawnFailed``
answer exactly one ``Spawn``; ``Exited`` reports the leader reaped; ``GroupEmpty`` follows an
``Exited(group_alive=True)`` once the last member of the group is gone.
"""

from typing import Final, TypeAlias

import msgspec

from supervisord_lite.errors import SupervisorLiteError
from supervisord_lite.lifecycle.states import ExitStatus

__all__ = [
    "EVENT_TYPES",
    "DeadlineReached",
    "Event",
    "Exited",
    "ExtendTimeout",
    "GroupEmpty",
    "KeepAlive",
    "LifecycleError",
    "OverMemory",
    "Ready",
    "Restart",
    "SpawnFailed",
    "Spawned",
    "Unhealthy",
    "WantDown",
    "WantUp",
    "WatchdogFired",
]


class WantUp(msgspec.Struct, frozen=True):
    """The operator wants the program running (``svctl start``, autostart)."""


class WantDown(msgspec.Struct, frozen=True):
    """The operator wants the program stopped (``svctl stop``, shutdown, removed by reload)."""


class Restart(msgspec.Struct, frozen=True):
    """The operator wants a fresh process: stop what runs, then start again."""


class Spawned(msgspec.Struct, frozen=True):
    """The ``Spawn`` succeeded: the leader ``pid`` leads its own group ``pgid``."""

    pid: int
    pgid: int
    run_id: int


class SpawnFailed(msgspec.Struct, frozen=True):
    """The ``Spawn`` failed before any process existed (missing executable, bad user...)."""

    reason: str


class Exited(msgspec.Struct, frozen=True):
    """The leader was reaped; ``group_alive`` says other members of its group still exist."""

    status: ExitStatus
    group_alive: bool = False


class GroupEmpty(msgspec.Struct, frozen=True):
    """The group has no member left; sent only after an ``Exited`` with ``group_alive=True``."""


class Ready(msgspec.Struct, frozen=True):
    """The program said it is ready before ``start_seconds`` passed."""


class DeadlineReached(msgspec.Struct, frozen=True):
    """The timer set by the last ``SetDeadline`` fired."""


class Unhealthy(msgspec.Struct, frozen=True):
    """The liveness probe failed ``failure_threshold`` times in a row; ``reason`` says how."""

    reason: str


class OverMemory(msgspec.Struct, frozen=True):
    """The run used ``used`` bytes, above ``restart_when.memory`` (``limit``); ``source`` says
    how it was measured (``"cgroup"``, ``"sampled"``)."""

    used: int
    limit: int
    source: str


class KeepAlive(msgspec.Struct, frozen=True):
    """The program said ``WATCHDOG=1``: it is alive, its watchdog starts over."""


class WatchdogFired(msgspec.Struct, frozen=True):
    """The program asked for its watchdog to fire now (``WATCHDOG=trigger``)."""


class ExtendTimeout(msgspec.Struct, frozen=True):
    """The program asked for ``seconds`` more to get ready (``EXTEND_TIMEOUT_USEC``)."""

    seconds: float


Event: TypeAlias = (
    WantUp
    | WantDown
    | Restart
    | Spawned
    | SpawnFailed
    | Exited
    | GroupEmpty
    | Ready
    | DeadlineReached
    | Unhealthy
    | KeepAlive
    | WatchdogFired
    | ExtendTimeout
    | OverMemory
)

EVENT_TYPES: Final[tuple[type[Event], ...]] = (
    WantUp,
    WantDown,
    Restart,
    Spawned,
    SpawnFailed,
    Exited,
    GroupEmpty,
    Ready,
    DeadlineReached,
    Unhealthy,
    KeepAlive,
    WatchdogFired,
    ExtendTimeout,
    OverMemory,
)
"""Every event type, in the column order of the transition table."""


class LifecycleError(SupervisorLiteError):
    """The runtime broke the event contract in a way no answer could make safe.

    Raised only for a ``Spawned`` while a group is already tracked: a bug in the runtime, not a
    condition to handle. Let it propagate.
    """
