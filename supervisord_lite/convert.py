"""``supervisord-lite convert supervisord.conf``: a supervisord config translated to ours.

supervisord's INI (``[program:x]``, ``[group:x]``, ``[include]``, ``[supervisord]``,
``[unix_http_server]``) becomes a TOML config for this daemon, and every option that has no
counterpart, or a different meaning here, is reported with why. The translation is written out
once, as data (``PROGRAM_OPTIONS``: option -> what becomes of it), so the migration guide and
the tests read the same table. supervisord's expansions (``%(program_name)s``,
``%(process_num)02d``, ``%(group_name)s``, ``%(here)s``, ``%(ENV_X)s``...) are expanded as
supervisord would at load time; ``numprocs = N`` becomes N programs named by ``process_name``.

Reading the files (and ``[include]`` globs) is done by ``read_config``; ``translate`` is pure.
"""

from __future__ import annotations

import configparser
import glob
import json
import os
import re
import shlex
import socket
from typing import TYPE_CHECKING, Final, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

__all__ = [
    "PROGRAM_OPTIONS",
    "Conversion",
    "ConvertError",
    "Note",
    "read_config",
    "to_toml",
    "translate",
]


class Note(NamedTuple):
    """Something the translation could not carry over as it was: where, and why."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class Conversion(NamedTuple):
    """The translated config (a TOML-ready table) and what could not be translated."""

    config: dict[str, object]
    notes: list[Note]


class ConvertError(Exception):
    """The supervisord config cannot be read at all (a file is missing, the INI is broken)."""

    exit_code = 2


# Each supervisord [program:x] option -> our field (a dotted path), or None with the reason it
# has no counterpart. Options handled by hand (their value changes shape) are named in _SPECIAL.
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

_BOOLS: Final = {"true": True, "yes": True, "on": True, "1": True}
_BOOLS_FALSE: Final = {"false", "no", "off", "0"}
_SIZE: Final = re.compile(r"(?i)\s*(\d+)\s*(kb|mb|gb)?\s*")
_EXPANSION: Final = re.compile(r"%\((\w+)\)([-#0 +]*\d*[sd])")
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
            pattern = _expand(pattern, {"here": here}, path, [])
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
    count = _int(options.pop("numprocs", "1"), where, "numprocs", notes) or 1
    start = _int(options.pop("numprocs_start", "0"), where, "numprocs_start", notes) or 0
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
        own = _expand(process_name, values, where, notes)
        values["process_name"] = own
        table = _program_table(
            {k: _expand(v, values, where, notes) for k, v in options.items()},
            where,
            notes if num == start else [],
        )
        translated.append((_name(own, where, notes), table))
    if count > 1:
        names = ", ".join(n for n, _ in translated)
        notes.append(Note(where, f"numprocs = {count}: translated as {count} programs ({names})"))
    return translated


def _program_table(options: dict[str, str], where: str, notes: list[Note]) -> dict[str, object]:
    table: dict[str, object] = {}
    log: dict[str, object] = {}
    handlers: dict[str, Callable[[str], None]] = {
        "command": lambda v: table.__setitem__("command", _command(v, where, notes)),
        "priority": lambda v: _set(table, "priority", _priority(v, where, notes)),
        "autostart": lambda v: _set(table, "autostart", _bool(v, where, "autostart", notes)),
        "startsecs": lambda v: _set(table, "start_seconds", _number(v, where, "startsecs", notes)),
        "startretries": lambda v: _set(
            table, "start_retries", _int(v, where, "startretries", notes)
        ),
        "autorestart": lambda v: _set(table, "autorestart", _autorestart(v, where, notes)),
        "exitcodes": lambda v: _set(table, "exit_codes", _codes(v, where, notes)),
        "stopsignal": lambda v: table.__setitem__("stop_signal", v.strip().upper()),
        "stopwaitsecs": lambda v: _set(
            table, "stop_timeout", _positive(v, where, "stopwaitsecs", notes)
        ),
        "user": lambda v: table.__setitem__("user", v.strip()),
        "directory": lambda v: table.__setitem__("cwd", v.strip()),
        "umask": lambda v: _set(table, "umask", _octal(v, where, notes)),
        "environment": lambda v: _set(table, "env", _environment(v, where, notes)),
        "redirect_stderr": lambda v: _set(log, "merge", _bool(v, where, "redirect_stderr", notes)),
        "stdout_logfile": lambda v: log.__setitem__("stdout", _log_target(v, "stdout")),
        "stderr_logfile": lambda v: log.__setitem__("stderr", _log_target(v, "stderr")),
        "stdout_logfile_maxbytes": lambda v: _set(log, "max_bytes", _size(v, where, notes)),
        "stdout_logfile_backups": lambda v: _set(log, "backups", _int(v, where, "backups", notes)),
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
                    _size(value, where, notes)
                    if ours == "max_bytes"
                    else _int(value, where, key, notes)
                )
                _set(log, ours, size)
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
        value = _expand(raw, base, where, notes)
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
        value = _expand(raw, base, where, notes)
        if key == "file":
            daemon["socket"] = value
        elif key == "chmod":
            mode = _octal(value, where, notes)
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


# -- values ---------------------------------------------------------------------------------


def _expand(text: str, values: Mapping[str, str], where: str, notes: list[Note]) -> str:
    """supervisord's ``%(name)s`` / ``%(name)02d`` expansions, as it does at load time."""

    def one(match: re.Match[str]) -> str:
        key, spec = match.group(1), match.group(2)
        if key not in values:
            notes.append(Note(where, f"%({key}){spec}: unknown expansion, left as written"))
            return match.group(0)
        value = values[key]
        if spec.endswith("d"):
            try:
                return ("%" + spec) % int(value)
            except ValueError:
                return value
        return value

    return _EXPANSION.sub(one, text).replace("%%", "%")


def _name(text: str, where: str, notes: list[Note]) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", text).lstrip("_.-")[:64] or "program"
    if cleaned != text:
        notes.append(Note(where, f"program name {text!r} becomes {cleaned!r}"))
    return cleaned


def _set(table: dict[str, object], key: str, value: object) -> None:
    if value is not None:
        table[key] = value


def _command(value: str, where: str, notes: list[Note]) -> object:
    try:
        argv = shlex.split(value)
    except ValueError as exc:
        notes.append(Note(where, f"command: cannot split {value!r}: {exc}; kept as a string"))
        return value
    if any(c in value for c in "|&;<>$`") and argv and argv[0] not in ("sh", "bash"):
        notes.append(
            Note(
                where,
                "command: supervisord runs no shell either; shell syntax in it "
                "is passed as arguments (wrap it in sh -c if a shell was meant)",
            )
        )
    return argv


def _bool(value: str, where: str, key: str, notes: list[Note]) -> bool | None:
    lowered = value.strip().lower()
    if lowered in _BOOLS:
        return True
    if lowered in _BOOLS_FALSE:
        return False
    notes.append(Note(where, f"{key}: {value!r} is not a boolean, not translated"))
    return None


def _int(value: str, where: str, key: str, notes: list[Note]) -> int | None:
    try:
        return int(value.strip())
    except ValueError:
        notes.append(Note(where, f"{key}: {value!r} is not an integer, not translated"))
        return None


def _number(value: str, where: str, key: str, notes: list[Note]) -> float | None:
    number = _int(value, where, key, notes)
    return None if number is None else float(number)


def _positive(value: str, where: str, key: str, notes: list[Note]) -> float | None:
    number = _number(value, where, key, notes)
    if number is not None and number <= 0:
        notes.append(
            Note(
                where,
                f"{key}: {value} means no wait in supervisord; we need a "
                "positive stop_timeout, 0.1 s is used",
            )
        )
        return 0.1
    return number


def _priority(value: str, where: str, notes: list[Note]) -> int | None:
    theirs = _int(value, where, "priority", notes)
    return None if theirs is None else _THEIR_DEFAULT_PRIORITY + 100 - theirs


def _autorestart(value: str, where: str, notes: list[Note]) -> str | None:
    lowered = value.strip().lower()
    if lowered == "unexpected":
        return "on-failure"
    flag = _bool(value, where, "autorestart", notes)
    return None if flag is None else ("always" if flag else "never")


def _codes(value: str, where: str, notes: list[Note]) -> list[int] | None:
    codes = [_int(c, where, "exitcodes", notes) for c in value.split(",") if c.strip()]
    return None if None in codes else [c for c in codes if c is not None]


def _octal(value: str, where: str, notes: list[Note]) -> int | None:
    try:
        return int(value.strip(), 8)
    except ValueError:
        notes.append(Note(where, f"{value!r} is not an octal mode, not translated"))
        return None


def _size(value: str, where: str, notes: list[Note]) -> int | None:
    match = _SIZE.fullmatch(value)
    if match is None:
        notes.append(Note(where, f"{value!r} is not a size (like 50MB), not translated"))
        return None
    unit = (match.group(2) or "").lower()
    return int(match.group(1)) * {"": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}[unit]


def _log_target(value: str, stream: str) -> str:
    target = value.strip()
    if target.upper() == "AUTO":
        return "auto"
    if target.upper() == "NONE":
        return "none"
    if target in ("/dev/stdout", "/dev/stderr", "/dev/fd/1", "/dev/fd/2"):
        return "inherit"
    return target


def _environment(value: str, where: str, notes: list[Note]) -> dict[str, str] | None:
    """``KEY="v a",KEY2=v2``: supervisord's comma-separated, optionally quoted pairs."""
    lexer = shlex.shlex(value, posix=True)
    lexer.whitespace = ","
    lexer.whitespace_split = True
    lexer.commenters = ""
    env: dict[str, str] = {}
    try:
        pairs = list(lexer)
    except ValueError as exc:
        notes.append(Note(where, f"environment: cannot parse {value!r}: {exc}"))
        return None
    for pair in pairs:
        key, sep, val = pair.strip().partition("=")
        if not sep or not key:
            notes.append(Note(where, f"environment: {pair!r} is not KEY=value, skipped"))
            continue
        env[key.strip()] = val
    return env


def to_toml(conversion: Conversion, source: str) -> str:
    """The translated config as TOML text, led by a comment naming its source and what was not
    translated. Written here rather than by a TOML library so that arrays stay on one line and
    modes read as octal, the way an operator writes them."""
    lines = [f"# Translated from {source} by supervisord-lite convert."]
    if conversion.notes:
        lines.append("# Not translated as it was:")
        lines.extend(f"#   {note}" for note in conversion.notes)
    _emit_table([], conversion.config, lines)
    return "\n".join(lines) + "\n"


_BARE_KEY: Final = re.compile(r"[A-Za-z0-9_-]+")
_OCTAL_KEYS: Final = frozenset({"socket_mode", "umask"})


def _emit_table(path: list[str], table: Mapping[str, object], lines: list[str]) -> None:
    scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
    if path and (scalars or not table):
        lines.extend(("", f"[{'.'.join(_key(p) for p in path)}]"))
    lines.extend(f"{_key(k)} = {_value(k, v)}" for k, v in scalars.items())
    for key, value in table.items():
        if isinstance(value, dict):
            _emit_table([*path, key], value, lines)


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key, ensure_ascii=False)


def _value(key: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"0o{value:o}" if key in _OCTAL_KEYS else str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(key, v) for v in value) + "]"
    # TOML basic strings take JSON's escapes.
    return json.dumps(str(value), ensure_ascii=False)
