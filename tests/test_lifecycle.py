"""The lifecycle state machine: scripted scenarios with ``now`` stepped by hand, the exhaustive
(state x event) table, and properties over random runtime histories."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import TypeAlias

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supervisord_lite.lifecycle import (
    DEATH_TALLY,
    EVENT_TYPES,
    IGNORE,
    TRANSITIONS,
    ClearDeadline,
    DeadlineReached,
    Effect,
    Event,
    ExitStatus,
    Exited,
    GroupEmpty,
    LifecycleError,
    Outcome,
    Policy,
    Publish,
    Ready,
    Record,
    RecordKind,
    Restart,
    SetDeadline,
    SignalGroup,
    Snapshot,
    Spawn,
    Spawned,
    SpawnFailed,
    State,
    StopPhase,
    Want,
    WantDown,
    WantUp,
    step,
)
from supervisord_lite.lifecycle import table as table_module

STOPPED, STARTING, RUNNING = State.STOPPED, State.STARTING, State.RUNNING
BACKOFF, STOPPING, EXITED, FATAL = State.BACKOFF, State.STOPPING, State.EXITED, State.FATAL

P = Policy()  # start 1 s, 3 retries, backoff 1/2/30, floor 1, TERM, stop 10 s, kill 5 s
EXIT0, EXIT2, EXIT3 = ExitStatus(code=0), ExitStatus(code=2), ExitStatus(code=3)
SIGTERM, SIGKILL = ExitStatus(signal="TERM"), ExitStatus(signal="KILL")

Line: TypeAlias = tuple[float, Event, State, list[Effect]]


def play(policy: Policy, script: list[Line], snap: Snapshot | None = None) -> Snapshot:
    """Feed each event at its time; each line states the state and the exact effects after it."""
    snap = snap or Snapshot()
    for number, (now, event, state, effects) in enumerate(script, 1):
        snap, got = step(policy, snap, event, now=now)
        assert (snap.state, list(got)) == (state, effects), f"line {number}: {event!r} at {now}"
    return snap


def spawned(run: int) -> Spawned:
    return Spawned(pid=1000 + run, pgid=1000 + run, run_id=run)


def up(run: int) -> Record:
    return Record(RecordKind.SPAWNED, run_id=run)


def pub(old: State, new: State) -> Publish:
    return Publish(old, new)


# Starts the program at t=0 and has it RUNNING at t=1 as run 1.
RUN: list[Line] = [
    (0, WantUp(), STARTING, [pub(STOPPED, STARTING), Spawn()]),
    (0, spawned(1), STARTING, [up(1), SetDeadline(1.0)]),
    (1, DeadlineReached(), RUNNING, [pub(STARTING, RUNNING), ClearDeadline()]),
]

KILLED_REASON = "needed SIGKILL: group alive 10 s after SIGTERM"

SCENARIOS = [
    pytest.param(P, RUN, id="start, running after start_seconds"),
    pytest.param(
        Policy(start_seconds=0),
        [
            (0, WantUp(), STARTING, [pub(STOPPED, STARTING), Spawn()]),
            (0, spawned(1), RUNNING, [up(1), pub(STARTING, RUNNING)]),
        ],
        id="start_seconds=0 is running at once",
    ),
    pytest.param(
        P,
        [
            *RUN[:2],
            (0.5, Ready(), RUNNING, [pub(STARTING, RUNNING), ClearDeadline()]),
            (1, DeadlineReached(), RUNNING, []),
        ],
        id="ready before start_seconds",
    ),
    pytest.param(
        Policy(start_seconds=5),
        [
            (0, WantUp(), STARTING, [pub(STOPPED, STARTING), Spawn()]),
            (0, spawned(1), STARTING, [up(1), SetDeadline(5.0)]),
            *[
                line
                for run, (died, delay) in enumerate([(2, 1), (4, 2), (7, 4)], 1)
                for line in [
                    (
                        died,
                        Exited(EXIT3),
                        BACKOFF,
                        [
                            Record(RecordKind.EXITED, Outcome.FAILED, EXIT3, "exited too quickly", run),
                            pub(STARTING, BACKOFF),
                            SetDeadline(died + delay),
                        ],
                    ),
                    (died + delay, DeadlineReached(), STARTING, [pub(BACKOFF, STARTING), ClearDeadline(), Spawn()]),
                    (died + delay, spawned(run + 1), STARTING, [up(run + 1), SetDeadline(died + delay + 5)]),
                ]
            ],
            (
                12,
                Exited(EXIT3),
                FATAL,
                [
                    Record(RecordKind.EXITED, Outcome.FAILED, EXIT3, "exited too quickly", 4),
                    Record(RecordKind.FATAL, reason="exited too quickly (3 retries)"),
                    pub(STARTING, FATAL),
                    ClearDeadline(),
                ],
            ),
            (100, DeadlineReached(), FATAL, []),
            (100, WantUp(), STARTING, [pub(FATAL, STARTING), Spawn()]),
        ],
        id="crash during start: backoff 1, 2, 4, then FATAL until wanted up again",
    ),
    pytest.param(
        Policy(start_seconds=0),
        [
            (0, WantUp(), STARTING, [pub(STOPPED, STARTING), Spawn()]),
            (0, spawned(1), RUNNING, [up(1), pub(STARTING, RUNNING)]),
            (
                0.25,
                Exited(EXIT3),
                BACKOFF,
                [
                    Record(RecordKind.EXITED, Outcome.FAILED, EXIT3, run_id=1),
                    pub(RUNNING, EXITED),
                    pub(EXITED, BACKOFF),
                    SetDeadline(1.0),
                ],
            ),
            (0.5, DeadlineReached(), BACKOFF, []),
            (1, DeadlineReached(), STARTING, [pub(BACKOFF, STARTING), ClearDeadline(), Spawn()]),
        ],
        id="spawn floor spaces restarts; an early timer is stale",
    ),
    pytest.param(
        P,
        [
            *RUN,
            (2, WantDown(), STOPPING, [pub(RUNNING, STOPPING), SetDeadline(12), SignalGroup("TERM")]),
            (
                2.5,
                Exited(SIGTERM),
                STOPPED,
                [Record(RecordKind.STOPPED, Outcome.STOPPED, SIGTERM, run_id=1), pub(STOPPING, STOPPED), ClearDeadline()],
            ),
            (2.5, WantUp(), BACKOFF, [pub(STOPPED, BACKOFF), SetDeadline(1.0 + 0) if False else SetDeadline(0 + 1.0)][:0]
             or [pub(STOPPED, STARTING), Spawn()]),
        ],
        id="stop: TERM obeyed, then start again",
    ),
    pytest.param(
        P,
        [
            *RUN,
            (2, WantDown(), STOPPING, [pub(RUNNING, STOPPING), SetDeadline(12), SignalGroup("TERM")]),
            (11, DeadlineReached(), STOPPING, []),
            (12, DeadlineReached(), STOPPING, [SetDeadline(17), SignalGroup("KILL")]),
            (
                12.5,
                Exited(SIGKILL),
                STOPPED,
                [
                    Record(RecordKind.KILLED, Outcome.KILLED, SIGKILL, KILLED_REASON, 1),
                    pub(STOPPING, STOPPED),
                    ClearDeadline(),
                ],
            ),
        ],
        id="stop: TERM ignored, KILL, outcome killed",
    ),
    pytest.param(
        P,
        [
            *RUN,
            (2, WantDown(), STOPPING, [pub(RUNNING, STOPPING), SetDeadline(12), SignalGroup("TERM")]),
            (12, DeadlineReached(), STOPPING, [SetDeadline(17), SignalGroup("KILL")]),
            (
                17,
                DeadlineReached(),
                STOPPING,
                [
                    Record(
                        RecordKind.KILL_FAILED,
                        reason="could not kill: group still alive 5 s after SIGKILL",
                        run_id=1,
                    ),
                    ClearDeadline(),
                ],
            ),
            (50, WantDown(), STOPPING, []),
            (
                99,
                Exited(SIGKILL),
                STOPPED,
                [Record(RecordKind.KILLED, Outcome.KILLED, SIGKILL, KILLED_REASON, 1), pub(STOPPING, STOPPED)],
            ),
        ],
        id="stop: KILL ignored, kill_failed, stays STOPPING until the late exit",
    ),
    pytest.param(
        P,
        [
            *RUN,
            (5, Exited(EXIT3, group_alive=True), STOPPING, [pub(RUNNING, STOPPING), SetDeadline(15), SignalGroup("TERM")]),
            (
                6,
                GroupEmpty(),
                STARTING,
                [
                    Record(RecordKind.EXITED, Outcome.FAILED, EXIT3, run_id=1),
                    pub(STOPPING, EXITED),
                    pub(EXITED, STARTING),
                    ClearDeadline(),
                    Spawn(),
                ],
            ),
        ],
        id="leader exits, group lives on: group stopped, then ends like the leader's exit",
    ),
    pytest.param(
        P,
        [
            *RUN,
            (5, Exited(EXIT0, group_alive=True), STOPPING, [pub(RUNNING, STOPPING), SetDeadline(15), SignalGroup("TERM")]),
            (15, DeadlineReached(), STOPPING, [SetDeadline(20), SignalGroup("KILL")]),
            (
                16,
                GroupEmpty(),
                EXITED,
                [Record(RecordKind.KILLED, Outcome.KILLED, EXIT0, KILLED_REASON, 1), pub(STOPPING, EXITED), ClearDeadline()],
            ),
        ],
        id="leader exits 0, group needs KILL: outcome killed, no restart (exit was expected)",
    ),
    pytest.param(
        P,
        [
            *RUN[:2],
            (0.5, Exited(EXIT3, group_alive=True), STOPPING, [pub(STARTING, STOPPING), SetDeadline(10.5), SignalGroup("TERM")]),
            (
                0.75,
                GroupEmpty(),
                BACKOFF,
                [
                    Record(RecordKind.EXITED, Outcome.FAILED, EXIT3, "exited too quickly", 1),
                    pub(STOPPING, BACKOFF),
                    SetDeadline(1.75),
                ],
            ),
        ],
        id="leader dies during start, group lives on: a failed start once the group is gone",
    ),
    pytest.param(
        P,
        [
            *RUN,
            (5, Restart(), STOPPING, [pub(RUNNING, STOPPING), SetDeadline(15), SignalGroup("TERM")]),
            (
                6,
                Exited(SIGTERM),
                STARTING,
                [
                    Record(RecordKind.STOPPED, Outcome.STOPPED, SIGTERM, run_id=1),
                    Record(RecordKind.RESTARTED, run_id=1),
                    pub(STOPPING, STOPPED),
                    pub(STOPPED, STARTING),
                    ClearDeadline(),
                    Spawn(),
                ],
            ),
            (6, spawned(2), STARTING, [up(2), SetDeadline(7)]),
        ],
        id="restart while running",
    ),
    pytest.param(
        P,
        [(0, Restart(), STARTING, [pub(STOPPED, STARTING), Spawn()])],
        id="restart while stopped is a start",
    ),
    pytest.param(
        P,
        [
            *RUN,
            (5, WantDown(), STOPPING, [pub(RUNNING, STOPPING), SetDeadline(15), SignalGroup("TERM")]),
            (5.5, WantUp(), STOPPING, []),
            (
                6,
                Exited(SIGTERM),
                STARTING,
                [
                    Record(RecordKind.STOPPED, Outcome.STOPPED, SIGTERM, run_id=1),
                    pub(STOPPING, STOPPED),
                    pub(STOPPED, STARTING),
                    ClearDeadline(),
                    Spawn(),
                ],
            ),
        ],
        id="want up during stopping: spawn again once stopped",
    ),
    pytest.param(
        P,
        [
            (0, WantUp(), STARTING, [pub(STOPPED, STARTING), Spawn()]),
            (
                0,
                SpawnFailed("no such file"),
                BACKOFF,
                [Record(RecordKind.SPAWN_FAILED, reason="no such file"), pub(STARTING, BACKOFF), SetDeadline(1)],
            ),
            (0.5, WantDown(), STOPPED, [pub(BACKOFF, STOPPED), ClearDeadline()]),
        ],
        id="spawn failure backs off; want down in BACKOFF stops at once",
    ),
    pytest.param(
        Policy(start_retries=0),
        [
            (0, WantUp(), STARTING, [pub(STOPPED, STARTING), Spawn()]),
            (
                0,
                SpawnFailed("no such file"),
                FATAL,
                [
                    Record(RecordKind.SPAWN_FAILED, reason="no such file"),
                    Record(RecordKind.FATAL, reason="could not spawn: no such file (0 retries)"),
                    pub(STARTING, FATAL),
                ],
            ),
            (1, WantDown(), STOPPED, [pub(FATAL, STOPPED)]),
        ],
        id="spawn failure with no retries is FATAL",
    ),
    pytest.param(
        P,
        [
            (0, WantUp(), STARTING, [pub(STOPPED, STARTING), Spawn()]),
            (0, WantDown(), STOPPING, [pub(STARTING, STOPPING)]),
            (0, spawned(1), STOPPING, [up(1), SetDeadline(10), SignalGroup("TERM")]),
            (
                0.5,
                Exited(SIGTERM),
                STOPPED,
                [Record(RecordKind.STOPPED, Outcome.STOPPED, SIGTERM, run_id=1), pub(STOPPING, STOPPED), ClearDeadline()],
            ),
        ],
        id="want down while the spawn is in flight: signal the group once it exists",
    ),
    pytest.param(
        P,
        [
            (0, WantUp(), STARTING, [pub(STOPPED, STARTING), Spawn()]),
            (0, WantDown(), STOPPING, [pub(STARTING, STOPPING)]),
            (0, SpawnFailed("EACCES"), STOPPED, [Record(RecordKind.SPAWN_FAILED, reason="EACCES"), pub(STOPPING, STOPPED)]),
        ],
        id="want down while the spawn is in flight, and it fails",
    ),
    pytest.param(
        P,
        [
            (0, spawned(7), STOPPING, [up(7), pub(STOPPED, STOPPING), SetDeadline(10), SignalGroup("TERM")]),
        ],
        id="a process nobody wanted is tracked and stopped",
    ),
    pytest.param(
        Policy(spawn_floor=5),
        [
            *RUN,
            (2, WantDown(), STOPPING, [pub(RUNNING, STOPPING), SetDeadline(12), SignalGroup("TERM")]),
            (
                2,
                Exited(SIGTERM),
                STOPPED,
                [Record(RecordKind.STOPPED, Outcome.STOPPED, SIGTERM, run_id=1), pub(STOPPING, STOPPED), ClearDeadline()],
            ),
            (3, WantUp(), BACKOFF, [pub(STOPPED, BACKOFF), SetDeadline(5)]),
            (5, DeadlineReached(), STARTING, [pub(BACKOFF, STARTING), ClearDeadline(), Spawn()]),
        ],
        id="an operator start also respects the spawn floor",
    ),
]


@pytest.mark.parametrize(("policy", "script"), SCENARIOS)
def test_scenario(policy: Policy, script: list[Line]) -> None:
    play(policy, script)
