"""When a scheduled program is due: ``schedule`` (cron) or ``every`` (a fixed period).

Pure: times are wall-clock epoch seconds passed in, never read here. Cron expressions are
evaluated by ``cronsim`` (five fields, ``L``/``W``/``#``, names of days and months, and daylight
saving time handled as Debian's cron does) in the program's ``schedule_tz``, an IANA zone name
(``UTC`` by default, so a schedule never moves with the host's zone unless asked to). ``every``
runs are counted from the program's last due run (a grid: ``last + k * period``), or from
``now`` for a program that never ran, so a daemon restart does not shift them.

A run is *missed* when one fell due between the last recorded due run and ``now`` (the daemon
was down): ``catch_up = "one"`` runs it once at start-up, ``"none"`` waits for the next one.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from cronsim import CronSim, CronSimError

if TYPE_CHECKING:
    from supervisord_lite.config import ProgramConfig

__all__ = [
    "EVERY_PATTERN",
    "ScheduleSpec",
    "check_cron",
    "check_zone",
    "every_seconds",
    "spec_of",
]

EVERY_PATTERN: Final = "^[1-9][0-9]{0,6}[smhd]$"
"""A period: a whole number of seconds, minutes, hours or days (``"30s"``, ``"10m"``)."""
_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def every_seconds(text: str) -> int:
    """``"10m"`` -> 600.

    Raises:
        ValueError: not a period of ``EVERY_PATTERN``.
    """
    if re.fullmatch(EVERY_PATTERN, text) is None:
        message = f'must be seconds, minutes, hours or days, as "30s" or "10m"; got {text!r}'
        raise ValueError(message)
    return int(text[:-1]) * _UNITS[text[-1]]


def check_cron(expression: str) -> str | None:
    """Why ``expression`` is not a cron schedule cronsim accepts; None when it is."""
    try:
        CronSim(expression, datetime(2000, 1, 1, tzinfo=UTC))
    except CronSimError as exc:
        return str(exc) or "not a cron expression"
    return None


def check_zone(name: str) -> str | None:
    """Why ``name`` is not a time zone this host knows; None when it is."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        return f"unknown time zone {name!r}: {exc}"
    return None


class ScheduleSpec:
    """A program's schedule, ready to answer when its runs are due."""

    __slots__ = ("cron", "period", "zone")

    def __init__(self, *, cron: str | None, period: int | None, zone: str) -> None:
        self.cron = cron
        self.period = period
        self.zone = zoneinfo.ZoneInfo(zone)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ScheduleSpec) and (self.cron, self.period, self.zone) == (
            other.cron,
            other.period,
            other.zone,
        )

    __hash__ = None  # type: ignore[assignment]

    def next_due(self, now: float, last: float | None) -> float:
        """The first due time strictly after ``now``, given the last due run ``last``."""
        if self.period is not None:
            start = now if last is None else last
            if start > now:
                return start + self.period
            steps = int((now - start) // self.period) + 1
            return start + steps * self.period
        assert self.cron is not None
        # cronsim answers the first matching minute strictly after the time it is given.
        return next(iter(CronSim(self.cron, datetime.fromtimestamp(now, self.zone)))).timestamp()

    def missed(self, now: float, last: float | None) -> float | None:
        """The latest due time after ``last`` and at or before ``now`` (a run missed while
        the daemon was down); None when none was, or the program never ran."""
        if last is None:
            return None
        if self.period is not None:
            steps = int((now - last) // self.period)
            return last + steps * self.period if steps >= 1 else None
        due = self.next_due(last, last)
        if due > now:
            return None
        while True:
            later = self.next_due(due, last)
            if later > now:
                return due
            due = later


def spec_of(program: ProgramConfig) -> ScheduleSpec | None:
    """The program's schedule; None for a program that is not scheduled."""
    if program.schedule is None and program.every is None:
        return None
    period = every_seconds(program.every) if program.every is not None else None
    return ScheduleSpec(cron=program.schedule, period=period, zone=program.schedule_tz)
