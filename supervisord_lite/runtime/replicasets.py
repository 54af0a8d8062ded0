"""Replicated programs at run time: how many instances run, and restarting them in turn.

A replicated program (replicas.py) is a set of ordinary runners named ``NAME:i``. Scaling adds
instances at the next indices and starts them, or stops the highest indices first and forgets
them; the count is kept in the state store (``ReplicasSet``) so a daemon restart runs as many,
until the config's ``replicas`` itself changes. A rolling restart restarts ``max_unavailable``
instances at a time and waits for each batch to be ready (RUNNING: ready by its probe, or alive
``start_seconds``) before the next; an instance that does not get there stops the roll, and the
instances not restarted yet keep running. A reload that must restart a replicated program
replaces its instances the same way when the program says ``rolling = true``.

Each function here reshapes the Supervisor's runners and is called with its reshaping lock held.
"""

from __future__ import annotations

import functools
import itertools
from typing import TYPE_CHECKING

from supervisord_lite import lifecycle as lc
from supervisord_lite.errors import BadRequest, NoSuchProgram
from supervisord_lite.protocol.messages import ActionResult
from supervisord_lite.replicas import instance, instances, program_of
from supervisord_lite.runtime import runner_requests
from supervisord_lite.runtime.concurrently import gather
from supervisord_lite.runtime.daemonlog import log
from supervisord_lite.store_records import EventRecorded, ReplicasSet

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from supervisord_lite.config import ProgramConfig
    from supervisord_lite.runtime.program import ProgramRunner
    from supervisord_lite.runtime.supervisor import Supervisor

__all__ = ["forget", "replace", "restore", "rolling_restart", "scale", "scale_to"]


def template(sup: Supervisor, name: str) -> ProgramConfig:
    """The config of replicated program ``name``.

    Raises:
        NoSuchProgram: no program has that name.
        BadRequest: the program is not replicated.
    """
    program = sup.config.programs.get(name)
    if program is None:
        raise NoSuchProgram([name], sup.known_names())
    if program.replicas is None:
        raise BadRequest(f"{name!r} is not replicated: give it replicas = N in the config")
    return program


async def scale(sup: Supervisor, name: str, count: int, *, wait: bool) -> tuple[ActionResult, ...]:
    """``svctl scale NAME N``: run ``count`` instances of ``name``, kept across daemon restarts.

    Raises:
        NoSuchProgram, BadRequest: see ``template``.
    """
    program = template(sup, name)
    before = len(sup.instances_of(name))
    results = await scale_to(sup, program, count, wait=wait)
    if count != before:
        _keep(sup, program, count, f"scaled from {before} to {count} instances")
    return results


async def scale_to(
    sup: Supervisor, program: ProgramConfig, count: int, *, wait: bool = True
) -> tuple[ActionResult, ...]:
    """Add instances (started) or stop the highest ones (forgotten) until ``count`` run."""
    running = sup.instances_of(program.name)
    if count < len(running):
        doomed = running[count:]

        async def remove(runner: ProgramRunner) -> ActionResult:
            result = await sup.retire_runner(runner)
            sup.intents.forget(runner.name)
            return ActionResult(
                name=runner.name, ok=result.ok, state=result.state, message="removed"
            )

        results = await gather([functools.partial(remove, r) for r in reversed(doomed)])
        sup.gate.refresh()
        return tuple(results)
    added = [sup.add(instance(program, i)) for i in range(len(running), count)]
    sup.gate.refresh()
    for runner in added:
        sup.intents.record(runner.name, lc.Want.UP)
    started = await gather(
        [functools.partial(runner_requests.start_one, sup, r, wait) for r in added]
    )
    return tuple(
        ActionResult(name=r.name, ok=r.ok, state=r.state, message="added") for r in started
    )


def _keep(sup: Supervisor, program: ProgramConfig, count: int, why: str) -> None:
    """Record the count (kept for the next daemon) and the event (in the history)."""
    sup.store.submit(
        ReplicasSet(program=program.name, count=count, config_count=program.replicas or 0)
    )
    at = sup.services.wall_clock()
    sup.store.submit(EventRecorded(program=program.name, kind="scaled", at=at, reason=why))
    log.info("%s: %s", program.name, why)


def forget(sup: Supervisor, name: str) -> None:
    """A replicated program left the config: its kept count goes."""
    sup.store.submit(ReplicasSet(program=name, count=None))


def restore(sup: Supervisor, kept: Mapping[str, tuple[int, int]]) -> None:
    """Before the first start: run as many instances as were kept, for each program whose
    config ``replicas`` is still the one the count was decided against."""
    for name, (count, decided_against) in kept.items():
        program = sup.config.programs.get(name)
        if program is None or program.replicas != decided_against:
            continue
        running = sup.instances_of(name)
        if count == len(running):
            continue
        for runner in running[count:]:
            runner.retire()
            del sup.runners[runner.name]
        for i in range(len(running), count):
            sup.add(instance(program, i))
        log.info("%s: %d instances, as scaled before the daemon restarted", name, count)
    sup.gate.refresh()


async def rolling_restart(
    sup: Supervisor, runners: Sequence[ProgramRunner], max_unavailable: int | None
) -> tuple[ActionResult, ...]:
    """Restart ``runners`` (grouped by program, in order) ``max_unavailable`` at a time (the
    program's own ``max_unavailable`` when None), each batch ready before the next; stop at
    the first that fails, the rest untouched and reported so."""
    results: list[ActionResult] = []
    batches: list[list[ProgramRunner]] = []
    for _, group in itertools.groupby(runners, key=lambda r: program_of(r.name)):
        members = list(group)
        size = max_unavailable or members[0].program.max_unavailable
        batches.extend(members[i : i + size] for i in range(0, len(members), size))
    for n, batch in enumerate(batches):
        done = await gather([functools.partial(runner_requests.restart_one, sup, r) for r in batch])
        results.extend(done)
        failed = [r.name for r in done if not r.ok]
        if failed:
            why = f"not restarted: {', '.join(failed)} did not get ready"
            results.extend(
                ActionResult(name=r.name, ok=False, state=r.snapshot.state, message=why)
                for later in batches[n + 1 :]
                for r in later
            )
            log.error("rolling restart stopped: %s", why.removeprefix("not restarted: "))
            break
    return tuple(results)


async def replace(
    sup: Supervisor, old: ProgramConfig, new: ProgramConfig, *, restart: bool
) -> None:
    """A reload of replicated program ``new`` (``old`` was running): its instances take the
    new settings (in place, or by restarting them, rolling with ``rolling = true``), then the
    count follows a changed ``replicas``."""
    runners = sup.instances_of(new.name)
    if old.replicas is None or new.replicas is None:
        await _swap_all(sup, new)
        return
    configs = {r.name: instance(new, i) for i, r in enumerate(runners)}
    if not restart:
        for runner in runners:
            runner.update(configs[runner.name])
    elif new.rolling:
        for start in range(0, len(runners), new.max_unavailable):
            batch = runners[start : start + new.max_unavailable]
            fresh = await gather([functools.partial(_replace_one, sup, r, configs) for r in batch])
            up = [f for f in fresh if f.snapshot.want is lc.Want.UP]
            ready = await sup.wait_ready([f.name for f in up]) if up else ()
            failed = [r.name for r in ready if not r.ok]
            if failed:
                left = [r.name for r in runners[start + len(batch) :]]
                log.error(
                    "reload: rolling restart of %s stopped: %s did not get ready;"
                    " still on the previous config: %s",
                    new.name,
                    ", ".join(failed),
                    ", ".join(left) or "none",
                )
                return
    else:
        await gather([functools.partial(_replace_one, sup, r, configs) for r in runners])
    if old.replicas != new.replicas:
        await scale_to(sup, new, new.replicas)
        _keep(sup, new, new.replicas, f"replicas {old.replicas} -> {new.replicas} (reload)")


async def _replace_one(
    sup: Supervisor, runner: ProgramRunner, configs: Mapping[str, ProgramConfig]
) -> ProgramRunner:
    await sup.replace_runner(runner, configs[runner.name])
    return sup.runners[runner.name]


async def _swap_all(sup: Supervisor, new: ProgramConfig) -> None:
    """Replicas turned on or off: the old runners go, the new ones (other names) come."""
    old = [r for r in sup.runners.values() if program_of(r.name) == new.name]
    was_up = any(r.snapshot.want is lc.Want.UP for r in old)
    await gather([functools.partial(sup.retire_runner, r) for r in old])
    fresh = [sup.add(each) for each in instances(new)]
    sup.gate.refresh()
    for runner in fresh:
        if sup.intents.wants_up(runner.program, was_up=was_up):
            sup.gate.want_up(runner)
