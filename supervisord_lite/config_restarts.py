"""Restart tables of the config: ``[programs.NAME.permafail]`` and
``[programs.NAME.restart_when]``, and the sizes and durations they are written in.

A duration is a number of seconds or a string with a unit (``"500ms"``, ``"60s"``, ``"5m"``,
``"1h"``); a size is a number of bytes or a string with a unit (``"512MiB"``: ``K``/``KiB``,
``M``/``MiB``, ``G``/``GiB``, ``T``/``TiB`` are powers of 1024, ``KB``, ``MB``, ``GB``, ``TB``
powers of 1000). After ``config.load`` both are plain numbers. Pure.
"""

from __future__ import annotations

import re
from typing import Annotated, Final

import msgspec
from msgspec import Meta

from supervisord_lite import config_wording as wording
from supervisord_lite.config_tables import INVALID, table
from supervisord_lite.config_values import signal_name
from supervisord_lite.errors import Problem
from supervisord_lite.lifecycle.states import DEATH_TALLY

__all__ = [
    "MIN_MEMORY",
    "PermafailConfig",
    "RestartWhen",
    "check_permafail",
    "parse_duration",
    "parse_size",
    "permafail",
    "restart_when",
]

MIN_MEMORY: Final = 1024 * 1024
"""The smallest ``restart_when.memory`` (1 MiB): below it no program would ever run."""

_DURATION: Final = re.compile(r"(?P<n>[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>ms|s|m|h)")
_SECONDS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_SIZE: Final = re.compile(r"(?P<n>[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>[KMGT]i?B?|B)?", re.IGNORECASE)
_POWERS: Final = {"K": 1, "M": 2, "G": 3, "T": 4}


class PermafailConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[programs.NAME.permafail]``: ``deaths`` deaths within ``window`` seconds, each with a
    code in ``exit_codes`` or a signal in ``signals``, make the program FATAL at once."""

    deaths: Annotated[int, Meta(ge=1, le=DEATH_TALLY)]
    window: Annotated[float, Meta(gt=0)]
    exit_codes: tuple[Annotated[int, Meta(ge=0, le=255)], ...] = ()
    signals: tuple[str, ...] = ()


class RestartWhen(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[programs.NAME.restart_when]``: restart a run that stays above ``memory`` bytes
    (None: never), measured from the run's cgroup or sampled every ``memory_interval``
    seconds."""

    memory: Annotated[int, Meta(ge=MIN_MEMORY)] | None = None
    memory_interval: Annotated[float, Meta(gt=0)] = 10.0


def parse_duration(raw: object, where: str, problems: list[Problem]) -> float | None:
    """Seconds from a number or a string with a unit; None (and a problem) otherwise."""
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw)
    if isinstance(raw, str):
        found = _DURATION.fullmatch(raw.strip())
        if found is not None:
            return float(found["n"]) * _SECONDS[found["unit"]]
    message = f'expected seconds or a duration as "500ms", "60s", "5m", "1h"; got {raw!r}'
    problems.append(Problem(where, message))
    return None


def parse_size(raw: object, where: str, problems: list[Problem]) -> int | None:
    """Bytes from an integer or a string with a unit; None (and a problem) otherwise."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        found = _SIZE.fullmatch(raw.strip())
        if found is not None:
            unit = (found["unit"] or "B").upper()
            if unit == "B":
                return int(float(found["n"]))
            base = 1000 if len(unit) == 2 and unit.endswith("B") else 1024
            return int(float(found["n"]) * base ** _POWERS[unit[0]])
    message = f'expected bytes or a size as "512MiB", "2G", "100MB"; got {raw!r}'
    problems.append(Problem(where, message))
    return None


def check_permafail(rule: PermafailConfig, where: str, problems: list[Problem]) -> None:
    """A rule needs something to match: exit codes, signals, or both."""
    if not rule.exit_codes and not rule.signals:
        problems.append(Problem(where, "needs exit_codes or signals (or both) to match deaths"))


def permafail(raw: object, where: str, problems: list[Problem]) -> object:
    """A ``permafail`` table: ``window`` a duration, ``signals`` known names, something to
    match."""
    before = len(problems)
    given = dict(raw) if isinstance(raw, dict) else raw
    if isinstance(given, dict) and "window" in given:
        given["window"] = parse_duration(given["window"], wording.join(where, "window"), problems)
    if isinstance(given, dict) and isinstance(given.get("signals"), list):
        given["signals"] = [
            signal_name(s, f"{wording.join(where, 'signals')}[{i}]", problems)
            for i, s in enumerate(given["signals"])
        ]
    if len(problems) > before:
        return INVALID
    values = table(given, PermafailConfig, where, problems)
    if len(problems) > before:
        return INVALID
    rule = PermafailConfig(**values)
    check_permafail(rule, where, problems)
    return rule if len(problems) == before else INVALID


def restart_when(raw: object, where: str, problems: list[Problem]) -> object:
    """A ``restart_when`` table: ``memory`` a size, ``memory_interval`` a duration."""
    before = len(problems)
    given = dict(raw) if isinstance(raw, dict) else raw
    if isinstance(given, dict) and "memory" in given:
        given["memory"] = parse_size(given["memory"], wording.join(where, "memory"), problems)
    if isinstance(given, dict) and "memory_interval" in given:
        interval = wording.join(where, "memory_interval")
        given["memory_interval"] = parse_duration(given["memory_interval"], interval, problems)
    if len(problems) > before:
        return INVALID
    values = table(given, RestartWhen, where, problems)
    return INVALID if len(problems) > before else RestartWhen(**values)
