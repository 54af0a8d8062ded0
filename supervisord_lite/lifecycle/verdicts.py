"""Whether an operator's start, stop or restart has succeeded, decided from the states the
program passes through after it, as they happen.

A request wants the program up (start, restart) or down (stop). From the step that carries the
request's event on, ``judge`` is given every step's states entered, in order, and the snapshot
after the step; the first state that answers the request settles it:

    goal   state     verdict
    UP     RUNNING   ok: "running"
    UP     FATAL     failed: the snapshot's message (retries or start limit exhausted)
    UP     EXITED    ok when the exit was expected (``Policy.expects``), with the exit
    UP     STOPPED   failed, when down is wanted after the step: "stopped before it was running"
    DOWN   STOPPED   ok: "stopped"
    DOWN   any state but STOPPING and STOPPED:
                     failed: "started again before it stopped" (a later start won)

Other states answer nothing yet (STARTING, BACKOFF, STOPPING; STOPPED on a restart's way up).
After the states, a stop that gave up (``StopPhase.UNKILLABLE``) settles any request as failed:
"could not kill". Because only steps from the request's own on are judged, a state entered for
an earlier request (a stop queued before this start) never answers this one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from supervisord_lite.lifecycle.states import Policy, Snapshot, State, StopPhase, Want

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["Verdict", "judge"]


class Verdict(msgspec.Struct, frozen=True, kw_only=True):
    """How a request ended: ``ok``, the ``state`` that settled it, and a message for people."""

    ok: bool
    state: State
    message: str


def _answer(goal: Want, state: State, snap: Snapshot, policy: Policy) -> Verdict | None:
    if goal is Want.DOWN:
        if state is State.STOPPED:
            return Verdict(ok=True, state=state, message="stopped")
        if state is State.STOPPING:
            return None
        return Verdict(ok=False, state=state, message="started again before it stopped")
    if state is State.RUNNING:
        return Verdict(ok=True, state=state, message="running")
    if state is State.FATAL:
        return Verdict(ok=False, state=state, message=snap.message or "fatal")
    if state is State.EXITED and snap.last_exit is not None:
        return Verdict(
            ok=policy.expects(snap.last_exit), state=state, message=snap.last_exit.describe()
        )
    if state is State.STOPPED and snap.want is Want.DOWN:
        return Verdict(ok=False, state=state, message="stopped before it was running")
    return None


def judge(goal: Want, entered: Sequence[State], snap: Snapshot, policy: Policy) -> Verdict | None:
    """The verdict on a request for ``goal`` after one step, or None while it is not settled.

    ``entered`` are the states the step passed into, in order (its ``Publish`` effects' new
    states; empty when the state did not change), ``snap`` the snapshot after the step.
    """
    for state in entered:
        verdict = _answer(goal, state, snap, policy)
        if verdict is not None:
            return verdict
    if snap.stop_phase is StopPhase.UNKILLABLE:
        return Verdict(ok=False, state=snap.state, message=snap.message or "could not kill")
    return None
