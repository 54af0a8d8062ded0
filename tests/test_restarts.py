"""Restart behaviour in the pure core: the backoff with jitter, infinite retries, the permanent
failure rule, and the restart of a run over its memory, each stepped with ``now`` by hand."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supervisord_lite.lifecycle import (
    DeadlineReached,
    Death,
    Event,
    Exited,
    ExitStatus,
    Outcome,
    OverMemory,
    Permafail,
    Policy,
    Record,
    RecordKind,
    Restart,
    SignalGroup,
    Snapshot,
    Spawn,
    Spawned,
    SpawnFailed,
    State,
    WantUp,
    backoff_delay,
    step,
)

EXIT3, EXIT0 = ExitStatus(code=3), ExitStatus(code=0)
SEGV, TERM = ExitStatus(signal="SEGV"), ExitStatus(signal="TERM")


class Run:
    """A program stepped by hand: ``send`` steps it, answering each Spawn with a new run
    (with a SpawnFailed while ``spawn_ok`` is false)."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.snap = Snapshot()
        self.now = 0.0
        self.run_id = 0
        self.effects: list[object] = []
        self.spawn_ok = True

    def send(self, event: Event, *, at: float | None = None, draw: float = 0.0) -> Snapshot:
        if at is not None:
            self.now = at
        self.snap, effects = step(self.policy, self.snap, event, now=self.now, draw=draw)
        self.effects.extend(effects)
        if any(isinstance(e, Spawn) for e in effects) and not self.spawn_ok:
            self.send(SpawnFailed("nope"))
        elif any(isinstance(e, Spawn) for e in effects):
            self.run_id += 1
            self.send(Spawned(pid=self.run_id, pgid=self.run_id, run_id=self.run_id))
        return self.snap

    def wait_out(self) -> Snapshot:
        """Let the timer fire (a backoff over, a start counted as RUNNING)."""
        assert self.snap.deadline is not None
        return self.send(DeadlineReached(), at=self.snap.deadline)

    def records(self, kind: RecordKind) -> list[Record]:
        return [e for e in self.effects if isinstance(e, Record) and e.kind is kind]


# -- backoff_delay ----------------------------------------------------------------------------


@given(
    initial=st.floats(0.01, 10),
    factor=st.floats(1, 4),
    maximum=st.floats(0.01, 100),
    n=st.integers(1, 2000),
    jitter=st.floats(0, 1),
    draw=st.floats(0, 1, exclude_max=True),
)
def test_a_jittered_delay_lies_between_its_floor_and_its_base(
    initial: float, factor: float, maximum: float, n: int, jitter: float, draw: float
) -> None:
    base = backoff_delay(initial, factor, maximum, n)
    delay = backoff_delay(initial, factor, maximum, n, jitter=jitter, draw=draw)
    assert base <= maximum
    assert base * (1 - jitter) - 1e-9 <= delay <= base


@given(n=st.integers(1, 60), draw=st.floats(0, 1, exclude_max=True))
def test_without_jitter_the_delay_grows_until_its_maximum(n: int, draw: float) -> None:
    a = backoff_delay(1.0, 2.0, 30.0, n, draw=draw)
    b = backoff_delay(1.0, 2.0, 30.0, n + 1, draw=draw)
    assert a <= b <= 30.0
    assert backoff_delay(1.0, 2.0, 30.0, 1) == 1.0


def test_the_defaults_keep_todays_spacing() -> None:
    assert [Policy().backoff(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0]


def test_jitter_shortens_the_backoff_of_a_failed_start() -> None:
    run = Run(Policy(start_seconds=5, backoff_initial=4, backoff_jitter=0.5, spawn_floor=0))
    run.send(WantUp())
    snap = run.send(Exited(EXIT3), at=1.0, draw=0.5)
    assert snap.state is State.BACKOFF
    assert snap.deadline == pytest.approx(1.0 + 4 * (1 - 0.5 * 0.5))


# -- start_retries = "infinite" ---------------------------------------------------------------


def test_infinite_retries_go_on_until_the_start_limit() -> None:
    run = Run(Policy(start_retries=None, start_limit_burst=8, spawn_floor=0, backoff_max=1))
    run.spawn_ok = False
    run.send(WantUp())
    for attempt in range(1, 9):
        assert run.snap.state is State.BACKOFF
        assert run.snap.message == f"could not spawn: nope, retry {attempt}"
        run.wait_out()
    assert run.snap.state is State.FATAL
    assert "start limit reached: 9 failures" in run.snap.message


# -- permafail --------------------------------------------------------------------------------

RULE = Permafail(deaths=3, window=60.0, exit_codes=(3,), signals=("SEGV",))


@pytest.mark.parametrize(
    ("status", "matches"), [(EXIT3, True), (EXIT0, False), (SEGV, True), (TERM, False)]
)
def test_a_death_matches_by_its_code_or_its_signal(status: ExitStatus, matches: bool) -> None:
    assert RULE.matches(status) is matches


def test_the_rule_counts_matching_deaths_of_their_own_within_the_window() -> None:
    deaths = [
        Death(1.0, EXIT3),  # out of the window at 100
        Death(50.0, EXIT3),
        Death(60.0, TERM),  # does not match
        Death(70.0, SEGV, stopped=True),  # the daemon was stopping it
        Death(80.0, SEGV),
    ]
    assert RULE.judge(deaths, now=100.0, since=float("-inf")) == ""
    why = RULE.judge([*deaths, Death(99.0, EXIT3)], now=100.0, since=float("-inf"))
    assert why == (
        "permanent failure: 3 deaths within 60 s by exit 3, signal SEGV (permafail.deaths = 3)"
    )
    assert RULE.judge([*deaths, Death(99.0, EXIT3)], now=100.0, since=60.0) == ""


def crash_after_running(run: Run, status: ExitStatus) -> Snapshot:
    """Let the run reach RUNNING, then have it die with ``status``."""
    run.wait_out()
    assert run.snap.state is State.RUNNING
    return run.send(Exited(status), at=run.now + 1)


def test_permafail_makes_a_crash_loop_fatal_at_once() -> None:
    policy = Policy(
        autorestart="always", start_seconds=1, spawn_floor=0, start_limit_burst=0, permafail=RULE
    )
    run = Run(policy)
    run.send(WantUp())
    crash_after_running(run, EXIT3)
    run.wait_out()  # the crash's backoff
    crash_after_running(run, EXIT0)  # expected: restarted, not counted
    crash_after_running(run, EXIT3)
    run.wait_out()
    snap = crash_after_running(run, SEGV)
    assert snap.state is State.FATAL
    assert snap.message.startswith("permanent failure: 3 deaths within 60 s")
    (fatal,) = run.records(RecordKind.FATAL)
    assert fatal.reason == snap.message


def test_permafail_cuts_a_series_of_failed_starts_short() -> None:
    rule = Permafail(deaths=2, window=60.0, exit_codes=(3,))
    run = Run(Policy(start_retries=10, spawn_floor=0, permafail=rule))
    run.send(WantUp())
    assert run.send(Exited(EXIT3), at=0.5).state is State.BACKOFF
    run.wait_out()
    assert run.send(Exited(EXIT3), at=run.now + 0.5).state is State.FATAL


def test_an_operators_start_starts_the_count_over() -> None:
    rule = Permafail(deaths=2, window=60.0, exit_codes=(3,))
    run = Run(Policy(start_retries=10, spawn_floor=0, permafail=rule))
    run.send(WantUp())
    run.send(Exited(EXIT3), at=0.5)
    run.wait_out()
    assert run.send(Exited(EXIT3), at=run.now + 0.5).state is State.FATAL
    run.send(WantUp(), at=run.now + 1)
    assert run.send(Exited(EXIT3), at=run.now + 0.5).state is State.BACKOFF


def test_deaths_of_requested_restarts_do_not_count() -> None:
    rule = Permafail(deaths=1, window=60.0, signals=("TERM",))
    run = Run(Policy(autorestart="always", spawn_floor=0, permafail=rule))
    run.send(WantUp())
    run.wait_out()
    run.send(Restart(), at=5.0)
    assert run.send(Exited(TERM)).state is State.STARTING


# -- restart_when.memory ----------------------------------------------------------------------


def test_a_run_over_its_memory_is_stopped_gracefully_and_started_again() -> None:
    run = Run(Policy(stop_signal="INT", spawn_floor=1.0))
    run.send(WantUp())
    run.wait_out()
    over = OverMemory(used=600 << 20, limit=512 << 20, source="sampled")
    snap = run.send(over, at=10.0)
    assert snap.state is State.STOPPING
    assert SignalGroup("INT") in run.effects
    snap = run.send(Exited(ExitStatus(signal="INT")), at=10.5)
    (ended,) = run.records(RecordKind.EXITED)
    assert ended.reason == "memory 600.0 MiB above restart_when.memory 512.0 MiB (sampled)"
    assert ended.outcome is Outcome.FAILED
    assert run.records(RecordKind.RESTARTED)
    # The run lived 9.5 s: the spawn floor allows a new one at once.
    assert snap.state is State.STARTING


def test_a_memory_restart_keeps_the_spawn_floor() -> None:
    run = Run(Policy(start_seconds=0, spawn_floor=5.0))
    run.send(WantUp())
    assert run.snap.state is State.RUNNING
    run.send(OverMemory(used=2 << 20, limit=1 << 20, source="cgroup"), at=1.0)
    snap = run.send(Exited(TERM), at=1.5)
    assert snap.state is State.BACKOFF
    assert snap.deadline == 5.0


def test_over_memory_is_heard_only_while_running() -> None:
    run = Run(Policy(start_seconds=5))
    run.send(WantUp())
    before = run.snap
    assert run.send(OverMemory(used=2, limit=1, source="cgroup")) is before
