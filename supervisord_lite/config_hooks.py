"""Hook tables of the config: commands the daemon runs around a program's runs.

``pre_start``, ``post_start``, ``pre_stop``, ``post_stop`` and ``stop_command`` are each
written as a command (an argv array, or a string split the way a POSIX shell would, never run
by one) or as a table ``{ command = [...], timeout = "10s" }`` (seconds, or a duration). A hook
runs as the program would (its user, environment and folder) in its own process group, killed
whole when it overruns its ``timeout``; what a failure means depends on the hook
(docs/config.md). Pure.
"""

from __future__ import annotations

from typing import Annotated, Final

import msgspec
from msgspec import Meta

from supervisord_lite.config_restarts import parse_duration
from supervisord_lite.config_tables import INVALID, Argv, command, table
from supervisord_lite.errors import Problem

__all__ = ["HOOK_DEFAULT_TIMEOUT", "HOOK_FIELDS", "Hook", "hook"]

HOOK_DEFAULT_TIMEOUT: Final = 30.0
HOOK_FIELDS: Final = ("pre_start", "post_start", "pre_stop", "post_stop", "stop_command")
"""The ProgramConfig fields that hold a hook, in the order a run meets them (stop_command
in place of the stop signal)."""


class Hook(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One hook: the command and how long it may run (seconds) before its group is killed."""

    command: Argv
    timeout: Annotated[float, Meta(gt=0)] = HOOK_DEFAULT_TIMEOUT


def hook(raw: object, where: str, problems: list[Problem]) -> object:
    """A hook written as a command, or as a table with ``command`` and ``timeout``."""
    if not isinstance(raw, dict):
        argv = command(raw, where, problems)
        return INVALID if argv is INVALID else Hook(command=argv)  # type: ignore[arg-type]
    before = len(problems)
    special = {"command": command, "timeout": _timeout}
    values = table(raw, Hook, where, problems, special=special)
    return INVALID if len(problems) > before else Hook(**values)


def _timeout(raw: object, where: str, problems: list[Problem]) -> object:
    """Seconds, as a number or a duration (``"10s"``, ``"2m"``), above 0."""
    seconds = parse_duration(raw, where, problems)
    if seconds is None:
        return INVALID
    if seconds <= 0:
        problems.append(Problem(where, "must be > 0"))
        return INVALID
    return seconds
