"""Reading supervisord's files and translating their sections, option by option.

``PROGRAM_OPTIONS`` is the translation written once, as data: each ``[program:x]`` option and
what becomes of it here (or why nothing does); the migration guide and the tests read it.
``read_config`` reads files (and ``[include]`` globs); ``translate`` is pure.
"""

from __future__ import annotations

import configparser
import glob
import os
import socket
from typing import TYPE_CHECKING, Final

from supervisord_lite.convert import values as vals
from supervisord_lite.convert.model import Conversion, ConvertError, Note

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

PROGRAM_OPTIONS: Final[dict[str, str | tuple[None, str]]] = {
    "command": "command",
    "process_name": "name of each program (with numprocs)",
    "numprocs": "one program per process (NAME_0, NAME_1... from process_name)",
    "numprocs_start": "the first process_num",
    "priority": "priority (inverted: supervisord starts low numbers first, we start high first)",
    "autostart": "autostart",
    "startsecs": "start_seconds",
    "startretries": "start_retries",
    "autorestart": "autorestart (true -> always, false -> never, unexpected -> on-failure)",
    "exitcodes": "exit_codes",
    "stopsignal": "stop_signal",
    "stopwaitsecs": "stop_timeout",
    "stopasgroup": (None, "always on: stops signal the whole process group (and cgroup)"),
    "killasgroup": (None, "always on: SIGKILL reaches the whole process group (and cgroup)"),
    "user": "user",
    "redirect_stderr": "log.merge",
    "stdout_logfile": "log.stdout (AUTO -> auto, NONE -> none, /dev/stdout -> inherit)",
    "stdout_logfile_maxbytes": "log.max_bytes",
    "stdout_logfile_backups": "log.backups",
    "stderr_logfile": "log.stderr (AUTO -> auto, NONE -> none, /dev/stderr -> inherit)",
    "stderr_logfile_maxbytes": "log.max_bytes (one size for both streams)",
    "stderr_logfile_backups": "log.backups (one count for both streams)",
    "environment": "env",
    "directory": "cwd",
    "umask": "umask",
    "stdout_capture_maxbytes": (None, "no capture mode (process communication events)"),
    "stderr_capture_maxbytes": (None, "no capture mode (process communication events)"),
    "stdout_events_enabled": (None, "no event listeners; use svctl events"),
    "stderr_events_enabled": (None, "no event listeners; use svctl events"),
    "stdout_syslog": (None, "no syslog target; use log = inherit under systemd (the journal)"),
    "stderr_syslog": (None, "no syslog target; use log = inherit under systemd (the journal)"),
    "serverurl": (None, "programs reach the daemon through its socket (SVCTL_SOCKET)"),
}


_UNSUPPORTED_SECTIONS: Final = {
    "inet_http_server": "no HTTP control surface; svctl talks over the Unix socket",
    "supervisorctl": "svctl finds the socket from -c CONFIG, SVCTL_SOCKET or --socket",
    "eventlistener": "no event listeners; use svctl events or (later) webhooks",
    "fcgi-program": "no FastCGI socket sharing",
    "rpcinterface": "no XML-RPC interface; the socket speaks its own protocol",
}
# supervisord's default priority; ours is 100. Both orders are kept by _priority.
_THEIR_DEFAULT_PRIORITY: Final = 999


def read_config(path: str) -> list[tuple[str, configparser.RawConfigParser]]:
    """Read ``path`` and every file its ``[include] files`` globs name, in supervisord's
    order: the main file first, then includes sorted by path.

    Raises:
        ConvertError: a file cannot be read or is not valid INI.
    """
    main = _parse(path)
    found = [(path, main)]
    if main.has_section("include"):
        here = os.path.dirname(os.path.abspath(path))
        for pattern in main.get("include", "files", fallback="").split():
            pattern = vals.expand(pattern, {"here": here}, path, [])
            full = pattern if os.path.isabs(pattern) else os.path.join(here, pattern)
            found.extend((name, _parse(name)) for name in sorted(glob.glob(full)))
    return found


def _parse(path: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(inline_comment_prefixes=(";", "#"), strict=True)
    try:
        with open(path, encoding="utf-8") as file:
            parser.read_file(file, source=path)
    except OSError as exc:
        raise ConvertError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise ConvertError(f"{path}: not a supervisord config: {exc}") from exc
    return parser


def translate(
    files: Iterable[tuple[str, configparser.RawConfigParser]],
    *,
    environ: Mapping[str, str] | None = None,
    hostname: str | None = None,
) -> Conversion:
    """Translate parsed supervisord files; ``environ`` and ``hostname`` feed ``%(ENV_X)s`` and
    ``%(host_node_name)s`` (the current ones when None)."""
    env = dict(os.environ if environ is None else environ)
    host = socket.gethostname() if hostname is None else hostname
    notes: list[Note] = []
    daemon: dict[str, object] = {}
    programs: dict[str, dict[str, object]] = {}
    origins: dict[str, str] = {}
    groups: dict[str, str] = {}
    for source, parser in files:
        here = os.path.dirname(os.path.abspath(source))
        base = {"here": here, "host_node_name": host, **{f"ENV_{k}": v for k, v in env.items()}}
        for section in parser.sections():
            where = f"{source} [{section}]"
            kind, _, name = section.partition(":")
            options = dict(parser.items(section))
            if kind == "program" and name:
                for program_name, table in _program(name, options, base, where, notes):
                    if program_name in programs:
                        notes.append(
                            Note(
                                where,
                                f"{program_name!r} already comes from "
                                f"{origins[program_name]}; this one is skipped",
                            )
                        )
                        continue
                    programs[program_name] = table
                    origins[program_name] = where
            elif kind == "group" and name:
                members = options.get("programs", "")
                groups[name] = members
                notes.append(
                    Note(
                        where,
                        f"groups are not translated yet; its programs "
                        f"({members}) are translated on their own",
                    )
                )
            elif kind == "supervisord":
                _supervisord(options, daemon, base, where, notes)
            elif kind == "unix_http_server":
                _unix_http_server(options, daemon, base, where, notes)
            elif kind == "include":
                pass  # read_config followed it
            elif kind in _UNSUPPORTED_SECTIONS:
                notes.append(Note(where, f"not translated: {_UNSUPPORTED_SECTIONS[kind]}"))
            else:
                notes.append(Note(where, "unknown section, not translated"))
    config: dict[str, object] = {}
    if daemon:
        config["daemon"] = daemon
    config["programs"] = programs
    return Conversion(config, notes)


def _program(
    name: str,
    options: dict[str, str],
    base: Mapping[str, str],
    where: str,
    notes: list[Note],
) -> list[tuple[str, dict[str, object]]]:
    """One ``[program:x]`` as one program, or N with ``numprocs``."""
    count = vals.integer(options.pop("numprocs", "1"), where, "numprocs", notes) or 1
    start = vals.integer(options.pop("numprocs_start", "0"), where, "numprocs_start", notes) or 0
    process_name = options.pop("process_name", "%(program_name)s")
    if count > 1 and "%(process_num)" not in process_name:
        notes.append(
            Note(
                where,
                "numprocs > 1 needs %(process_num)... in process_name "
                "(supervisord refuses it too); translated as one program",
            )
        )
        count = 1
    translated = []
    for num in range(start, start + count):
        values = {**base, "program_name": name, "group_name": name, "process_num": str(num)}
        own = vals.expand(process_name, values, where, notes)
        values["process_name"] = own
        table = _program_table(
            {k: vals.expand(v, values, where, notes) for k, v in options.items()},
            where,
            notes if num == start else [],
        )
        translated.append((vals.program_name(own, where, notes), table))
    if count > 1:
        names = ", ".join(n for n, _ in translated)
        notes.append(Note(where, f"numprocs = {count}: translated as {count} programs ({names})"))
    return translated


def _program_table(options: dict[str, str], where: str, notes: list[Note]) -> dict[str, object]:
    table: dict[str, object] = {}
    log: dict[str, object] = {}
    handlers: dict[str, Callable[[str], None]] = {
        "command": lambda v: table.__setitem__("command", vals.command(v, where, notes)),
        "priority": lambda v: vals.set_value(table, "priority", vals.priority(v, where, notes)),
        "autostart": lambda v: vals.set_value(
            table, "autostart", vals.boolean(v, where, "autostart", notes)
        ),
        "startsecs": lambda v: vals.set_value(
            table, "start_seconds", vals.number(v, where, "startsecs", notes)
        ),
        "startretries": lambda v: vals.set_value(
            table, "start_retries", vals.integer(v, where, "startretries", notes)
        ),
        "autorestart": lambda v: vals.set_value(
            table, "autorestart", vals.autorestart(v, where, notes)
        ),
        "exitcodes": lambda v: vals.set_value(table, "exit_codes", vals.codes(v, where, notes)),
        "stopsignal": lambda v: table.__setitem__("stop_signal", v.strip().upper()),
        "stopwaitsecs": lambda v: vals.set_value(
            table, "stop_timeout", vals.positive(v, where, "stopwaitsecs", notes)
        ),
        "user": lambda v: table.__setitem__("user", v.strip()),
        "directory": lambda v: table.__setitem__("cwd", v.strip()),
        "umask": lambda v: vals.set_value(table, "umask", vals.octal(v, where, notes)),
        "environment": lambda v: vals.set_value(table, "env", vals.environment(v, where, notes)),
        "redirect_stderr": lambda v: vals.set_value(
            log, "merge", vals.boolean(v, where, "redirect_stderr", notes)
        ),
        "stdout_logfile": lambda v: log.__setitem__("stdout", vals.log_target(v, "stdout")),
        "stderr_logfile": lambda v: log.__setitem__("stderr", vals.log_target(v, "stderr")),
        "stdout_logfile_maxbytes": lambda v: vals.set_value(
            log, "max_bytes", vals.size(v, where, notes)
        ),
        "stdout_logfile_backups": lambda v: vals.set_value(
            log, "backups", vals.integer(v, where, "backups", notes)
        ),
    }
    for key, value in options.items():
        handler = handlers.get(key)
        rule = PROGRAM_OPTIONS.get(key)
        if handler is not None:
            handler(value)
        elif key in ("stderr_logfile_maxbytes", "stderr_logfile_backups"):
            ours = "max_bytes" if key.endswith("maxbytes") else "backups"
            if options.get(f"stdout_logfile_{key.split('_')[-1]}", value) != value:
                notes.append(
                    Note(
                        where, f"{key}: one log.{ours} serves both streams; stdout's value is kept"
                    )
                )
            elif ours not in log:
                size = (
                    vals.size(value, where, notes)
                    if ours == "max_bytes"
                    else vals.integer(value, where, key, notes)
                )
                vals.set_value(log, ours, size)
        elif isinstance(rule, tuple):
            notes.append(Note(where, f"{key}: not translated: {rule[1]}"))
        else:
            notes.append(Note(where, f"{key}: unknown option, not translated"))
    if "command" not in table:
        notes.append(Note(where, "command: missing (supervisord requires it too)"))
    if log.get("merge") is True:
        log.pop("stderr", None)
    if log.get("max_bytes") == 0:
        log["max_bytes"] = 0  # supervisord's 0 = never rotate; ours too
    if log:
        table["log"] = log
    return table


def _supervisord(
    options: dict[str, str],
    daemon: dict[str, object],
    base: Mapping[str, str],
    where: str,
    notes: list[Note],
) -> None:
    for key, raw in options.items():
        value = vals.expand(raw, base, where, notes)
        if key == "childlogdir":
            daemon["log_dir"] = value
        elif key in ("nodaemon", "silent"):
            pass  # we always run in the foreground and log to stderr
        elif key in ("logfile", "logfile_maxbytes", "logfile_backups", "loglevel"):
            notes.append(
                Note(
                    where,
                    f"{key}: not translated: the daemon logs to stderr "
                    "(the journal or the container's log)",
                )
            )
        elif key == "pidfile":
            notes.append(Note(where, "pidfile: not translated: svctl ok tells whether it runs"))
        else:
            notes.append(Note(where, f"{key}: not translated"))


def _unix_http_server(
    options: dict[str, str],
    daemon: dict[str, object],
    base: Mapping[str, str],
    where: str,
    notes: list[Note],
) -> None:
    for key, raw in options.items():
        value = vals.expand(raw, base, where, notes)
        if key == "file":
            daemon["socket"] = value
        elif key == "chmod":
            mode = vals.octal(value, where, notes)
            if mode is not None:
                daemon["socket_mode"] = mode
        elif key in ("username", "password"):
            notes.append(
                Note(
                    where,
                    f"{key}: not translated: access is by the caller's uid "
                    "(socket_mode, allow_uids)",
                )
            )
        else:
            notes.append(Note(where, f"{key}: not translated"))
