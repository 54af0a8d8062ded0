"""What a reload will do, decided before anything is done: the plan.

Every config field is classified once, here, as data. A program field is ``hot`` when it only
changes how the daemon treats the program (its restart policy, its stop escalation, its log
rotation, its priority) and can be applied to the running program, or ``restart`` when it
changes the process itself (command, environment, folder, identity, limits, where its output
goes), which only a new process can take. A few settings that only change how the daemon treats
the program are still ``restart`` because the daemon builds them with the run and cannot swap
them under a running one: the log queue (its size and overflow policy), the probes
(``ready``, ``liveness``, ``watchdog``) and ``restart_when`` (its threshold is written into the
run's cgroup as ``memory.high``). ``replicas`` is ``scale``: the running instances are kept and
instances are added or stopped (highest index first) to reach the new count; only turning
replicas on or off (``None`` on one side) renames the instances and so restarts. A
``[daemon]`` field is ``live`` when the running
daemon applies it, or ``daemon-restart`` when only a new daemon can (the socket it listens on,
the store it writes). ``plan(old, new)`` compares two configs field by field and says, per
program, what changes, from what to what (values of ``env`` masked: they are often secrets),
and whether the program must restart. Pure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Literal

import msgspec

if TYPE_CHECKING:
    from supervisord_lite.config import Config, DaemonConfig, ProgramConfig

__all__ = [
    "DAEMON_FIELDS",
    "PROGRAM_FIELDS",
    "DaemonChange",
    "FieldChange",
    "ProgramPlan",
    "ReloadPlan",
    "plan",
]

Effect = Literal["hot", "restart", "scale"]
DaemonEffect = Literal["live", "daemon-restart"]

#: Each ProgramConfig field (a nested table by its sub-fields: ``log.max_bytes``) -> its effect.
PROGRAM_FIELDS: Final[dict[str, Effect]] = {
    "command": "restart",
    "cwd": "restart",
    "env": "restart",
    "env_file": "restart",
    "user": "restart",
    "group": "restart",
    "umask": "restart",
    "memory_max": "restart",
    "pids_max": "restart",
    "cpu_max": "restart",
    "log.stdout": "restart",
    "log.stderr": "restart",
    "log.merge": "restart",
    "log.queue_bytes": "restart",
    "log.overflow": "restart",
    "ready": "restart",
    "liveness": "restart",
    "watchdog": "restart",
    "log.format": "restart",
    "autostart": "hot",
    "autorestart": "hot",
    "exit_codes": "hot",
    "start_seconds": "hot",
    "start_retries": "hot",
    "backoff.initial": "hot",
    "backoff.factor": "hot",
    "backoff.max": "hot",
    "backoff.floor": "hot",
    "backoff.reset_after": "hot",
    "start_limit.burst": "hot",
    "start_limit.interval": "hot",
    "stop_signal": "hot",
    "stop_timeout": "hot",
    "kill_timeout": "hot",
    "priority": "hot",
    "log.max_bytes": "hot",
    "log.backups": "hot",
    "log.timestamps": "hot",
    "watchdog_signal": "hot",
    "notify_socket": "restart",
    "progress": "restart",
    "depends_on": "hot",
    "on_dependency_failure": "hot",
    "log.rotate_every": "hot",
    "backoff.jitter": "hot",
    "critical": "hot",
    "permafail": "hot",
    "restart_when.memory": "restart",
    "restart_when.memory_interval": "restart",
    # Changing a running system: the daemon re-plans the next scheduled run and restarts its
    # watcher of the program's files with the new settings; the running process is kept.
    "groups": "hot",
    "schedule": "hot",
    "schedule_tz": "hot",
    "every": "hot",
    "catch_up": "hot",
    "overlap": "hot",
    "overlap_max": "hot",
    "watch": "hot",
    "watch_ignore": "hot",
    "watch_debounce": "hot",
    "reload_check": "hot",
    "replicas": "scale",
    "rolling": "hot",
    "max_unavailable": "hot",
    "sockets": "restart",
    # Hooks change how the daemon treats the program: the next hook run uses the new ones.
    "pre_start": "hot",
    "post_start": "hot",
    "pre_stop": "hot",
    "post_stop": "hot",
    "stop_command": "hot",
    # Process attributes are set in the new process before exec and inherited by what it
    # forks: only a new process takes them.
    "nice": "restart",
    "ionice": "restart",
    "oom_score_adj": "restart",
    "rlimits": "restart",
    "capabilities": "restart",
    "no_new_privileges": "restart",
}

#: Each DaemonConfig field -> whether the running daemon applies it.
DAEMON_FIELDS: Final[dict[str, DaemonEffect]] = {
    "socket": "daemon-restart",
    "state_db": "daemon-restart",
    "containment": "daemon-restart",
    "socket_mode": "daemon-restart",
    "metrics": "daemon-restart",
    "allow_uids": "live",
    "access": "live",
    "log_dir": "live",
    "shutdown_timeout": "live",
    "history_runs": "live",
    "event_log_max": "live",
    "event_log_max_age": "live",
    "client_timeout": "live",
    "max_connections": "live",
    "exit_when": "live",
    "watch_config": "live",
}
"""``log_dir`` is live: it moves the programs whose log paths are ``auto``, and their changed
``log.stdout``/``log.stderr`` restart them like any other change of where output goes.
``allow_uids``, ``client_timeout`` and ``max_connections`` go to the control server
(``ControlServer.apply``) and hold for what it does next; ``exit_when`` is read at every step of
a program."""

_NESTED: Final = ("log", "backoff", "start_limit", "restart_when")
_MASK: Final = "***"


class FieldChange(msgspec.Struct, frozen=True, kw_only=True):
    """One field that differs: its dotted name, the old and new values as text, its effect."""

    field: str
    old: str
    new: str
    effect: Effect


class ProgramPlan(msgspec.Struct, frozen=True, kw_only=True):
    """What happens to one program; ``restart`` when any change needs a new process."""

    name: str
    fate: Literal["added", "removed", "changed", "unchanged"]
    changes: tuple[FieldChange, ...] = ()

    @property
    def restart(self) -> bool:
        return any(c.effect == "restart" for c in self.changes)

    @property
    def scale(self) -> bool:
        """Whether the number of instances changes (and only that: see ``restart``)."""
        return any(c.effect == "scale" for c in self.changes)


class DaemonChange(msgspec.Struct, frozen=True, kw_only=True):
    """One ``[daemon]`` field that differs."""

    field: str
    old: str
    new: str
    effect: DaemonEffect


class ReloadPlan(msgspec.Struct, frozen=True, kw_only=True):
    """The whole plan: every program of either config, by name, and the daemon's changes."""

    programs: tuple[ProgramPlan, ...]
    daemon: tuple[DaemonChange, ...] = ()

    def names(self, fate: str) -> tuple[str, ...]:
        return tuple(p.name for p in self.programs if p.fate == fate)

    @property
    def needs_daemon_restart(self) -> tuple[str, ...]:
        return tuple(c.field for c in self.daemon if c.effect == "daemon-restart")


def plan(old: Config, new: Config) -> ReloadPlan:
    """Compare ``old`` (running) with ``new`` (the file now)."""
    programs: list[ProgramPlan] = []
    for name in sorted(old.programs.keys() | new.programs.keys()):
        before, after = old.programs.get(name), new.programs.get(name)
        if before is None:
            programs.append(ProgramPlan(name=name, fate="added"))
        elif after is None:
            programs.append(ProgramPlan(name=name, fate="removed"))
        else:
            changes = program_changes(before, after)
            fate: Literal["changed", "unchanged"] = "changed" if changes else "unchanged"
            programs.append(ProgramPlan(name=name, fate=fate, changes=changes))
    daemon = daemon_changes(old.daemon, new.daemon) + webhook_changes(old, new)
    return ReloadPlan(programs=tuple(programs), daemon=daemon)


def program_changes(old: ProgramConfig, new: ProgramConfig) -> tuple[FieldChange, ...]:
    """Every field of a program that differs, classified (see ``PROGRAM_FIELDS``).

    Raises:
        KeyError: a field is not classified (a test holds every field to the table).
    """
    found: list[FieldChange] = []
    for field, before, after in _differences(old, new):
        if field == "env":
            found.extend(_env_changes(old.env, new.env))
            continue
        effect = PROGRAM_FIELDS[field]
        if field == "replicas" and None in (before, after):
            effect = "restart"  # NAME becomes NAME:0.. (or back): other processes
        found.append(FieldChange(field=field, old=_text(before), new=_text(after), effect=effect))
    return tuple(found)


def daemon_changes(old: DaemonConfig, new: DaemonConfig) -> tuple[DaemonChange, ...]:
    return tuple(
        DaemonChange(field=f, old=_text(a), new=_text(b), effect=DAEMON_FIELDS[f])
        for f, a, b in _differences(old, new)
    )


def webhook_changes(old: Config, new: Config) -> tuple[DaemonChange, ...]:
    """``[[webhooks]]`` changed: one ``live`` change naming the hooks before and after (a
    reload restarts the changed ones at once, each from its stored cursor; docs/events.md).
    Their secrets and headers are never shown."""
    if old.webhooks == new.webhooks:
        return ()
    before = ", ".join(hook.key for hook in old.webhooks) or "(none)"
    after = ", ".join(hook.key for hook in new.webhooks) or "(none)"
    if before == after:
        after += " (changed)"
    return (DaemonChange(field="webhooks", old=before, new=after, effect="live"),)


def _differences(old: msgspec.Struct, new: msgspec.Struct) -> list[tuple[str, object, object]]:
    found: list[tuple[str, object, object]] = []
    for field in msgspec.structs.fields(type(old)):
        before, after = getattr(old, field.name), getattr(new, field.name)
        if before == after:
            continue
        if field.name in _NESTED and isinstance(before, msgspec.Struct):
            found.extend((f"{field.name}.{sub}", a, b) for sub, a, b in _differences(before, after))
        else:
            found.append((field.name, before, after))
    return found


def _env_changes(old: dict[str, str], new: dict[str, str]) -> list[FieldChange]:
    changes = []
    for key in sorted(old.keys() | new.keys()):
        if old.get(key) != new.get(key):
            before = _MASK if key in old else "(unset)"
            after = _MASK if key in new else "(unset)"
            changes.append(FieldChange(field=f"env.{key}", old=before, new=after, effect="restart"))
    return changes


def _text(value: object) -> str:
    """A value as an operator reads it: strings quoted, the rest as JSON."""
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return repr(value)
    return msgspec.json.encode(value).decode()
