"""``[programs.NAME]``: one program and the policy that keeps it in the wanted state, and the
conversion of its table.

Each nested table is converted by the module that holds it (logs, probes, sockets, restarts,
hooks, process attributes...); here the fields are put together and the checks that need
several of one program's fields are made: one kind of schedule, ``overlap`` only for a
scheduled program, ``reload_check`` only with something watched. Paths are absolute once
converted: relative ones resolve against the program's config file (watch globs against its
cwd). Pure.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final, Literal

import msgspec
from msgspec import Meta

from supervisord_lite import config_logs, config_sockets, schedules
from supervisord_lite import config_wording as wording
from supervisord_lite.config_attributes import (
    Capabilities,
    IoNice,
    RLimit,
    capabilities,
    check_capabilities,
    ionice,
    rlimits,
)
from supervisord_lite.config_backoff import Backoff, StartLimit, backoff, start_limit, start_retries
from supervisord_lite.config_files import NO_FILES, FileAccess, env_from_files
from supervisord_lite.config_hooks import HOOK_FIELDS, Hook, hook
from supervisord_lite.config_logs import LogConfig
from supervisord_lite.config_probes import LivenessProbe, ReadyProbe, probe
from supervisord_lite.config_progress import ProgressConfig, progress
from supervisord_lite.config_restarts import PermafailConfig, RestartWhen, permafail, restart_when
from supervisord_lite.config_sockets import SocketConfig
from supervisord_lite.config_tables import INVALID, Argv, command, convert, table
from supervisord_lite.config_values import (
    ExitCode,
    GroupName,
    Mode,
    NonEmptyStr,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    env,
    resolve,
    schedule,
    signal_name,
    zone,
)
from supervisord_lite.depgraph import Condition
from supervisord_lite.errors import Problem
from supervisord_lite.replicas import MAX_OVERLAP, MAX_REPLICAS, REPLICA

__all__ = ["ProgramConfig", "program"]

_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class ProgramConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[programs.NAME]``: one program and the policy that keeps it in the wanted state."""

    name: str
    command: Argv
    cwd: NonEmptyStr | None = None
    env: dict[str, str] = {}
    env_file: tuple[NonEmptyStr, ...] = ()
    """Absolute paths of dotenv files; their variables are already in ``env`` (``env`` wins)."""
    user: NonEmptyStr | None = None
    group: NonEmptyStr | None = None
    umask: Mode | None = None
    autostart: bool = True
    autorestart: Literal["always", "on-failure", "never"] = "on-failure"
    exit_codes: tuple[ExitCode, ...] = (0,)
    start_seconds: NonNegativeFloat = 1.0
    start_retries: NonNegativeInt | Literal["infinite"] = 3
    backoff: Backoff = Backoff()
    stop_signal: str = "TERM"
    stop_timeout: PositiveFloat = 10.0
    kill_timeout: PositiveFloat = 5.0
    priority: int = 100
    log: LogConfig = LogConfig()
    memory_max: Annotated[int, Meta(ge=4096)] | None = None
    pids_max: Annotated[int, Meta(ge=1)] | None = None
    cpu_max: Annotated[float, Meta(gt=0)] | None = None
    start_limit: StartLimit = StartLimit()
    ready: ReadyProbe | None = None
    liveness: LivenessProbe | None = None
    watchdog: PositiveFloat | None = None
    watchdog_signal: str = "ABRT"
    depends_on: dict[str, Condition] = {}
    on_dependency_failure: Literal["stop", "restart", "ignore"] = "stop"
    notify_socket: bool = True
    progress: ProgressConfig | None = None
    # Critical programs and restart rules (config_restarts.py).
    critical: bool = False
    permafail: PermafailConfig | None = None
    restart_when: RestartWhen = RestartWhen()
    # Changing a running system (docs/changing-a-running-system.md): groups, schedules, watch.
    groups: tuple[GroupName, ...] = ()
    schedule: NonEmptyStr | None = None
    schedule_tz: NonEmptyStr = "UTC"
    every: Annotated[str, Meta(pattern=schedules.EVERY_PATTERN)] | None = None
    catch_up: Literal["none", "one"] = "none"
    overlap: bool = False
    """A due run that finds the previous one still going starts beside it (overlapping.py)."""
    overlap_max: Annotated[int, Meta(ge=1, le=MAX_OVERLAP)] = 4
    """The most runs going at once with ``overlap``, the first included."""
    watch: tuple[NonEmptyStr, ...] = ()
    """Glob patterns, absolute after ``load`` (relative ones resolve against the cwd)."""
    watch_ignore: tuple[NonEmptyStr, ...] = ()
    watch_debounce: NonNegativeFloat = 0.5
    reload_check: Argv | None = None

    @property
    def scheduled(self) -> bool:
        """Whether the schedule, not ``autostart`` or the operator's intent, starts it."""
        return self.schedule is not None or self.every is not None

    replicas: Annotated[int, Meta(ge=0, le=MAX_REPLICAS)] | None = None
    """Run this many instances ``NAME:0`` .. (replicas.py); None: one, named ``NAME``."""
    rolling: bool = False
    max_unavailable: Annotated[int, Meta(ge=1)] = 1
    sockets: tuple[SocketConfig, ...] = ()

    # Hooks (config_hooks.py) and process attributes (config_attributes.py).
    pre_start: Hook | None = None
    post_start: Hook | None = None
    pre_stop: Hook | None = None
    post_stop: Hook | None = None
    stop_command: Hook | None = None
    nice: Annotated[int, Meta(ge=-20, le=19)] | None = None
    ionice: IoNice | None = None
    oom_score_adj: Annotated[int, Meta(ge=-1000, le=1000)] | None = None
    rlimits: dict[str, RLimit] = {}
    capabilities: Capabilities | None = None
    no_new_privileges: bool = False

    def resource_limits(self) -> dict[str, str]:
        """The cgroup v2 interface files and values this program's limits ask for."""
        limits = {}
        if self.memory_max is not None:
            limits["memory.max"] = str(self.memory_max)
        if self.pids_max is not None:
            limits["pids.max"] = str(self.pids_max)
        if self.cpu_max is not None:
            period = 100_000
            limits["cpu.max"] = f"{max(1000, round(self.cpu_max * period))} {period}"
        return limits


def program(
    name: str,
    raw: object,
    log_dir: str,
    base: str,
    problems: list[Problem],
    *,
    files: FileAccess = NO_FILES,
    root: str = "$.programs",
) -> ProgramConfig | None:
    """One ``[programs.NAME]`` table; ``root`` is where its path starts (an included file's
    name is part of it)."""
    path = wording.join(root, name)
    before = len(problems)
    if not _NAME.fullmatch(name):
        message = (
            f"invalid program name {name!r}: 1 to 64 letters, digits, '_', '.' or '-',"
            " starting with a letter or digit"
        )
        problems.append(Problem(path, message))

    # A replicated program's instances each write their own files (``web:0.stdout.log``).
    replicated = isinstance(raw, dict) and "replicas" in raw
    auto_name = f"{name}:{REPLICA}" if replicated else name

    def log(value: object, where: str, problems: list[Problem]) -> LogConfig:
        return config_logs.log(value, auto_name, log_dir, base, where, problems)

    def sockets(value: object, where: str, problems: list[Problem]) -> object:
        return config_sockets.sockets(value, base, where, problems)

    def cwd(value: object, where: str, problems: list[Problem]) -> object:
        text = convert(value, NonEmptyStr, where, problems)
        return resolve(base, text) if isinstance(text, str) else INVALID

    def env_file(value: object, where: str, problems: list[Problem]) -> object:
        paths = convert(value, tuple[NonEmptyStr, ...], where, problems)
        return tuple(resolve(base, p) for p in paths) if isinstance(paths, tuple) else INVALID

    values = table(
        raw,
        ProgramConfig,
        path,
        problems,
        special={
            "command": command,
            "env": env,
            "stop_signal": signal_name,
            "backoff": backoff,
            "start_limit": start_limit,
            "log": log,
            "cwd": cwd,
            "env_file": env_file,
            "watchdog_signal": signal_name,
            "ready": probe(ReadyProbe),
            "liveness": probe(LivenessProbe),
            "progress": progress,
            "permafail": permafail,
            "restart_when": restart_when,
            "start_retries": start_retries,
            "reload_check": command,
            "schedule": schedule,
            "schedule_tz": zone,
            "sockets": sockets,
            **dict.fromkeys(HOOK_FIELDS, hook),
            "ionice": ionice,
            "rlimits": rlimits,
            "capabilities": capabilities,
        },
        forbidden={"name": "not allowed here: the program's name is its table key"},
    )
    if "log" not in values:
        values["log"] = log({}, wording.join(path, "log"), problems)
    if values.get("env_file"):
        where = wording.join(path, "env_file")
        values["env"] = env_from_files(values["env_file"], files, where, problems) | values.get(
            "env", {}
        )
    _check_changing(values, base, path, problems)
    where = wording.join(path, "capabilities")
    check_capabilities(values.get("capabilities"), values.get("user"), where, problems)
    if len(problems) > before:
        return None
    return ProgramConfig(name=name, **values)


def _check_changing(values: dict[str, Any], base: str, path: str, problems: list[Problem]) -> None:
    """Schedules and watching: one kind of schedule; a check only with something watched;
    watch globs made absolute against the program's cwd."""
    if values.get("schedule") is not None and values.get("every") is not None:
        problems.append(Problem(wording.join(path, "every"), "cannot be set with schedule"))
    _check_overlap(values, path, problems)
    if values.get("reload_check") is not None and not values.get("watch"):
        message = "needs watch (it is run before a restart for a change of a watched file)"
        problems.append(Problem(wording.join(path, "reload_check"), message))
    folder = values.get("cwd") or base
    for key in ("watch", "watch_ignore"):
        if key in values:
            values[key] = tuple(resolve(folder, pattern) for pattern in values[key])


def _check_overlap(values: dict[str, Any], path: str, problems: list[Problem]) -> None:
    """``overlap`` only for a scheduled program that is not replicated (its extra runs are
    named ``NAME:i``, as instances are); ``overlap_max`` only with ``overlap``."""
    if values.get("overlap"):
        where = wording.join(path, "overlap")
        if values.get("schedule") is None and values.get("every") is None:
            message = "needs schedule or every (only scheduled runs can overlap)"
            problems.append(Problem(where, message))
        if values.get("replicas") is not None:
            problems.append(Problem(where, "cannot be set with replicas"))
    elif "overlap_max" in values:
        message = "needs overlap = true (it bounds the overlapping runs)"
        problems.append(Problem(wording.join(path, "overlap_max"), message))
