"""A reload at run time: the new config checked, and its plan (reloadplan.py) carried out.

The running programs take the plan: added ones start (with ``autostart``), removed ones stop
and are forgotten, changed ones restart or take their settings in place; replicated programs
are replaced through replicasets.py. ``[daemon]`` settings apply live or wait for a daemon
restart, as reloadplan.py classifies them. A config that is refused leaves the running one in
force, and the refusal is in the daemon's log whoever asked.

Each function here reshapes the Supervisor's runners and is called with its reshaping lock held.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import msgspec
import trio

from supervisord_lite.config import Config, load_path
from supervisord_lite.errors import ConfigError
from supervisord_lite.protocol.messages import DaemonEvent
from supervisord_lite.reloadplan import DAEMON_FIELDS, plan
from supervisord_lite.replicas import instances
from supervisord_lite.runtime import replicasets, runner_requests
from supervisord_lite.runtime.attributes import host_problems
from supervisord_lite.runtime.daemonlog import log

if TYPE_CHECKING:
    from supervisord_lite.config import DaemonConfig
    from supervisord_lite.reloadplan import ProgramPlan, ReloadPlan
    from supervisord_lite.runtime.supervisor import Supervisor
    from supervisord_lite.store import Store

__all__ = ["reload"]


async def reload(sup: Supervisor, *, dry_run: bool = False) -> ReloadPlan:
    """Re-read the config file, work out the plan (reloadplan.py) and, unless ``dry_run``,
    carry it out: added programs start (with ``autostart``), removed ones stop, changed
    ones with a ``restart`` change restart (keeping whether the operator wanted them up),
    the others take their new settings in place; ``live`` ``[daemon]`` settings apply,
    ``daemon-restart`` ones keep their running value.

    Raises:
        ConfigError: the new file is invalid; the running config stays in force (and the
            refusal is in the daemon's log, whoever asked).
    """
    try:
        new = await trio.to_thread.run_sync(load_path, sup.config.source)
        problems = sup.containment.problems(new) + host_problems(new)
        if problems:
            raise ConfigError(new.source, problems)
    except ConfigError as exc:
        log.error("reload refused, the running config stays in force:\n%s", exc)
        raise
    todo = plan(sup.config, new)
    if dry_run:
        return todo
    try:
        sup.listeners.bind(new)
    except ConfigError as exc:
        log.error("reload refused, the running config stays in force:\n%s", exc)
        raise
    sup.containment.enable_controllers(new)
    previous = sup.config
    sup.config = Config(
        daemon=await _apply_daemon(sup, todo, new.daemon),
        programs=new.programs,
        source=new.source,
        base_dir=new.base_dir,
        webhooks=new.webhooks,
    )
    for apply in sup.config_appliers:
        apply(sup.config)
    added = todo.names("added")
    async with trio.open_nursery() as nursery:
        for program in todo.programs:
            _log_program(program)
            _carry_out(sup, program, previous, new, nursery)
        for name in added:
            for each in instances(new.programs[name]):
                sup.add(each)
        sup.gate.refresh()
        for name in added:
            if sup.intents.wants_up(new.programs[name]):
                for runner in sup.lookup([name]):
                    sup.gate.want_up(runner)
    sup.scheduler.refresh()
    sup.watches.refresh()
    sup.listeners.keep_only(new)
    changed = [p for p in todo.programs if p.fate == "changed"]
    said = "{} added, {} removed, {} changed ({} restarted), {} unchanged".format(
        len(added),
        len(todo.names("removed")),
        len(changed),
        sum(p.restart for p in changed),
        len(todo.names("unchanged")),
    )
    log.info("reload: %s", said)
    sup.events.publish(
        DaemonEvent(
            change="reload",
            at=sup.services.wall_clock(),
            message=said,
            names=(*added, *todo.names("removed"), *(p.name for p in changed)),
        )
    )
    return todo


def _carry_out(
    sup: Supervisor, program: ProgramPlan, previous: Config, new: Config, nursery: trio.Nursery
) -> None:
    """One removed or changed program of a reload: retire it, replace it, or update it."""
    before = previous.programs.get(program.name)
    after = new.programs.get(program.name)
    if program.fate == "removed" and before is not None:
        sup.intents.forget(program.name)
        for runner in sup.instances_of(program.name):
            sup.intents.forget(runner.name)
            nursery.start_soon(sup.retire_runner, runner)
        if before.replicas is not None:
            replicasets.forget(sup, program.name)
    elif program.fate != "changed" or before is None or after is None:
        return
    elif before.replicas is not None or after.replicas is not None:
        replace = functools.partial(replicasets.replace, restart=program.restart)
        nursery.start_soon(replace, sup, before, after)
    elif program.restart:
        for extra in sup.overlapping.of(program.name):  # forgotten once stopped
            nursery.start_soon(runner_requests.stop_one, sup, extra, True)
        nursery.start_soon(sup.replace_runner, sup.runners[program.name], after)
    else:
        sup.runners[program.name].update(after)


async def _apply_daemon(sup: Supervisor, todo: ReloadPlan, new: DaemonConfig) -> DaemonConfig:
    """The ``[daemon]`` settings from now on: the ``live`` changes applied (the store's
    retention, the control server's through ``daemon_appliers``), the others kept at their
    running value until the daemon restarts."""
    live = {
        c.field: getattr(new, c.field)
        for c in todo.daemon
        if c.effect == "live" and c.field in DAEMON_FIELDS  # not webhooks: config_appliers
    }
    daemon = msgspec.structs.replace(sup.config.daemon, **live)
    for change in todo.daemon:
        if change.effect == "live":
            log.info("reload: [daemon] %s %s -> %s, applied", change.field, change.old, change.new)
        else:
            log.warning(
                "reload: [daemon] %s %s -> %s needs a daemon restart; %s stays in force",
                change.field,
                change.old,
                change.new,
                change.old,
            )
    if live.keys() & {"history_runs", "event_log_max", "event_log_max_age"}:

        def retain(store: Store) -> None:
            store.keep_runs = daemon.history_runs
            store.keep_events = daemon.event_log_max
            store.keep_event_seconds = daemon.event_log_max_age

        await sup.store.query(retain)
    for apply in sup.daemon_appliers:
        apply(daemon)
    return daemon


def _log_program(program: ProgramPlan) -> None:
    """One line per changed program of a reload: what changes and whether it restarts."""
    if program.fate != "changed":
        return
    changes = ", ".join(f"{c.field} {c.old} -> {c.new} ({c.effect})" for c in program.changes)
    action = "restarting" if program.restart else "applied without a restart"
    log.info("reload: %s: %s; %s", program.name, changes, action)
