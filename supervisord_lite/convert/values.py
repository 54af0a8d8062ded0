"""supervisord's option values read the way supervisord reads them: booleans, sizes (``50MB``),
octal modes, ``KEY="v",K2=v`` environments, ``%(name)s`` expansions; each problem becomes a
``Note`` instead of an exception. Pure."""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING, Final

from supervisord_lite.convert.model import Note

if TYPE_CHECKING:
    from collections.abc import Mapping

_BOOLS: Final = {"true": True, "yes": True, "on": True, "1": True}
_BOOLS_FALSE: Final = {"false", "no", "off", "0"}
_SIZE: Final = re.compile(r"(?i)\s*(\d+)\s*(kb|mb|gb)?\s*")
_EXPANSION: Final = re.compile(r"%\((\w+)\)([-#0 +]*\d*[sd])")
# supervisord's default priority; ours is 100. Both orders are kept by ``priority``.
_THEIR_DEFAULT_PRIORITY: Final = 999


def expand(text: str, values: Mapping[str, str], where: str, notes: list[Note]) -> str:
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


def program_name(text: str, where: str, notes: list[Note]) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", text).lstrip("_.-")[:64] or "program"
    if cleaned != text:
        notes.append(Note(where, f"program name {text!r} becomes {cleaned!r}"))
    return cleaned


def set_value(table: dict[str, object], key: str, value: object) -> None:
    if value is not None:
        table[key] = value


def command(value: str, where: str, notes: list[Note]) -> object:
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


def boolean(value: str, where: str, key: str, notes: list[Note]) -> bool | None:
    lowered = value.strip().lower()
    if lowered in _BOOLS:
        return True
    if lowered in _BOOLS_FALSE:
        return False
    notes.append(Note(where, f"{key}: {value!r} is not a boolean, not translated"))
    return None


def integer(value: str, where: str, key: str, notes: list[Note]) -> int | None:
    try:
        return int(value.strip())
    except ValueError:
        notes.append(Note(where, f"{key}: {value!r} is not an integer, not translated"))
        return None


def number(value: str, where: str, key: str, notes: list[Note]) -> float | None:
    whole = integer(value, where, key, notes)
    return None if whole is None else float(whole)


def positive(value: str, where: str, key: str, notes: list[Note]) -> float | None:
    seconds = number(value, where, key, notes)
    if seconds is not None and seconds <= 0:
        notes.append(
            Note(
                where,
                f"{key}: {value} means no wait in supervisord; we need a "
                "positive stop_timeout, 0.1 s is used",
            )
        )
        return 0.1
    return seconds


def priority(value: str, where: str, notes: list[Note]) -> int | None:
    theirs = integer(value, where, "priority", notes)
    return None if theirs is None else _THEIR_DEFAULT_PRIORITY + 100 - theirs


def autorestart(value: str, where: str, notes: list[Note]) -> str | None:
    lowered = value.strip().lower()
    if lowered == "unexpected":
        return "on-failure"
    flag = boolean(value, where, "autorestart", notes)
    return None if flag is None else ("always" if flag else "never")


def codes(value: str, where: str, notes: list[Note]) -> list[int] | None:
    codes = [integer(c, where, "exitcodes", notes) for c in value.split(",") if c.strip()]
    return None if None in codes else [c for c in codes if c is not None]


def octal(value: str, where: str, notes: list[Note]) -> int | None:
    try:
        return int(value.strip(), 8)
    except ValueError:
        notes.append(Note(where, f"{value!r} is not an octal mode, not translated"))
        return None


def size(value: str, where: str, notes: list[Note]) -> int | None:
    match = _SIZE.fullmatch(value)
    if match is None:
        notes.append(Note(where, f"{value!r} is not a size (like 50MB), not translated"))
        return None
    unit = (match.group(2) or "").lower()
    return int(match.group(1)) * {"": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}[unit]


def log_target(value: str, stream: str) -> str:
    target = value.strip()
    if target.upper() == "AUTO":
        return "auto"
    if target.upper() == "NONE":
        return "none"
    if target in ("/dev/stdout", "/dev/stderr", "/dev/fd/1", "/dev/fd/2"):
        return "inherit"
    return target


def environment(value: str, where: str, notes: list[Note]) -> dict[str, str] | None:
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
