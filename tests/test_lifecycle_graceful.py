"""A program with a ``pre_stop`` hook or a ``stop_command`` (``Policy.graceful_stop``): the stop
of a live run begins with ``StopGracefully``; the escalation to SIGKILL stays."""

from __future__ import annotations

from supervisord_lite.lifecycle import (
    ClearDeadline,
    DeadlineReached,
    Exited,
    ExitStatus,
    Outcome,
    Policy,
    Publish,
    Record,
    RecordKind,
    Restart,
    SetDeadline,
    SignalGroup,
    Snapshot,
    Spawn,
    Spawned,
    State,
    StopGracefully,
    WantDown,
    WantUp,
    WatchdogFired,
    step,
)
from tests.test_lifecycle import RUN, Line, check_step, play, pub

GRACEFUL = Policy(graceful_stop=True)
STOPPING, STOPPED, STARTING = State.STOPPING, State.STOPPED, State.STARTING


def test_a_stop_begins_gracefully_and_still_escalates_to_sigkill() -> None:
    script: list[Line] = [
        *RUN,
        (
            2,
            WantDown(),
            STOPPING,
            [pub(State.RUNNING, STOPPING), SetDeadline(12), StopGracefully("TERM")],
        ),
        (12, DeadlineReached(), STOPPING, [SetDeadline(17), SignalGroup("KILL")]),
        (
            12.5,
            Exited(ExitStatus(signal="KILL")),
            STOPPED,
            [
                Record(
                    RecordKind.KILLED,
                    Outcome.KILLED,
                    ExitStatus(signal="KILL"),
                    "needed SIGKILL: group alive 10 s after SIGTERM",
                    1,
                ),
                Publish(STOPPING, STOPPED),
                ClearDeadline(),
            ],
        ),
    ]
    play(GRACEFUL, script)


def test_a_restart_and_a_stop_right_after_the_spawn_begin_gracefully() -> None:
    snap = play(GRACEFUL, RUN)
    _, effects = step(GRACEFUL, snap, Restart(), now=2)
    assert StopGracefully("TERM") in effects
    snap, effects = step(GRACEFUL, Snapshot(), WantUp(), now=0)
    assert Spawn() in effects
    snap, _ = step(GRACEFUL, snap, WantDown(), now=0)
    after, effects = step(GRACEFUL, snap, Spawned(pid=7, pgid=7, run_id=1), now=0)
    check_step(snap, after, effects)
    assert effects[-1] == StopGracefully("TERM")


def test_a_group_outliving_its_leader_and_a_watchdog_get_their_signal() -> None:
    snap = play(GRACEFUL, RUN)
    after, effects = step(GRACEFUL, snap, Exited(ExitStatus(code=1), group_alive=True), now=2)
    assert after.state is STOPPING
    assert effects[-1] == SignalGroup("TERM")
    watched = Policy(graceful_stop=True, watchdog=5.0)
    snap = play(
        watched,
        [
            *RUN[:2],
            (1, DeadlineReached(), State.RUNNING, [pub(STARTING, State.RUNNING), SetDeadline(6.0)]),
        ],
    )
    _, effects = step(watched, snap, WatchdogFired(), now=2)
    assert effects[-1] == SignalGroup("ABRT")
