"""The transition table and ``step()``: the whole life of a supervised program, as data.

Rule 1: everything that decides a program's state lives in this file. The runtime carries out
effects and reports facts as events; it never decides a transition itself.

Rule 2: nothing here acts or reads a clock. ``now`` (monotonic seconds) comes in, a new
``Snapshot`` and effects go out, so every rule can be tested by stepping ``now`` by hand.

Theory of operation
-------------------

Three things are kept apart (s6's status): what the operator wants (``want``), what is believed
about the process (``state``, ``pid``, ``pgid``) and the one timer (``deadline``). After every
step:

- A state with no process (STOPPED, EXITED, FATAL, BACKOFF) is never claimed while a group may
  be alive or a Spawn is in flight. A group that survives SIGKILL keeps the program STOPPING
  (``stop_phase`` UNKILLABLE, message "could not kill") until it is reported gone.
- ``want`` is DOWN in STOPPED and UP in STARTING, RUNNING, BACKOFF, EXITED and FATAL; only
  STOPPING holds either. FATAL keeps want UP but spawns nothing until WantUp or Restart.
- Every run ends with exactly one Record that carries an ``outcome``: ``completed`` or ``failed``
  when it ended by itself (by ``Policy.expects``), ``stopped`` when a requested stop ended it,
  ``killed`` whenever SIGKILL had to be sent. A requested stop is never ``failed``.
- Every state passed through is published: one Publish per change, also for states crossed
  within one step (RUNNING -> EXITED -> STARTING). SetDeadline and ClearDeadline mirror every
  change of ``deadline``, so the runtime may as well just read it.
- No two Spawns are closer than ``spawn_floor``; a spawn that would come too soon waits in
  BACKOFF for its deadline instead.

Starting: a spawn is STARTING until its process has lived ``start_seconds`` (the deadline) or
said Ready, then RUNNING, and ``retries`` goes back to 0. An exit or a SpawnFailed before that
is a failed start whatever ``autorestart`` says: ``retries`` grows and BACKOFF waits
``Policy.backoff(retries)`` before the next spawn, until ``retries > start_retries`` makes it
FATAL. Running: an exit from RUNNING is EXITED, and ``autorestart`` decides (``always``;
``on-failure``, i.e. the exit was not expected; ``never``) whether a new run starts. A crash (an
unexpected exit sooner than ``backoff_reset`` after the spawn) grows ``crashes``, and the new
run waits ``Policy.backoff(crashes)``; a run that lived ``backoff_reset`` clears it. Every failure
answered with a new run (a failed start, a crash) is counted against the start limit: one more
than ``start_limit_burst`` within ``start_limit_interval`` makes the program FATAL instead.

Stopping: WantDown and Restart send ``stop_signal`` to the group (``StopGracefully`` for a
program with a ``pre_stop`` hook or a ``stop_command``, while its leader lives: the runtime
runs them, and sends the signal if there is no command or it failed) and arm ``stop_timeout``; that
deadline sends SIGKILL and arms ``kill_timeout``; that one gives up (``kill_failed``) and waits,
with no timer, for the end that may still come. A stop asked while a Spawn is in flight waits for
its answer and then signals the new group. A leader that exits while the rest of its group lives
on (``Exited(group_alive=True)``) makes the program STOPPING to clear the group; when
GroupEmpty comes, the run ends as the leader's exit alone would have ended it.

Contract: events that cannot concern the current run are ignored: a stale timer (``deadline`` is
None or later than ``now``), an Exited or Ready with no process, a SpawnFailed with no Spawn in
flight, a GroupEmpty before the leader's Exited. A Spawned with no Spawn in flight is adopted:
tracked as a start when want is UP, stopped at once when it is DOWN. A Spawned while a group is
already tracked would leave one of two groups untracked, so ``step()`` raises LifecycleError.

The table
---------

Rows are events (one block of ``TRANSITIONS`` each), columns states; ``-`` is an explicit
IGNORE, other names are the functions of ``handlers.py``. A test holds this grid to the code::

                     STOPPED  STARTING        RUNNING     BACKOFF  STOPPING       EXITED  FATAL
    WantUp           start    -               -           launch   up_later       start   start
    WantDown         -        stop            stop        drop     down_later     drop    drop
    Restart          start    restart         restart     launch   restart_later  start   start
    Spawned          track    track           track       track    track          track   track
    SpawnFailed      -        fail            -           -        fail           -       -
    Exited           -        reap            reap        -        reap           -       -
    GroupEmpty       -        -               -           -        finish         -       -
    Ready            -        ready           -           -        -              -       -
    DeadlineReached  -        start_deadline  watchdog    launch   escalate       -       -
    Unhealthy        -        -               unhealthy   -        -              -       -
    KeepAlive        -        -               keep_alive  -        -              -       -
    WatchdogFired    -        -               watchdog    -        -              -       -
    ExtendTimeout    -        extend          -           -        -              -       -
    OverMemory       -        -               over_memory -        -              -       -

Readiness: a program with a ready probe (``Policy.ready_probe``) is STARTING until ``Ready``;
its timer is ``start_timeout``, and reaching it stops the run as a failed start ("not ready
within N s"). Once RUNNING, a program with a ``watchdog`` has its timer armed to it; each
``KeepAlive`` moves it, and its firing (or ``WatchdogFired``) sends ``watchdog_signal`` and
ends the run as a failed exit, after which ``autorestart`` decides. ``Unhealthy`` (the liveness
probe gave up) stops the run and starts a new one, and so does ``OverMemory`` (the run stayed
above ``restart_when.memory``). Such runs end ``failed`` with ``ending`` as their reason, and
the new run keeps the spawn floor.

Restart policy (``restarts.py``): the waits of BACKOFF may be shortened by a jitter whose random
part comes in with the step (``draw``). ``start_retries`` None retries failed starts without
end, leaving the start limit to stop a loop. A ``permafail`` rule is judged at every death that
would otherwise be answered with a new run (a failed start, an exit ``autorestart`` restarts):
when the rule holds, the program is FATAL at once.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from itertools import pairwise
from typing import Final, TypeAlias, TypeVar

from msgspec.structs import replace

from supervisord_lite.lifecycle import handlers as h
from supervisord_lite.lifecycle.effects import ClearDeadline, Effect, Publish, Record, SetDeadline
from supervisord_lite.lifecycle.events import (
    DeadlineReached,
    Event,
    Exited,
    ExtendTimeout,
    GroupEmpty,
    KeepAlive,
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
from supervisord_lite.lifecycle.handlers import Context, Result
from supervisord_lite.lifecycle.states import Policy, Snapshot, State

__all__ = ["IGNORE", "TRANSITIONS", "Handler", "Ignore", "step"]


class Ignore(enum.Enum):
    """The type of ``IGNORE``, the table's explicit "nothing happens" entry."""

    IGNORE = "IGNORE"


IGNORE: Final = Ignore.IGNORE


Handler: TypeAlias = Callable[[Context, Snapshot, Event], Result]

_E = TypeVar(
    "_E",
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


def _column(
    kind: type[_E], cells: Mapping[State, Callable[[Context, Snapshot, _E], Result] | Ignore]
) -> dict[tuple[State, type[Event]], Handler | Ignore]:
    """One event's column of the table, each handler checked to receive only that event."""

    def checked(handle: Callable[[Context, Snapshot, _E], Result]) -> Handler:
        def handler(c: Context, snap: Snapshot, event: Event) -> Result:
            if not isinstance(event, kind):
                raise TypeError(f"{handle.__name__} handles {kind.__name__}, not {event!r}")
            return handle(c, snap, event)

        handler.__name__ = handle.__name__
        return handler

    return {
        (state, kind): cell if cell is IGNORE else checked(cell) for state, cell in cells.items()
    }


TRANSITIONS: Final[Mapping[tuple[State, type[Event]], Handler | Ignore]] = {
    **_column(
        WantUp,
        {
            State.STOPPED: h.start,
            State.STARTING: IGNORE,
            State.RUNNING: IGNORE,
            State.BACKOFF: h.launch,
            State.STOPPING: h.up_later,
            State.EXITED: h.start,
            State.FATAL: h.start,
        },
    ),
    **_column(
        WantDown,
        {
            State.STOPPED: IGNORE,
            State.STARTING: h.stop,
            State.RUNNING: h.stop,
            State.BACKOFF: h.drop,
            State.STOPPING: h.down_later,
            State.EXITED: h.drop,
            State.FATAL: h.drop,
        },
    ),
    **_column(
        Restart,
        {
            State.STOPPED: h.start,
            State.STARTING: h.restart,
            State.RUNNING: h.restart,
            State.BACKOFF: h.launch,
            State.STOPPING: h.restart_later,
            State.EXITED: h.start,
            State.FATAL: h.start,
        },
    ),
    **_column(Spawned, dict.fromkeys(State, h.track)),
    **_column(
        SpawnFailed,
        {
            State.STOPPED: IGNORE,
            State.STARTING: h.fail,
            State.RUNNING: IGNORE,
            State.BACKOFF: IGNORE,
            State.STOPPING: h.fail,
            State.EXITED: IGNORE,
            State.FATAL: IGNORE,
        },
    ),
    **_column(
        Exited,
        {
            State.STOPPED: IGNORE,
            State.STARTING: h.reap,
            State.RUNNING: h.reap,
            State.BACKOFF: IGNORE,
            State.STOPPING: h.reap,
            State.EXITED: IGNORE,
            State.FATAL: IGNORE,
        },
    ),
    **_column(
        GroupEmpty,
        {
            State.STOPPED: IGNORE,
            State.STARTING: IGNORE,
            State.RUNNING: IGNORE,
            State.BACKOFF: IGNORE,
            State.STOPPING: h.finish,
            State.EXITED: IGNORE,
            State.FATAL: IGNORE,
        },
    ),
    **_column(
        Ready,
        {
            State.STOPPED: IGNORE,
            State.STARTING: h.ready,
            State.RUNNING: IGNORE,
            State.BACKOFF: IGNORE,
            State.STOPPING: IGNORE,
            State.EXITED: IGNORE,
            State.FATAL: IGNORE,
        },
    ),
    **_column(
        DeadlineReached,
        {
            State.STOPPED: IGNORE,
            State.STARTING: h.start_deadline,
            State.RUNNING: h.watchdog,
            State.BACKOFF: h.launch,
            State.STOPPING: h.escalate,
            State.EXITED: IGNORE,
            State.FATAL: IGNORE,
        },
    ),
    **_column(Unhealthy, {**dict.fromkeys(State, IGNORE), State.RUNNING: h.unhealthy}),
    **_column(KeepAlive, {**dict.fromkeys(State, IGNORE), State.RUNNING: h.keep_alive}),
    **_column(WatchdogFired, {**dict.fromkeys(State, IGNORE), State.RUNNING: h.watchdog}),
    **_column(ExtendTimeout, {**dict.fromkeys(State, IGNORE), State.STARTING: h.extend}),
    **_column(OverMemory, {**dict.fromkeys(State, IGNORE), State.RUNNING: h.over_memory}),
}


def step(
    policy: Policy, snap: Snapshot, event: Event, *, now: float, draw: float = 0.0
) -> tuple[Snapshot, tuple[Effect, ...]]:
    """Apply one event at monotonic time ``now``; return the new snapshot and the effects to do.
    ``draw`` (0 to 1, a random number for the runtime) is the random part of a backoff's jitter.

    Effects come in this order: Records, Publishes, the timer (SetDeadline or ClearDeadline),
    then SignalGroup, StopGracefully and Spawn. An ignored event returns ``snap`` itself and no
    effects.

    Raises:
        LifecycleError: ``event`` is a Spawned while a group is already tracked.
    """
    current = snap
    if isinstance(event, DeadlineReached):
        if snap.deadline is None or now < snap.deadline:
            return snap, ()
        current = replace(snap, deadline=None)
    cell = TRANSITIONS[(snap.state, type(event))]
    if cell is IGNORE:
        return snap, ()
    new, effects, via = cell(Context(policy, now, draw), current, event)
    path = [snap.state]
    for state in (*via, new.state):
        if state is not path[-1]:
            path.append(state)
    timer: tuple[Effect, ...] = ()
    if new.deadline != snap.deadline:
        timer = (ClearDeadline(),) if new.deadline is None else (SetDeadline(new.deadline),)
    return new, (
        *(e for e in effects if isinstance(e, Record)),
        *(Publish(old, to) for old, to in pairwise(path)),
        *timer,
        *(e for e in effects if not isinstance(e, Record)),
    )
