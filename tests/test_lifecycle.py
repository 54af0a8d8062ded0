"""The lifecycle state machine: scripted scenarios with ``now`` stepped by hand, the exhaustive
(state x event) table, and properties over random runtime histories."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TypeAlias

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supervisord_lite import lifecycle
from supervisord_lite.lifecycle import (
    DEATH_TALLY,
    EVENT_TYPES,
    IGNORE,
    TRANSITIONS,
    ClearDeadline,
    DeadlineReached,
    Effect,
    Event,
    Exited,
    ExitStatus,
    ExtendTimeout,
    GroupEmpty,
    KeepAlive,
    LifecycleError,
    Outcome,
    OverMemory,
    Permafail,
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
    StopGracefully,
    StopPhase,
    Unhealthy,
    Verdict,
    Want,
    WantDown,
    WantUp,
    WatchdogFired,
    judge,
    step,
)
from supervisord_lite.lifecycle import effects as effects_module
from supervisord_lite.lifecycle import events as events_module
from supervisord_lite.lifecycle import restarts as restarts_module
from supervisord_lite.lifecycle import states as states_module
from supervisord_lite.lifecycle import table as table_module
from supervisord_lite.lifecycle import verdicts as verdicts_module

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


def too_quick(run: int) -> Record:
    return Record(RecordKind.EXITED, Outcome.FAILED, EXIT3, "exited too quickly", run)


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
            (2, Exited(EXIT3), BACKOFF, [too_quick(1), pub(STARTING, BACKOFF), SetDeadline(3)]),
            (3, DeadlineReached(), STARTING, [pub(BACKOFF, STARTING), ClearDeadline(), Spawn()]),
            (3, spawned(2), STARTING, [up(2), SetDeadline(8)]),
            (4, Exited(EXIT3), BACKOFF, [too_quick(2), pub(STARTING, BACKOFF), SetDeadline(6)]),
            (6, DeadlineReached(), STARTING, [pub(BACKOFF, STARTING), ClearDeadline(), Spawn()]),
            (6, spawned(3), STARTING, [up(3), SetDeadline(11)]),
            (
                6.5,
                Exited(EXIT3),
                BACKOFF,
                [too_quick(3), pub(STARTING, BACKOFF), SetDeadline(10.5)],
            ),
            (10.5, DeadlineReached(), STARTING, [pub(BACKOFF, STARTING), ClearDeadline(), Spawn()]),
            (10.5, spawned(4), STARTING, [up(4), SetDeadline(15.5)]),
            (
                12,
                Exited(EXIT3),
                FATAL,
                [
                    too_quick(4),
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
        Policy(start_seconds=0, backoff_reset=0),
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
            (
                2,
                WantDown(),
                STOPPING,
                [pub(RUNNING, STOPPING), SetDeadline(12), SignalGroup("TERM")],
            ),
            (
                2.5,
                Exited(SIGTERM),
                STOPPED,
                [
                    Record(RecordKind.STOPPED, Outcome.STOPPED, SIGTERM, run_id=1),
                    pub(STOPPING, STOPPED),
                    ClearDeadline(),
                ],
            ),
            (2.5, WantUp(), STARTING, [pub(STOPPED, STARTING), Spawn()]),
        ],
        id="stop: TERM obeyed, then start again",
    ),
    pytest.param(
        P,
        [
            *RUN,
            (
                2,
                WantDown(),
                STOPPING,
                [pub(RUNNING, STOPPING), SetDeadline(12), SignalGroup("TERM")],
            ),
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
            (
                2,
                WantDown(),
                STOPPING,
                [pub(RUNNING, STOPPING), SetDeadline(12), SignalGroup("TERM")],
            ),
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
                [
                    Record(RecordKind.KILLED, Outcome.KILLED, SIGKILL, KILLED_REASON, 1),
                    pub(STOPPING, STOPPED),
                ],
            ),
        ],
        id="stop: KILL ignored, kill_failed, stays STOPPING until the late exit",
    ),
    pytest.param(
        Policy(backoff_reset=5),
        [
            *RUN,
            (
                5,
                Exited(EXIT3, group_alive=True),
                STOPPING,
                [pub(RUNNING, STOPPING), SetDeadline(15), SignalGroup("TERM")],
            ),
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
            (
                5,
                Exited(EXIT0, group_alive=True),
                STOPPING,
                [pub(RUNNING, STOPPING), SetDeadline(15), SignalGroup("TERM")],
            ),
            (15, DeadlineReached(), STOPPING, [SetDeadline(20), SignalGroup("KILL")]),
            (
                16,
                GroupEmpty(),
                EXITED,
                [
                    Record(RecordKind.KILLED, Outcome.KILLED, EXIT0, KILLED_REASON, 1),
                    pub(STOPPING, EXITED),
                    ClearDeadline(),
                ],
            ),
        ],
        id="leader exits 0, group needs KILL: outcome killed, no restart (exit was expected)",
    ),
    pytest.param(
        P,
        [
            *RUN[:2],
            (
                0.5,
                Exited(EXIT3, group_alive=True),
                STOPPING,
                [pub(STARTING, STOPPING), SetDeadline(10.5), SignalGroup("TERM")],
            ),
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
            (
                5,
                Restart(),
                STOPPING,
                [pub(RUNNING, STOPPING), SetDeadline(15), SignalGroup("TERM")],
            ),
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
            (
                5,
                WantDown(),
                STOPPING,
                [pub(RUNNING, STOPPING), SetDeadline(15), SignalGroup("TERM")],
            ),
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
                [
                    Record(RecordKind.SPAWN_FAILED, reason="no such file"),
                    pub(STARTING, BACKOFF),
                    SetDeadline(1),
                ],
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
                [
                    Record(RecordKind.STOPPED, Outcome.STOPPED, SIGTERM, run_id=1),
                    pub(STOPPING, STOPPED),
                    ClearDeadline(),
                ],
            ),
        ],
        id="want down while the spawn is in flight: signal the group once it exists",
    ),
    pytest.param(
        P,
        [
            (0, WantUp(), STARTING, [pub(STOPPED, STARTING), Spawn()]),
            (0, WantDown(), STOPPING, [pub(STARTING, STOPPING)]),
            (
                0,
                SpawnFailed("EACCES"),
                STOPPED,
                [Record(RecordKind.SPAWN_FAILED, reason="EACCES"), pub(STOPPING, STOPPED)],
            ),
        ],
        id="want down while the spawn is in flight, and it fails",
    ),
    pytest.param(
        P,
        [
            (
                0,
                spawned(7),
                STOPPING,
                [up(7), pub(STOPPED, STOPPING), SetDeadline(10), SignalGroup("TERM")],
            ),
        ],
        id="a process nobody wanted is tracked and stopped",
    ),
    pytest.param(
        Policy(spawn_floor=5),
        [
            *RUN,
            (
                2,
                WantDown(),
                STOPPING,
                [pub(RUNNING, STOPPING), SetDeadline(12), SignalGroup("TERM")],
            ),
            (
                2,
                Exited(SIGTERM),
                STOPPED,
                [
                    Record(RecordKind.STOPPED, Outcome.STOPPED, SIGTERM, run_id=1),
                    pub(STOPPING, STOPPED),
                    ClearDeadline(),
                ],
            ),
            (3, WantUp(), STARTING, [pub(STOPPED, STARTING), Spawn()]),
        ],
        id="an operator start is not held back by the spawn floor",
    ),
]


@pytest.mark.parametrize(("policy", "script"), SCENARIOS)
def test_scenario(policy: Policy, script: list[Line]) -> None:
    play(policy, script)


@pytest.mark.parametrize(
    ("autorestart", "exit_codes", "status", "outcome", "restarts"),
    [
        ("always", (0,), EXIT0, Outcome.COMPLETED, True),
        ("always", (0,), EXIT3, Outcome.FAILED, True),
        ("on-failure", (0,), EXIT0, Outcome.COMPLETED, False),
        ("on-failure", (0,), EXIT3, Outcome.FAILED, True),
        ("on-failure", (0,), ExitStatus(signal="SEGV"), Outcome.FAILED, True),
        ("on-failure", (0, 2), EXIT2, Outcome.COMPLETED, False),
        ("on-failure", (2,), EXIT0, Outcome.FAILED, True),
        ("never", (0,), EXIT3, Outcome.FAILED, False),
        ("never", (0,), EXIT0, Outcome.COMPLETED, False),
    ],
)
def test_exit_after_running_follows_autorestart(
    autorestart: str,
    exit_codes: tuple[int, ...],
    status: ExitStatus,
    outcome: Outcome,
    restarts: bool,
) -> None:
    # The run lives 10 s, longer than backoff_reset: a new run starts at once.
    policy = Policy(autorestart=autorestart, exit_codes=exit_codes, backoff_reset=5)  # type: ignore[arg-type]
    effects: list[Effect] = [Record(RecordKind.EXITED, outcome, status, run_id=1)]
    if restarts:
        state = STARTING
        effects += [pub(RUNNING, EXITED), pub(EXITED, STARTING), Spawn()]
    else:
        state = EXITED
        effects += [pub(RUNNING, EXITED)]
    snap = play(policy, [*RUN, (10, Exited(status), state, effects)])
    assert snap.want is Want.UP
    assert snap.last_exit == status
    assert (snap.pid, snap.pgid, snap.run_id) == (None, None, None)
    if not restarts:
        assert snap.message == status.describe()


def test_stale_deadlines_are_ignored() -> None:
    snap = play(P, RUN)
    assert step(P, snap, DeadlineReached(), now=50) == (snap, ())
    stopping, _ = step(P, snap, WantDown(), now=2)
    assert stopping.deadline == 12
    assert step(P, stopping, DeadlineReached(), now=11.9) == (stopping, ())


def test_ignored_events_return_the_same_snapshot() -> None:
    snap = play(P, RUN)
    for event in (WantUp(), SpawnFailed("late"), GroupEmpty(), Ready()):
        new, effects = step(P, snap, event, now=5)
        assert new is snap
        assert effects == ()


def test_a_second_group_is_a_broken_contract() -> None:
    snap = play(P, RUN)
    with pytest.raises(LifecycleError, match="while group 1001"):
        step(P, snap, spawned(2), now=5)


def test_snapshot_tracks_the_run() -> None:
    snap = play(P, RUN[:2])
    assert (snap.pid, snap.pgid, snap.run_id, snap.spawned_at) == (1001, 1001, 1, 0)
    snap, _ = step(P, snap, Exited(EXIT3, group_alive=True), now=0.5)
    assert (snap.pid, snap.pgid, snap.leader_exit, snap.exited_from) == (
        None,
        1001,
        EXIT3,
        STARTING,
    )
    assert snap.stop_phase is StopPhase.SIGNALLED
    assert snap.message == "leader exit 3; stopping the rest of its group"


def test_the_death_tally_is_bounded() -> None:
    policy = Policy(
        start_seconds=0, spawn_floor=0, autorestart="always", backoff_reset=0, start_limit_burst=0
    )
    snap = Snapshot()
    snap, _ = step(policy, snap, WantUp(), now=0)
    for run in range(1, DEATH_TALLY + 51):
        snap, _ = step(policy, snap, spawned(run), now=run)
        snap, effects = step(policy, snap, Exited(ExitStatus(code=run % 256)), now=run + 0.5)
        assert Spawn() in effects
    assert len(snap.deaths) == DEATH_TALLY
    assert snap.deaths[-1].at == DEATH_TALLY + 50.5
    assert snap.deaths[0].at == 51.5


def test_exit_status_has_exactly_one_cause() -> None:
    assert EXIT3.describe() == "exit 3"
    assert SIGKILL.describe() == "signal KILL"
    with pytest.raises(ValueError, match="exactly one"):
        ExitStatus()
    with pytest.raises(ValueError, match="exactly one"):
        ExitStatus(code=1, signal="TERM")


def test_backoff_is_capped_even_for_huge_retry_counts() -> None:
    policy = Policy(backoff_initial=1, backoff_factor=10, backoff_max=30)
    assert [policy.backoff(n) for n in (1, 2, 3)] == [1, 10, 30]
    assert policy.backoff(10_000) == 30


# Crash loops: backoff across runs, reset by a stable run, ended by the start limit

Wait: TypeAlias = float | str


def crash_loop(policy: Policy, lives: list[float], status: ExitStatus = EXIT3) -> list[Wait]:
    """Start once, then let every run reach RUNNING (start_seconds 1) and exit with ``status``
    after its life; each run's wait before the next spawn, or "FATAL"."""
    snap, _ = step(policy, Snapshot(), WantUp(), now=0)
    now = 0.0
    waits: list[Wait] = []
    for run, life in enumerate(lives, 1):
        if snap.state is BACKOFF:
            assert snap.deadline is not None
            now = snap.deadline
            snap, _ = step(policy, snap, DeadlineReached(), now=now)
        assert snap.state is STARTING
        snap, _ = step(policy, snap, spawned(run), now=now)
        snap, _ = step(policy, snap, DeadlineReached(), now=now + 1)
        assert snap.state is RUNNING
        now += life
        snap, effects = step(policy, snap, Exited(status), now=now)
        if snap.state is FATAL:
            assert Record(RecordKind.FATAL, reason=snap.message) in effects
            waits.append(f"FATAL: {snap.message}")
            break
        assert snap.deadline is not None or snap.state is STARTING
        waits.append(snap.deadline - now if snap.deadline is not None else 0.0)
    return waits


LIMIT_3 = "FATAL: start limit reached: 4 failures within 60 s (start_limit.burst = 3)"


@pytest.mark.parametrize(
    ("policy", "lives", "status", "waits"),
    [
        pytest.param(
            Policy(start_limit_burst=0),
            [2.0] * 7,
            EXIT3,
            [1, 2, 4, 8, 16, 30, 30],
            id="crashes in a row back off up to max",
        ),
        pytest.param(
            Policy(start_limit_burst=3), [2.0] * 5, EXIT3, [1, 2, 4, LIMIT_3], id="start limit"
        ),
        pytest.param(
            Policy(start_limit_burst=3, start_limit_interval=5),
            [2.0] * 6,
            EXIT3,
            [1, 2, 4, 8, 16, 30],
            id="failures spaced wider than the interval never reach the limit",
        ),
        pytest.param(
            Policy(backoff_reset=5, start_limit_burst=0),
            [2.0, 2.0, 10.0, 2.0, 2.0],
            EXIT3,
            [1, 2, 0, 1, 2],
            id="a stable run resets the backoff; the crash after it restarts at once",
        ),
        pytest.param(
            Policy(autorestart="always", start_limit_burst=2),
            [2.0] * 6,
            EXIT0,
            [0] * 6,
            id="expected exits are no crashes and no failures",
        ),
        pytest.param(
            Policy(backoff_reset=0, start_limit_burst=0),
            [2.0] * 4,
            ExitStatus(signal="SEGV"),
            [0] * 4,
            id="backoff_reset 0: only the spawn floor spaces restarts",
        ),
    ],
)
def test_crash_loop(
    policy: Policy, lives: list[float], status: ExitStatus, waits: list[Wait]
) -> None:
    assert crash_loop(policy, lives, status) == waits


def test_failed_starts_count_against_the_start_limit() -> None:
    policy = Policy(start_retries=10, start_limit_burst=2, backoff_initial=0.5, backoff_max=0.5)
    snap, _ = step(policy, Snapshot(), WantUp(), now=0)
    now = 0.0
    for run in (1, 2):
        snap, _ = step(policy, snap, spawned(run), now=now)
        snap, _ = step(policy, snap, Exited(EXIT3), now=now + 0.5)
        assert snap.state is BACKOFF
        now = snap.deadline or 0.0
        snap, _ = step(policy, snap, DeadlineReached(), now=now)
    snap, _ = step(policy, snap, spawned(3), now=now)
    snap, _ = step(policy, snap, Exited(EXIT3), now=now + 0.5)
    assert snap.state is FATAL
    assert snap.message == "start limit reached: 3 failures within 60 s (start_limit.burst = 2)"
    # An operator's start is a fresh series: nothing counted any more.
    fresh, _ = step(policy, snap, WantUp(), now=now + 1)
    assert (fresh.state, fresh.retries, fresh.crashes, fresh.failures) == (STARTING, 0, 0, ())


# Verdicts on requests

UP_, DOWN_ = Want.UP, Want.DOWN
UNKILLABLE = Snapshot(
    state=STOPPING,
    want=Want.DOWN,
    pgid=7,
    stop_phase=StopPhase.UNKILLABLE,
    message="could not kill",
)
STARTED_AGAIN = "started again before it stopped"


@pytest.mark.parametrize(
    ("goal", "entered", "snap", "verdict"),
    [
        (UP_, [RUNNING], Snapshot(state=RUNNING, want=UP_), (True, RUNNING, "running")),
        (UP_, [STARTING], Snapshot(state=STARTING, want=UP_), None),
        (UP_, [BACKOFF], Snapshot(state=BACKOFF, want=UP_), None),
        (UP_, [STOPPING], Snapshot(state=STOPPING, want=UP_), None),
        (UP_, [STOPPING], Snapshot(state=STOPPING, want=DOWN_), None),
        (UP_, [], Snapshot(state=STARTING, want=UP_), None),
        (
            UP_,
            [FATAL],
            Snapshot(state=FATAL, want=UP_, message="exited too quickly (3 retries)"),
            (False, FATAL, "exited too quickly (3 retries)"),
        ),
        (UP_, [EXITED], Snapshot(state=EXITED, last_exit=EXIT0), (True, EXITED, "exit 0")),
        (UP_, [EXITED], Snapshot(state=EXITED, last_exit=EXIT3), (False, EXITED, "exit 3")),
        (
            UP_,
            [STOPPED],
            Snapshot(state=STOPPED, want=DOWN_),
            (False, STOPPED, "stopped before it was running"),
        ),
        (UP_, [STOPPED, STARTING], Snapshot(state=STARTING, want=UP_), None),
        (
            UP_,
            [RUNNING, EXITED, STARTING],
            Snapshot(state=STARTING, want=UP_, last_exit=EXIT3),
            (True, RUNNING, "running"),
        ),
        (UP_, [], UNKILLABLE, (False, STOPPING, "could not kill")),
        (DOWN_, [STOPPED], Snapshot(), (True, STOPPED, "stopped")),
        (
            DOWN_,
            [STOPPED, STARTING],
            Snapshot(state=STARTING, want=UP_),
            (True, STOPPED, "stopped"),
        ),
        (DOWN_, [STOPPING], Snapshot(state=STOPPING, want=DOWN_), None),
        (DOWN_, [], Snapshot(state=STOPPING, want=DOWN_, stop_phase=StopPhase.KILLED), None),
        (DOWN_, [STARTING], Snapshot(state=STARTING, want=UP_), (False, STARTING, STARTED_AGAIN)),
        (DOWN_, [RUNNING], Snapshot(state=RUNNING, want=UP_), (False, RUNNING, STARTED_AGAIN)),
        (DOWN_, [BACKOFF], Snapshot(state=BACKOFF, want=UP_), (False, BACKOFF, STARTED_AGAIN)),
        (DOWN_, [EXITED], Snapshot(state=EXITED, want=UP_), (False, EXITED, STARTED_AGAIN)),
        (DOWN_, [FATAL], Snapshot(state=FATAL, want=UP_), (False, FATAL, STARTED_AGAIN)),
        (DOWN_, [], UNKILLABLE, (False, STOPPING, "could not kill")),
    ],
)
def test_verdict(
    goal: Want, entered: list[State], snap: Snapshot, verdict: tuple[bool, State, str] | None
) -> None:
    expected = (
        None if verdict is None else Verdict(ok=verdict[0], state=verdict[1], message=verdict[2])
    )
    assert judge(goal, entered, snap, P) == expected


def test_a_verdict_hears_only_the_steps_from_its_request_on() -> None:
    """A stop and then a start of an EXITED program: the stop's own step settles it, and the
    start is not answered by the STOPPED the earlier stop caused."""
    policy = Policy(start_seconds=0)
    snap = Snapshot(state=EXITED, want=Want.UP, last_exit=EXIT0)
    stop = start = None
    for now, event in [(0, WantDown()), (0, WantUp()), (0, spawned(1))]:
        snap, effects = step(policy, snap, event, now=now)
        entered = [e.new for e in effects if isinstance(e, Publish)]
        if stop is None:
            stop = judge(Want.DOWN, entered, snap, policy)
            continue  # the start is sent after the stop's step
        start = start or judge(Want.UP, entered, snap, policy)
    assert stop == Verdict(ok=True, state=STOPPED, message="stopped")
    assert start == Verdict(ok=True, state=RUNNING, message="running")


# The table


def test_the_package_exports_each_module_public_names_once() -> None:
    modules = (
        states_module,
        events_module,
        effects_module,
        table_module,
        verdicts_module,
        restarts_module,
    )
    names = [name for module in modules for name in module.__all__]
    assert sorted(lifecycle.__all__) == sorted(names)
    assert len(set(names)) == len(names)


def test_every_state_event_cell_is_written_out() -> None:
    missing = [
        f"{state.value} x {kind.__name__}"
        for state in State
        for kind in EVENT_TYPES
        if (state, kind) not in TRANSITIONS
    ]
    assert missing == []
    assert len(TRANSITIONS) == len(State) * len(EVENT_TYPES)


def test_the_docstring_grid_is_the_table() -> None:
    doc = inspect.getdoc(table_module) or ""
    lines = doc.split("::\n\n", 1)[1].splitlines()
    header = [State(name) for name in lines[0].split()]
    grid = {}
    for line in lines[1 : 1 + len(EVENT_TYPES)]:
        event_name, *cells = line.split()
        grid.update({(state, event_name): cell for state, cell in zip(header, cells, strict=True)})
    code = {
        (state, kind.__name__): "-" if cell is IGNORE else cell.__name__
        for (state, kind), cell in TRANSITIONS.items()
    }
    assert grid == code


# Properties over random histories


@dataclass
class World:
    """What the kernel would know: the Spawn in flight, the leader, the rest of its group."""

    pending: bool = False
    leader: bool = False
    rest: bool = False
    run_id: int = 0
    ended: list[int] = field(default_factory=list)

    @property
    def alive(self) -> bool:
        return self.leader or self.rest


policies = st.builds(
    Policy,
    autorestart=st.sampled_from(["always", "on-failure", "never"]),
    exit_codes=st.sampled_from([(0,), (0, 2), ()]),
    start_seconds=st.sampled_from([0.0, 0.5, 1.0, 5.0]),
    start_retries=st.sampled_from([0, 1, 3, None]),
    backoff_jitter=st.sampled_from([0.0, 0.5, 1.0]),
    permafail=st.sampled_from(
        [None, Permafail(deaths=2, window=10.0, exit_codes=(3,), signals=("TERM", "KILL"))]
    ),
    backoff_initial=st.sampled_from([0.0, 0.5, 1.0]),
    backoff_factor=st.sampled_from([1.0, 2.0]),
    backoff_max=st.sampled_from([0.5, 30.0]),
    spawn_floor=st.sampled_from([0.0, 1.0]),
    backoff_reset=st.sampled_from([0.0, 2.0, 30.0]),
    start_limit_burst=st.sampled_from([0, 1, 5]),
    start_limit_interval=st.sampled_from([1.0, 60.0]),
    stop_timeout=st.sampled_from([0.0, 1.0, 10.0]),
    kill_timeout=st.sampled_from([0.0, 5.0]),
)
statuses = st.sampled_from([EXIT0, EXIT2, EXIT3, SIGTERM, SIGKILL])
deltas = st.sampled_from([0.0, 0.25, 1.0, 3.0, 30.0])
NO_PROCESS = {STOPPED, EXITED, FATAL, BACKOFF}


def check_step(before: Snapshot, after: Snapshot, effects: tuple[Effect, ...]) -> None:
    """Invariants of any single step, whatever the event."""
    publishes = [e for e in effects if isinstance(e, Publish)]
    if publishes:
        assert publishes[0].old is before.state
        assert publishes[-1].new is after.state
        assert all(a.new is b.old for a, b in pairwise(publishes))
        assert all(p.old is not p.new for p in publishes)
    else:
        assert before.state is after.state
    timers = [e for e in effects if isinstance(e, SetDeadline | ClearDeadline)]
    if after.deadline == before.deadline:
        assert timers == []
    else:
        expected = ClearDeadline() if after.deadline is None else SetDeadline(after.deadline)
        assert timers == [expected]
    kinds = [type(e) for e in effects]
    order = [Record, Publish, SetDeadline, ClearDeadline, SignalGroup, Spawn]
    kinds = [SignalGroup if k is StopGracefully else k for k in kinds]
    ranks = [min(order.index(k), 2) if k is ClearDeadline else order.index(k) for k in kinds]
    assert ranks == sorted(ranks), effects
    assert len(after.deaths) <= DEATH_TALLY
    if after.state is STOPPED:
        assert after.want is Want.DOWN
    elif after.state is not STOPPING:
        assert after.want is Want.UP
    if after.state in {STOPPED, EXITED, FATAL, RUNNING}:
        assert after.deadline is None
    if after.state is BACKOFF:
        assert after.deadline is not None
    if after.state in NO_PROCESS:
        assert after.pgid is None


@pytest.mark.timeout(240)  # long histories: 20 s alone on 2 cores, more under load
@settings(max_examples=300, deadline=None)
@given(data=st.data(), policy=policies)
def test_invariants_over_any_runtime_history(data: st.DataObject, policy: Policy) -> None:
    world = World()
    snap = Snapshot()
    now = 0.0
    outcomes: dict[int, int] = {}
    for _ in range(data.draw(st.integers(1, 80), label="steps")):
        choices: list[str] = ["want_up", "want_down", "restart", "wait", "stale_timer"]
        if snap.deadline is not None:
            choices.append("timer")
        if world.pending:
            choices += ["spawned", "spawn_failed"]
        if world.leader:
            choices += ["exited", "ready", "over_memory"]
        if world.rest and not world.leader:
            choices.append("group_empty")
        action = data.draw(st.sampled_from(choices))
        event: Event
        group_ends = False
        if action == "want_up":
            event = WantUp()
        elif action == "want_down":
            event = WantDown()
        elif action == "restart":
            event = Restart()
        elif action == "wait":
            now += data.draw(deltas)
            continue
        elif action == "stale_timer":
            event = DeadlineReached()
        elif action == "timer":
            assert snap.deadline is not None
            now = max(now, snap.deadline)
            event = DeadlineReached()
        elif action == "spawned":
            world.run_id += 1
            world.pending, world.leader = False, True
            event = Spawned(pid=world.run_id, pgid=world.run_id, run_id=world.run_id)
        elif action == "spawn_failed":
            world.pending = False
            event = SpawnFailed("nope")
        elif action == "exited":
            world.leader = False
            world.rest = data.draw(st.booleans(), label="group_alive")
            group_ends = not world.rest
            event = Exited(data.draw(statuses), group_alive=world.rest)
        elif action == "ready":
            event = Ready()
        elif action == "over_memory":
            event = OverMemory(used=2 << 20, limit=1 << 20, source="sampled")
        else:
            world.rest = False
            group_ends = True
            event = GroupEmpty()

        draw = data.draw(st.floats(0.0, 1.0, exclude_max=True), label="draw")
        new, effects = step(policy, snap, event, now=now, draw=draw)
        check_step(snap, new, effects)

        ended = [e for e in effects if isinstance(e, Record) and e.outcome is not None]
        assert len(ended) == (1 if group_ends else 0), (event, effects)
        for record in ended:
            assert record.run_id == world.run_id
            assert record.outcome is not Outcome.LOST
            outcomes[world.run_id] = outcomes.get(world.run_id, 0) + 1
            assert outcomes[world.run_id] == 1
        if world.alive or world.pending:
            assert new.state not in NO_PROCESS, (event, new)
        assert (new.pgid is not None) == world.alive
        assert (new.pid is not None) == world.leader
        if world.alive:
            assert new.run_id == world.run_id
        for effect in effects:
            if isinstance(effect, Spawn):
                assert not world.pending
                assert not world.alive
                world.pending = True
            elif isinstance(effect, SignalGroup):
                assert world.alive
        snap = new


events = st.one_of(
    st.builds(WantUp),
    st.builds(WantDown),
    st.builds(Restart),
    st.builds(Spawned, pid=st.just(0), pgid=st.just(0), run_id=st.just(0)),
    st.builds(SpawnFailed, reason=st.just("nope")),
    st.builds(Exited, status=statuses, group_alive=st.booleans()),
    st.builds(GroupEmpty),
    st.builds(Ready),
    st.builds(DeadlineReached),
    st.builds(OverMemory, used=st.just(2), limit=st.just(1), source=st.just("cgroup")),
)


@settings(max_examples=400, deadline=None)
@given(policy=policies, script=st.lists(st.tuples(deltas, events), max_size=60))
def test_any_event_in_any_order_is_answered_safely(
    policy: Policy, script: list[tuple[float, Event]]
) -> None:
    """Events the runtime should never send still get a deliberate, invariant-keeping answer."""
    snap = Snapshot()
    now = 0.0
    ended: set[int] = set()
    for run_id, (delta, raw) in enumerate(script, 1):
        now += delta
        event = Spawned(pid=run_id, pgid=run_id, run_id=run_id) if isinstance(raw, Spawned) else raw
        if isinstance(event, Spawned) and snap.pgid is not None:
            with pytest.raises(LifecycleError):
                step(policy, snap, event, now=now)
            continue
        new, effects = step(policy, snap, event, now=now)
        check_step(snap, new, effects)
        for record in effects:
            if isinstance(record, Record) and record.outcome is not None:
                assert record.run_id is not None
                assert record.run_id == snap.run_id
                assert record.run_id not in ended
                ended.add(record.run_id)
        snap = new


# Readiness, health and the watchdog

PROBED = Policy(ready_probe=True, start_timeout=30)
WATCHED = Policy(ready_probe=True, start_timeout=30, watchdog=5)
SIGABRT = ExitStatus(signal="ABRT")


def _probed_start(policy: Policy = PROBED) -> list[Line]:
    return [
        (0, WantUp(), STARTING, [pub(STOPPED, STARTING), Spawn()]),
        (0, spawned(1), STARTING, [up(1), SetDeadline(30)]),
    ]


READINESS = [
    pytest.param(
        PROBED,
        [
            *_probed_start(),
            (1, DeadlineReached(), STARTING, []),  # start_seconds means nothing with a probe
            (12, Ready(), RUNNING, [pub(STARTING, RUNNING), ClearDeadline()]),
        ],
        id="a probed program is STARTING until Ready, whatever start_seconds says",
    ),
    pytest.param(
        Policy(ready_probe=True, start_timeout=30, start_seconds=0),
        [*_probed_start(), (3, Ready(), RUNNING, [pub(STARTING, RUNNING), ClearDeadline()])],
        id="start_seconds = 0 does not make a probed program ready",
    ),
    pytest.param(
        PROBED,
        [
            *_probed_start(),
            (
                30,
                DeadlineReached(),
                STOPPING,
                [pub(STARTING, STOPPING), SetDeadline(40), SignalGroup("TERM")],
            ),
            (
                31,
                Exited(SIGTERM),
                BACKOFF,
                [
                    Record(RecordKind.EXITED, Outcome.FAILED, SIGTERM, "not ready within 30 s", 1),
                    pub(STOPPING, BACKOFF),
                    SetDeadline(32),
                ],
            ),
        ],
        id="not ready by start_timeout: the run is stopped and it is a failed start",
    ),
    pytest.param(
        PROBED,
        [
            *_probed_start(),
            (10, ExtendTimeout(60), STARTING, [SetDeadline(70)]),
            (30, DeadlineReached(), STARTING, []),  # stale: the deadline moved
            (12, ExtendTimeout(1), STARTING, []),  # never closer
        ],
        id="EXTEND_TIMEOUT_USEC moves the start timeout, never closer",
    ),
    pytest.param(
        P,
        [*RUN[:2], (0.5, ExtendTimeout(60), STARTING, [])],
        id="without a probe, an extension means nothing",
    ),
    pytest.param(
        WATCHED,
        [
            *_probed_start(),
            (2, Ready(), RUNNING, [pub(STARTING, RUNNING), SetDeadline(7)]),
            (4, KeepAlive(), RUNNING, [SetDeadline(9)]),
            (7, DeadlineReached(), RUNNING, []),  # stale
            (8, KeepAlive(), RUNNING, [SetDeadline(13)]),
        ],
        id="WATCHDOG=1 keeps the watchdog from firing",
    ),
    pytest.param(
        WATCHED,
        [
            *_probed_start(),
            (2, Ready(), RUNNING, [pub(STARTING, RUNNING), SetDeadline(7)]),
            (
                7,
                DeadlineReached(),
                STOPPING,
                [pub(RUNNING, STOPPING), SetDeadline(17), SignalGroup("ABRT")],
            ),
            (
                7.5,
                Exited(SIGABRT),
                BACKOFF,  # a crash: it backs off like any other
                [
                    Record(
                        RecordKind.EXITED,
                        Outcome.FAILED,
                        SIGABRT,
                        "watchdog timeout: no WATCHDOG=1 within 5 s",
                        1,
                    ),
                    pub(STOPPING, EXITED),
                    pub(EXITED, BACKOFF),
                    SetDeadline(8.5),
                ],
            ),
        ],
        id="a watchdog timeout ends the run with SIGABRT and autorestart starts it again",
    ),
    pytest.param(
        WATCHED,
        [
            *_probed_start(),
            (2, Ready(), RUNNING, [pub(STARTING, RUNNING), SetDeadline(7)]),
            (
                3,
                WatchdogFired(),
                STOPPING,
                [pub(RUNNING, STOPPING), SetDeadline(13), SignalGroup("ABRT")],
            ),
        ],
        id="WATCHDOG=trigger fires it at once",
    ),
    pytest.param(
        P,
        [
            *RUN,
            (5, KeepAlive(), RUNNING, []),
            (6, WatchdogFired(), RUNNING, []),
        ],
        id="without a watchdog, WATCHDOG= means nothing",
    ),
    pytest.param(
        P,
        [
            *RUN,
            (
                5,
                Unhealthy("tcp 127.0.0.1:80: refused"),
                STOPPING,
                [pub(RUNNING, STOPPING), SetDeadline(15), SignalGroup("TERM")],
            ),
            (
                6,
                Exited(SIGTERM),
                STARTING,
                [
                    Record(
                        RecordKind.EXITED,
                        Outcome.FAILED,
                        SIGTERM,
                        "unhealthy: tcp 127.0.0.1:80: refused",
                        1,
                    ),
                    Record(RecordKind.RESTARTED, run_id=1),
                    pub(STOPPING, EXITED),
                    pub(EXITED, STARTING),
                    ClearDeadline(),
                    Spawn(),
                ],
            ),
        ],
        id="unhealthy: stopped and started again",
    ),
    pytest.param(
        P,
        [*RUN[:2], (0.5, Unhealthy("x"), STARTING, [])],
        id="liveness means nothing before the program is ready",
    ),
]


@pytest.mark.parametrize(("policy", "script"), READINESS)
def test_readiness(policy: Policy, script: list[Line]) -> None:
    play(policy, script)
