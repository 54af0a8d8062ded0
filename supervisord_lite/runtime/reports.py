"""What a lifecycle step reports to the rest of the daemon: a ``Record`` as the store operation
that writes it, a transition as the event subscribers get and as the daemon's log line. Pure
functions; the runner hands their results on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervisord_lite import lifecycle as lc
from supervisord_lite.protocol.messages import EventChange, Progress, StateChanged
from supervisord_lite.store_records import EventRecorded, RunEnded, RunStarted, StoreOp

if TYPE_CHECKING:
    from collections.abc import Callable


def store_op(
    program: str,
    record: lc.Record,
    before: lc.Snapshot,
    after: lc.Snapshot,
    *,
    at: float,
    start_time: Callable[[int], float | None],
) -> StoreOp:
    """The store operation of a lifecycle record; ``start_time`` reads a new leader's creation
    time (kept so a later daemon tells it from a process that reused the pid)."""
    run_id = record.run_id
    pid = after.pid if after.pid is not None else before.pid
    pgid = after.pgid if after.pgid is not None else before.pgid
    exit_ = record.exit
    if record.kind is lc.RecordKind.SPAWNED and run_id is not None and pid is not None:
        return RunStarted(
            run_id=run_id,
            program=program,
            pid=pid,
            pgid=pgid if pgid is not None else pid,
            at=at,
            start_time=start_time(pid),
        )
    if record.outcome is not None and run_id is not None:
        return RunEnded(
            run_id=run_id,
            program=program,
            outcome=record.outcome,
            at=at,
            exit_code=exit_.code if exit_ else None,
            exit_signal=exit_.signal if exit_ else None,
            reason=record.reason or record.kind.value,
        )
    return EventRecorded(
        program=program,
        kind=record.kind.value,
        at=at,
        run_id=run_id,
        pid=pid,
        pgid=pgid,
        exit_code=exit_.code if exit_ else None,
        exit_signal=exit_.signal if exit_ else None,
        reason=record.reason,
    )


def run_event(
    program: str,
    snap: lc.Snapshot,
    kind: str,
    *,
    at: float,
    reason: str,
    exit_code: int | None = None,
    exit_signal: str | None = None,
) -> EventRecorded:
    """A history record of something that happened to a program's current run (a hook, a
    signal, a watch's check, a skipped schedule): the run, pid and group come from ``snap``."""
    return EventRecorded(
        program=program,
        kind=kind,
        at=at,
        run_id=snap.run_id,
        pid=snap.pid,
        pgid=snap.pgid,
        exit_code=exit_code,
        exit_signal=exit_signal,
        reason=reason,
    )


def noted(
    program: str,
    snap: lc.Snapshot,
    change: EventChange,
    message: str,
    *,
    at: float,
    progress: Progress | None = None,
) -> StateChanged:
    """The event for a change of the program other than its state (health, a hook, a watch
    check, progress, dropped output...): its state is the same before and after."""
    return state_changed(
        program,
        snap.state,
        snap.state,
        snap,
        at=at,
        change=change,
        message=message,
        progress=progress,
    )


def state_changed(
    program: str,
    old: lc.State,
    new: lc.State,
    snap: lc.Snapshot,
    *,
    at: float,
    change: EventChange = "state",
    message: str | None = None,
    progress: Progress | None = None,
    ended: lc.ExitStatus | None = None,
    pid: int | None = None,
) -> StateChanged:
    """The event subscribers get for a transition (or, with ``change``, for a change of health
    or of what the program waits for, in ``message``). An event carries its own fields only:
    ``ended`` is the exit of the run whose end this transition is (None for any other), and
    ``pid`` the process it is about (the snapshot's when not given)."""
    return StateChanged(
        program=program,
        old=old,
        new=new,
        pid=snap.pid if pid is None else pid,
        exit_code=ended.code if ended else None,
        exit_signal=ended.signal if ended else None,
        at=at,
        message=snap.message if message is None else message,
        change=change,
        progress=progress,
    )


def describe_transition(old: lc.State, new: lc.State, snap: lc.Snapshot) -> str:
    """``OLD -> NEW`` for the daemon's log, with the pid, or the exit after an exit."""
    last = snap.last_exit
    detail = f" (pid {snap.pid})" if snap.pid is not None else ""
    if new in (lc.State.EXITED, lc.State.BACKOFF, lc.State.FATAL) and last is not None:
        detail = f" ({last.describe()})"
    suffix = f": {snap.message}" if snap.message else ""
    return f"{old} -> {new}{detail}{suffix}"
