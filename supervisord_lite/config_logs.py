"""Where a program's output goes: ``[programs.NAME.log]``, its targets and rotation.

A stream's target is ``auto`` (a file named for the program in the daemon's ``log_dir``), a
path, ``inherit`` (the daemon's own stdout or stderr) or ``none``; after conversion it is an
absolute path, ``INHERIT`` or None, so the runtime never resolves a name. Two streams never
share one file: they would interleave and rotate each other's output. Pure.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Annotated, Final, Literal

import msgspec
from msgspec import Meta

from supervisord_lite import config_wording as wording
from supervisord_lite.config_tables import INVALID, convert, table
from supervisord_lite.config_values import NonEmptyStr, NonNegativeInt, non_empty, resolve
from supervisord_lite.errors import Problem

if TYPE_CHECKING:
    from collections.abc import Mapping

    from supervisord_lite.config_program import ProgramConfig

__all__ = ["INHERIT", "ROTATE_EVERY_PATTERN", "LogConfig", "check_log_paths", "log"]

MiB: Final = 1024 * 1024

ROTATE_EVERY_PATTERN: Final = "^[1-9][0-9]{0,5}[mhd]$"
"""A log rotation period: a whole number of minutes, hours or days (``"10m"``, ``"1d"``)."""

_DURATION_UNITS: Final = {"m": 60, "h": 3600, "d": 86400}

INHERIT: Final = "inherit"
"""A log target: the program writes straight to the daemon's own stdout or stderr (a
container's log, the journal under systemd); not captured, so not in ``svctl logs``."""


class LogConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where a program's output goes: ``stdout``/``stderr`` are absolute paths, ``INHERIT``,
    or None (discarded)."""

    stdout: NonEmptyStr | None = "auto"
    stderr: NonEmptyStr | None = "auto"
    merge: bool = False
    max_bytes: NonNegativeInt = 50 * MiB
    backups: NonNegativeInt = 10
    queue_bytes: Annotated[int, Meta(ge=4096)] = MiB
    overflow: Literal["block", "drop-oldest", "drop-newest"] = "block"
    timestamps: bool = False
    format: Literal["text", "json"] = "text"
    rotate_every: Annotated[str, Meta(pattern=ROTATE_EVERY_PATTERN)] | None = None

    @property
    def rotate_seconds(self) -> int:
        """``rotate_every`` in seconds; 0 when files are not rotated by time."""
        if self.rotate_every is None:
            return 0
        return int(self.rotate_every[:-1]) * _DURATION_UNITS[self.rotate_every[-1]]


def log(
    raw: object, name: str, log_dir: str, base: str, where: str, problems: list[Problem]
) -> LogConfig:
    """Resolve ``auto``/``none``/``inherit``/a path for each stream; merged stderr goes into
    stdout."""
    before = len(problems)
    special = {"stdout": non_empty, "stderr": non_empty, "rotate_every": _rotate_every}
    values = table(raw, LogConfig, where, problems, special=special)
    targets: dict[str, str | None] = {}
    for stream in ("stdout", "stderr"):
        target = values.get(stream, "auto")
        if target == "auto":
            targets[stream] = os.path.join(log_dir, f"{name}.{stream}.log")
        elif target == "none":
            targets[stream] = None
        elif target == INHERIT:
            targets[stream] = INHERIT
        elif isinstance(target, str):
            targets[stream] = resolve(base, target)
    if values.get("merge") is True:
        if "stderr" in values:
            message = "cannot be set when merge = true (stderr goes into stdout)"
            problems.append(Problem(wording.join(where, "stderr"), message))
        targets["stderr"] = None
    if values.get("format") == "json" and values.get("timestamps") is True:
        message = 'cannot be set with format = "json" (each JSON line has its own time)'
        problems.append(Problem(wording.join(where, "timestamps"), message))
    if len(problems) > before:
        return LogConfig()
    return LogConfig(**(values | targets))


def _rotate_every(raw: object, where: str, problems: list[Problem]) -> object:
    text = convert(raw, str, where, problems)
    if not isinstance(text, str):
        return INVALID
    if re.fullmatch(ROTATE_EVERY_PATTERN, text) is None:
        message = f'must be minutes, hours or days, as "10m", "1h" or "1d"; got {text!r}'
        problems.append(Problem(where, message))
        return INVALID
    return text


def check_log_paths(programs: Mapping[str, ProgramConfig], problems: list[Problem]) -> None:
    """Two streams writing (and rotating) one file would interleave and lose output."""
    owners: dict[str, str] = {}
    for name, program in programs.items():
        for stream, target in (("stdout", program.log.stdout), ("stderr", program.log.stderr)):
            if target is None or target == INHERIT:
                continue
            where = f"{wording.join('$.programs', name)}.log.{stream}"
            first = owners.setdefault(target, where)
            if first != where:
                problems.append(Problem(where, f"same file as {first} ({target})"))
