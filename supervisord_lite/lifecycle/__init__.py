"""The pure state machine of one supervised program: events in, a snapshot and effects out.

``step(policy, snapshot, event, now=...)`` is the whole interface; the rules and the transition
table are written out in ``table.py``'s docstring. Only the standard library and msgspec are
imported here: no clock, no signals, no processes.
"""

from supervisord_lite.lifecycle.effects import (
    ClearDeadline,
    Effect,
    Outcome,
    Publish,
    Record,
    RecordKind,
    SetDeadline,
    SignalGroup,
    Spawn,
    StopGracefully,
)
from supervisord_lite.lifecycle.events import (
    EVENT_TYPES,
    DeadlineReached,
    Event,
    Exited,
    ExtendTimeout,
    GroupEmpty,
    KeepAlive,
    LifecycleError,
    OverMemory,
    Ready,
    Restart,
    Spawned,
    SpawnFailed,
    Unhealthy,
    WantDown,
    WantUp,
    WatchdogFired,
)
from supervisord_lite.lifecycle.restarts import Permafail, backoff_delay
from supervisord_lite.lifecycle.states import (
    DEATH_TALLY,
    Death,
    ExitStatus,
    Policy,
    Snapshot,
    State,
    StopPhase,
    Want,
)
from supervisord_lite.lifecycle.table import (
    IGNORE,
    TRANSITIONS,
    Handler,
    Ignore,
    step,
)
from supervisord_lite.lifecycle.verdicts import Verdict, judge

__all__ = [
    "DEATH_TALLY",
    "EVENT_TYPES",
    "IGNORE",
    "TRANSITIONS",
    "ClearDeadline",
    "DeadlineReached",
    "Death",
    "Effect",
    "Event",
    "ExitStatus",
    "Exited",
    "ExtendTimeout",
    "GroupEmpty",
    "Handler",
    "Ignore",
    "KeepAlive",
    "LifecycleError",
    "Outcome",
    "OverMemory",
    "Permafail",
    "Policy",
    "Publish",
    "Ready",
    "Record",
    "RecordKind",
    "Restart",
    "SetDeadline",
    "SignalGroup",
    "Snapshot",
    "Spawn",
    "SpawnFailed",
    "Spawned",
    "State",
    "StopGracefully",
    "StopPhase",
    "Unhealthy",
    "Verdict",
    "Want",
    "WantDown",
    "WantUp",
    "WatchdogFired",
    "backoff_delay",
    "judge",
    "step",
]
