"""The handlers the transition table names, and the few moves they share.

Each handler takes the context (policy and ``now``), the snapshot and its event, and answers
with a ``Result``. They are called only through ``table.TRANSITIONS``, which guarantees the
state and the event type; the conditions they still check are written out in ``table.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from msgspec.structs import replace

from supervisord_lite.lifecycle.effects import (
    Effect,
    Outcome,
    Record,
    RecordKind,
    SignalGroup,
    Spawn,
    StopGracefully,
)
from supervisord_lite.lifecycle.events import (
    Exited,
    ExtendTimeout,
    LifecycleError,
    OverMemory,
    Spawned,
    SpawnFailed,
    Unhealthy,
)
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


@dataclass(frozen=True, slots=True)
class Context:
    """What every handler may read besides the snapshot; ``draw`` (0 to 1) is the random part
    of a backoff's jitter."""

    policy: Policy
    now: float
    draw: float = 0.0


Result: TypeAlias = tuple[Snapshot, tuple[Effect, ...], tuple[State, ...]]
"""A handler's answer: the new snapshot, its effects, and states passed through on the way."""


def _same(snap: Snapshot) -> Result:
    return snap, (), ()


def _spawn_or_wait(
    c: Context,
    snap: Snapshot,
    effects: tuple[Effect, ...] = (),
    via: tuple[State, ...] = (),
    *,
    delay: float = 0.0,
    floor: bool = True,
) -> Result:
    """Spawn now, or wait in BACKOFF until ``delay`` is over and the spawn floor allows it.

    The floor keeps a program that dies at once from making the supervisor busy-loop; an
    operator's own start or restart (``floor=False``) is not held back by it.
    """
    at = c.now + delay
    if floor and snap.last_spawn_at is not None:
        at = max(at, snap.last_spawn_at + c.policy.spawn_floor)
    if at > c.now:
        return replace(snap, state=State.BACKOFF, deadline=at), effects, via
    spawning = replace(snap, state=State.STARTING, deadline=None, last_spawn_at=c.now)
    return spawning, (*effects, Spawn()), via


def _fatal(
    snap: Snapshot, message: str, effects: tuple[Effect, ...], via: tuple[State, ...]
) -> Result:
    """Give up: FATAL, recorded with why, and nothing spawned until the operator asks."""
    fatal = replace(snap, state=State.FATAL, deadline=None, message=message)
    return fatal, (*effects, Record(RecordKind.FATAL, reason=message)), via


def _count_failure(c: Context, snap: Snapshot) -> tuple[Snapshot, str]:
    """Count a failure that asks for a restart against the start limit: the snapshot with the
    failure tallied, and "" or, when the restart would pass the limit, why it is FATAL."""
    p = c.policy
    if p.start_limit_burst <= 0:
        return snap, ""
    recent = tuple(t for t in snap.failures if t > c.now - p.start_limit_interval)
    if len(recent) >= p.start_limit_burst:
        why = (
            f"start limit reached: {len(recent) + 1} failures within "
            f"{p.start_limit_interval:g} s (start_limit.burst = {p.start_limit_burst})"
        )
        return replace(snap, failures=recent), why
    return replace(snap, failures=(*recent, c.now)[-p.start_limit_burst :]), ""


def _permafailed(c: Context, snap: Snapshot) -> str:
    """Why the program has failed for good by its ``permafail`` rule, or ""."""
    rule = c.policy.permafail
    if rule is None:
        return ""
    since = snap.fresh_at if snap.fresh_at is not None else float("-inf")
    return rule.judge(snap.deaths, now=c.now, since=since)


def _failed_start(
    c: Context, snap: Snapshot, why: str, effects: tuple[Effect, ...], via: tuple[State, ...] = ()
) -> Result:
    """Count a failed start: back off and try again, or give up as FATAL."""
    p = c.policy
    retries = snap.retries + 1
    permanent = _permafailed(c, snap)
    if permanent:
        return _fatal(replace(snap, retries=retries), permanent, effects, via)
    if p.start_retries is not None and retries > p.start_retries:
        message = f"{why} ({p.start_retries} retries)"
        return _fatal(replace(snap, retries=retries), message, effects, via)
    counted, limited = _count_failure(c, replace(snap, retries=retries))
    if limited:
        return _fatal(counted, limited, effects, via)
    of = f" of {p.start_retries}" if p.start_retries is not None else ""
    waiting = replace(counted, message=f"{why}, retry {retries}{of}")
    delay = p.backoff(retries, c.draw)
    return _spawn_or_wait(c, waiting, effects, (*via, State.BACKOFF), delay=delay)


def _crashes(c: Context, snap: Snapshot, status: ExitStatus) -> int:
    """The crashes in a row once the run that reached RUNNING ends with ``status``: none after
    a run that lived ``backoff_reset`` seconds, one more after a failed exit sooner."""
    p = c.policy
    lived = c.now - snap.spawned_at if snap.spawned_at is not None else 0.0
    if lived >= p.backoff_reset:
        return 0
    return snap.crashes + (0 if p.expects(status) else 1)


def _restart_exited(
    c: Context, exited: Snapshot, status: ExitStatus, records: tuple[Effect, ...]
) -> Result:
    """The restart of an EXITED program ``autorestart`` asked for: at once (the spawn floor
    aside) after an expected exit, after ``backoff(crashes)`` after a crash, FATAL past the
    start limit."""
    p = c.policy
    permanent = _permafailed(c, exited)
    if permanent:
        return _fatal(exited, permanent, records, (State.EXITED,))
    if p.expects(status):
        return _spawn_or_wait(c, exited, records, (State.EXITED,))
    counted, limited = _count_failure(c, exited)
    if limited:
        return _fatal(counted, limited, records, (State.EXITED,))
    delay = p.backoff(counted.crashes, c.draw) if counted.crashes else 0.0
    return _spawn_or_wait(c, counted, records, (State.EXITED,), delay=delay)


def _begin_stop(c: Context, snap: Snapshot) -> Result:
    """Enter STOPPING; signal the group unless it already was, or no group exists yet (the
    program's own way, ``StopGracefully``, while its leader lives and it has one)."""
    stopping = replace(snap, state=State.STOPPING)
    if snap.pgid is None or snap.stop_phase is not StopPhase.NONE:
        return _same(stopping)
    signalled = replace(
        stopping, stop_phase=StopPhase.SIGNALLED, deadline=c.now + c.policy.stop_timeout
    )
    signal = c.policy.stop_signal
    if c.policy.graceful_stop and snap.pid is not None:
        return signalled, (StopGracefully(signal),), ()
    return signalled, (SignalGroup(signal),), ()


def _end(c: Context, snap: Snapshot, status: ExitStatus) -> Result:
    """The run is over (leader reaped, group empty): record its one outcome, then go on."""
    p = c.policy
    cause = snap.exited_from
    if snap.stop_phase in (StopPhase.KILLED, StopPhase.UNKILLABLE):
        kind, outcome = RecordKind.KILLED, Outcome.KILLED
        reason = f"needed SIGKILL: group alive {p.stop_timeout:g} s after SIG{p.stop_signal}"
        reason = f"{snap.ending}; {reason}" if snap.ending else reason
    elif snap.ending:
        kind, outcome, reason = RecordKind.EXITED, Outcome.FAILED, snap.ending
    elif cause is None:
        kind, outcome, reason = RecordKind.STOPPED, Outcome.STOPPED, ""
    else:
        kind = RecordKind.EXITED
        outcome = Outcome.COMPLETED if p.expects(status) else Outcome.FAILED
        reason = "exited too quickly" if cause is State.STARTING else ""
    records: tuple[Effect, ...] = (Record(kind, outcome, status, reason, snap.run_id),)
    over = replace(
        snap,
        pid=None,
        pgid=None,
        run_id=None,
        spawned_at=None,
        deadline=None,
        stop_phase=StopPhase.NONE,
        leader_exit=None,
        exited_from=None,
        restart_pending=False,
        message=reason,
        ending="",
    )
    if snap.want is Want.DOWN:
        return replace(over, state=State.STOPPED), records, ()
    if snap.restart_pending:
        restarted = Record(RecordKind.RESTARTED, run_id=snap.run_id)
        passed = State.STOPPED if cause is None else State.EXITED
        # A restart the daemon decided (unhealthy, over its memory) keeps the spawn floor.
        floor = bool(snap.ending)
        return _spawn_or_wait(c, over, (*records, restarted), (passed,), floor=floor)
    if cause is None:
        return _spawn_or_wait(c, over, records, (State.STOPPED,), floor=False)
    if cause is State.STARTING:
        return _failed_start(c, over, snap.ending or "exited too quickly", records)
    exited = replace(
        over, state=State.EXITED, message=status.describe(), crashes=_crashes(c, snap, status)
    )
    if p.restarts_after(status):
        return _restart_exited(c, exited, status, records)
    return exited, records, ()


def _running(c: Context, snap: Snapshot) -> Snapshot:
    """RUNNING (ready): retries cleared, and the watchdog armed for programs that have one."""
    watchdog = c.policy.watchdog
    deadline = c.now + watchdog if watchdog is not None else None
    return replace(snap, state=State.RUNNING, retries=0, deadline=deadline, message="")


def start(c: Context, snap: Snapshot, _: object) -> Result:
    """The operator wants it up: a new series of start attempts, retries from 0, at once."""
    return _spawn_or_wait(c, _fresh(c, replace(snap, want=Want.UP)), floor=False)


def _fresh(c: Context, snap: Snapshot) -> Snapshot:
    """A new series of starts: no failed start, crash, failure or death counted any more."""
    return replace(snap, retries=0, crashes=0, failures=(), message="", fresh_at=c.now)


def launch(c: Context, snap: Snapshot, _: object) -> Result:
    """Spawn now if the floor allows (a backoff cut short by the operator, or over)."""
    return _spawn_or_wait(c, replace(snap, want=Want.UP))


def stop(c: Context, snap: Snapshot, _: object) -> Result:
    """The operator wants it down: signal the group, or wait for the Spawn in flight."""
    return _begin_stop(c, replace(snap, want=Want.DOWN, restart_pending=False))


def restart(c: Context, snap: Snapshot, _: object) -> Result:
    """Stop the run, remembering to spawn again once it is over."""
    return _begin_stop(c, replace(snap, restart_pending=True))


def drop(c: Context, snap: Snapshot, _: object) -> Result:
    """Nothing runs: STOPPED at once, any backoff timer disarmed."""
    return _same(replace(snap, state=State.STOPPED, want=Want.DOWN, deadline=None, message=""))


def up_later(c: Context, snap: Snapshot, _: object) -> Result:
    """A stop is under way: spawn again once it is over, as a fresh series."""
    if snap.want is Want.UP:
        return _same(snap)
    return _same(_fresh(c, replace(snap, want=Want.UP)))


def down_later(c: Context, snap: Snapshot, _: object) -> Result:
    """A stop is under way: stay down once it is over, whatever was asked before."""
    return _same(replace(snap, want=Want.DOWN, restart_pending=False))


def restart_later(c: Context, snap: Snapshot, event: object) -> Result:
    """A stop is under way: spawn again once it is over, recorded as a restart."""
    wanted, _, _ = up_later(c, snap, event)
    return _same(replace(wanted, restart_pending=True))


def track(c: Context, snap: Snapshot, event: Spawned) -> Result:
    """A run began: track it as a start, or stop it at once if it is not wanted."""
    if snap.pgid is not None:
        raise LifecycleError(
            f"Spawned(pid={event.pid}) while group {snap.pgid} (run {snap.run_id}) is tracked"
        )
    run = replace(snap, pid=event.pid, pgid=event.pgid, run_id=event.run_id, spawned_at=c.now)
    record = Record(RecordKind.SPAWNED, run_id=event.run_id)
    if snap.want is Want.DOWN or snap.restart_pending:
        stopping, effects, via = _begin_stop(c, run)
        return stopping, (record, *effects), via
    if c.policy.ready_probe:
        starting = replace(run, state=State.STARTING, deadline=c.now + c.policy.start_timeout)
        return starting, (record,), ()
    if c.policy.start_seconds <= 0:
        return _running(c, run), (record,), (State.STARTING,)
    starting = replace(run, state=State.STARTING, deadline=c.now + c.policy.start_seconds)
    return starting, (record,), ()


def fail(c: Context, snap: Snapshot, event: SpawnFailed) -> Result:
    """The Spawn in flight made no process: a failed start, unless down is wanted."""
    if snap.pgid is not None:
        return _same(snap)
    why = f"could not spawn: {event.reason}"
    record: tuple[Effect, ...] = (Record(RecordKind.SPAWN_FAILED, reason=event.reason),)
    if snap.want is Want.DOWN:
        return replace(snap, state=State.STOPPED, restart_pending=False, message=why), record, ()
    return _failed_start(c, replace(snap, restart_pending=False), why, record)


def reap(c: Context, snap: Snapshot, event: Exited) -> Result:
    """The leader was reaped: end the run, or stop what is left of its group first."""
    if snap.pgid is None:
        return _same(snap)
    if snap.pid is None:
        if event.group_alive:
            return _same(snap)
        return _end(c, snap, snap.leader_exit or event.status)
    stopped = snap.state is State.STOPPING
    deaths = (*snap.deaths, Death(c.now, event.status, stopped))[-DEATH_TALLY:]
    reaped = replace(snap, pid=None, last_exit=event.status, deaths=deaths)
    if snap.state is not State.STOPPING:
        reaped = replace(reaped, exited_from=snap.state)
    if not event.group_alive:
        return _end(c, reaped, event.status)
    message = f"leader {event.status.describe()}; stopping the rest of its group"
    return _begin_stop(c, replace(reaped, leader_exit=event.status, message=message))


def finish(c: Context, snap: Snapshot, _: object) -> Result:
    """The group outlived its leader and is gone now: end the run with the leader's exit."""
    if snap.leader_exit is None:
        return _same(snap)
    return _end(c, snap, snap.leader_exit)


def ready(c: Context, snap: Snapshot, _: object) -> Result:
    """Start succeeded (ready, or alive for start_seconds): RUNNING, retries cleared."""
    if snap.pgid is None:
        return _same(snap)
    return _same(_running(c, snap))


def start_deadline(c: Context, snap: Snapshot, event: object) -> Result:
    """STARTING's timer: alive ``start_seconds`` is ready; with a probe, not ready in time is a
    failed start, and the run is stopped to end it."""
    if not c.policy.ready_probe:
        return ready(c, snap, event)
    ending = f"not ready within {c.policy.start_timeout:g} s"
    return _begin_stop(c, replace(snap, exited_from=State.STARTING, ending=ending, message=ending))


def extend(c: Context, snap: Snapshot, event: ExtendTimeout) -> Result:
    """The program asks for more time to get ready: the start timeout moves, never closer."""
    if not c.policy.ready_probe or snap.deadline is None:
        return _same(snap)
    return _same(replace(snap, deadline=max(snap.deadline, c.now + event.seconds)))


def keep_alive(c: Context, snap: Snapshot, _: object) -> Result:
    """``WATCHDOG=1``: the watchdog starts over."""
    if c.policy.watchdog is None or snap.pgid is None:
        return _same(snap)
    return _same(replace(snap, deadline=c.now + c.policy.watchdog))


def watchdog(c: Context, snap: Snapshot, _: object) -> Result:
    """The watchdog fired: the run is ended with ``watchdog_signal`` (then the usual
    escalation), and once it is over ``autorestart`` decides, as after any failed exit."""
    if snap.pgid is None or c.policy.watchdog is None:
        return _same(snap)
    ending = f"watchdog timeout: no WATCHDOG=1 within {c.policy.watchdog:g} s"
    stopping = replace(
        snap,
        state=State.STOPPING,
        exited_from=State.RUNNING,
        ending=ending,
        message=ending,
        stop_phase=StopPhase.SIGNALLED,
        deadline=c.now + c.policy.stop_timeout,
    )
    return stopping, (SignalGroup(c.policy.watchdog_signal),), ()


def unhealthy(c: Context, snap: Snapshot, event: Unhealthy) -> Result:
    """The liveness probe gave up on the program: stop the run, then start a new one."""
    if snap.pgid is None:
        return _same(snap)
    ending = f"unhealthy: {event.reason}"
    failing = replace(
        snap, exited_from=State.RUNNING, ending=ending, message=ending, restart_pending=True
    )
    return _begin_stop(c, failing)


def over_memory(c: Context, snap: Snapshot, event: OverMemory) -> Result:
    """The run stayed above ``restart_when.memory``: stop it gracefully (its stop signal, then
    the usual escalation) and start a new one; the run's record carries the figure."""
    if snap.pgid is None:
        return _same(snap)
    ending = (
        f"memory {_mib(event.used)} above restart_when.memory {_mib(event.limit)} ({event.source})"
    )
    failing = replace(
        snap, exited_from=State.RUNNING, ending=ending, message=ending, restart_pending=True
    )
    return _begin_stop(c, failing)


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


def escalate(c: Context, snap: Snapshot, _: object) -> Result:
    """A stop timed out: SIGKILL the group, or, after SIGKILL, report that it failed."""
    p = c.policy
    if snap.stop_phase is StopPhase.SIGNALLED:
        killing = replace(snap, stop_phase=StopPhase.KILLED, deadline=c.now + p.kill_timeout)
        return killing, (SignalGroup("KILL"),), ()
    if snap.stop_phase is StopPhase.KILLED:
        reason = f"could not kill: group still alive {p.kill_timeout:g} s after SIGKILL"
        record = Record(RecordKind.KILL_FAILED, reason=reason, run_id=snap.run_id)
        given_up = replace(snap, stop_phase=StopPhase.UNKILLABLE, message="could not kill")
        return given_up, (record,), ()
    return _same(snap)
