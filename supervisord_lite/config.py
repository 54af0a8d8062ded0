"""The config file: TOML in, a frozen ``Config`` out, or a ``ConfigError`` naming every problem.

Pure (stdlib and msgspec only) so that ``--check``, reload and the tests validate a config exactly
the way the daemon does, without starting anything. msgspec stops at the first error of a
``convert()`` call, so tables are converted field by field against the Structs' own annotations:
one run reports every mistake in the file, each with its path (``$.programs.web.stop_timout``).
After ``load`` every path in the Config is absolute and every log target is a path or None.

Each table is converted by the module that holds its Struct (``config_daemon``,
``config_program`` and the modules of its nested tables); this one reads the file, adds the
programs of included files, runs the checks across programs, and re-exports the names the rest
of the daemon uses.
"""

from __future__ import annotations

import os

import msgspec

from supervisord_lite import config_daemon, config_logs, config_program
from supervisord_lite import config_wording as wording
from supervisord_lite.config_backoff import Backoff, StartLimit
from supervisord_lite.config_daemon import AccessConfig, AccessGrant, DaemonConfig, MetricsConfig
from supervisord_lite.config_files import DISK, NO_FILES, FileAccess, Included, included
from supervisord_lite.config_logs import INHERIT, LogConfig
from supervisord_lite.config_needs import check_needs
from supervisord_lite.config_program import ProgramConfig
from supervisord_lite.config_progress import ProgressConfig
from supervisord_lite.config_restarts import RestartWhen
from supervisord_lite.config_sockets import check_sockets
from supervisord_lite.config_values import resolve
from supervisord_lite.config_webhooks import WebhookConfig, webhooks
from supervisord_lite.errors import ConfigError, Problem
from supervisord_lite.replicas import check_replicas

__all__ = [
    "INHERIT",
    "AccessConfig",
    "AccessGrant",
    "Backoff",
    "Config",
    "DaemonConfig",
    "LogConfig",
    "MetricsConfig",
    "ProgramConfig",
    "ProgressConfig",
    "RestartWhen",
    "StartLimit",
    "load",
    "load_path",
]


class Config(msgspec.Struct, frozen=True, kw_only=True):
    """A whole validated config file; ``source`` and ``base_dir`` say where it came from."""

    daemon: DaemonConfig
    programs: dict[str, ProgramConfig]
    source: str
    base_dir: str
    webhooks: tuple[WebhookConfig, ...] = ()

    def programs_by_priority(self) -> tuple[ProgramConfig, ...]:
        """Start order: higher priority first, then by name; stop in the reverse order."""
        return tuple(sorted(self.programs.values(), key=lambda p: (-p.priority, p.name)))


def load_path(path: str | os.PathLike[str]) -> Config:
    """Read and validate a config file; its relative paths resolve against its folder."""
    source = os.fspath(path)
    try:
        with open(source, "rb") as file:
            data = file.read()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(source, [Problem("$", f"cannot read the file: {reason}")]) from exc
    base = os.path.dirname(os.path.abspath(source))
    return load(data, source=source, base_dir=base, files=DISK)


def load(
    data: bytes | str,
    *,
    source: str = "<string>",
    base_dir: str | None = None,
    files: FileAccess = NO_FILES,
) -> Config:
    """Validate TOML text; relative paths resolve against ``base_dir`` (the cwd when None);
    ``env_file`` and ``include`` are read through ``files``.

    Raises ConfigError listing every problem found.
    """
    base = os.path.abspath(os.getcwd() if base_dir is None else base_dir)
    text = _utf8(data, source)
    try:
        raw = msgspec.toml.decode(text)
    except msgspec.DecodeError as exc:
        raise ConfigError(source, [Problem("$", f"invalid TOML: {exc}")]) from exc

    problems: list[Problem] = []
    problems.extend(
        Problem(wording.join("$", key), "unknown field")
        for key in raw
        if key not in ("daemon", "programs", "include", "webhooks")
    )
    daemon = config_daemon.daemon(raw.get("daemon", {}), base, problems)
    log_dir = daemon.log_dir if daemon else resolve(base, DaemonConfig().log_dir)

    programs: dict[str, ProgramConfig] = {}
    tables = raw.get("programs", {})
    if isinstance(tables, dict):
        for name, table in tables.items():
            program = config_program.program(name, table, log_dir, base, problems, files=files)
            if program is not None:
                programs[name] = program
    else:
        problems.append(Problem("$.programs", f"expected a table, got {wording.kind_of(tables)}"))
    if "include" in raw:
        declared = dict.fromkeys(tables, source) if isinstance(tables, dict) else {}
        for found in included(raw["include"], base, files, problems):
            _add_included(found, declared, programs, log_dir, files, problems)
    config_logs.check_log_paths(programs, problems)
    check_replicas(programs, problems)
    check_sockets(programs, problems)
    check_needs(programs, tables if isinstance(tables, dict) else {}, problems)

    hooks = webhooks(raw.get("webhooks", []), problems)
    if problems or daemon is None:
        raise ConfigError(source, problems)
    return Config(daemon=daemon, programs=programs, source=source, base_dir=base, webhooks=hooks)


def _add_included(
    found: Included,
    declared: dict[str, str],
    programs: dict[str, ProgramConfig],
    log_dir: str,
    files: FileAccess,
    problems: list[Problem],
) -> None:
    """The programs of one included file; a name defined twice names both files."""
    root = f"{found.name}:$.programs"
    if not isinstance(found.programs, dict):
        problems.append(Problem(root, f"expected a table, got {wording.kind_of(found.programs)}"))
        return
    for name, table in found.programs.items():
        if name in declared:
            where = wording.join(root, name)
            problems.append(Problem(where, f"{name!r} is already defined in {declared[name]}"))
            continue
        declared[name] = found.name
        program = config_program.program(
            name, table, log_dir, found.base_dir, problems, files=files, root=root
        )
        if program is not None:
            programs[name] = program


def _utf8(data: bytes | str, source: str) -> str:
    """TOML is UTF-8 text: checked here, not left to whichever exception a decoder raises."""
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text: {exc.reason} at byte {exc.start}"
        raise ConfigError(source, [Problem("$", message)]) from exc
