"""Linux signal names and numbers, as data.

The pure core (config validation, rendering of exit statuses) needs signal names without importing
``signal``, which belongs to the runtime. The numbers are the Linux ones shared by x86_64 and arm64;
a test checks them against the ``signal`` module.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

SIGNALS: Mapping[str, int] = MappingProxyType(
    {
        "HUP": 1,
        "INT": 2,
        "QUIT": 3,
        "ILL": 4,
        "TRAP": 5,
        "ABRT": 6,
        "BUS": 7,
        "FPE": 8,
        "KILL": 9,
        "USR1": 10,
        "SEGV": 11,
        "USR2": 12,
        "PIPE": 13,
        "ALRM": 14,
        "TERM": 15,
        "STKFLT": 16,
        "CHLD": 17,
        "CONT": 18,
        "STOP": 19,
        "TSTP": 20,
        "TTIN": 21,
        "TTOU": 22,
        "URG": 23,
        "XCPU": 24,
        "XFSZ": 25,
        "VTALRM": 26,
        "PROF": 27,
        "WINCH": 28,
        "IO": 29,
        "PWR": 30,
        "SYS": 31,
    }
)
"""Bare upper-case name (``"TERM"``) to number."""

_NAMES: Mapping[int, str] = MappingProxyType({number: name for name, number in SIGNALS.items()})


def normalise(text: str) -> str | None:
    """The bare upper-case name for ``"TERM"``, ``"SIGTERM"`` or ``"term"``; None if unknown."""
    name = text.strip().upper()
    if name.startswith("SIG") and name[3:] in SIGNALS:
        name = name[3:]
    return name if name in SIGNALS else None


def signal_number(name: str) -> int:
    """The number of a signal name in any spelling ``normalise`` accepts.

    Raises ValueError for a name that is not a Linux signal.
    """
    bare = normalise(name)
    if bare is None:
        raise ValueError(f"unknown signal {name!r}")
    return SIGNALS[bare]


def signal_name(number: int) -> str | None:
    """The bare name of a signal number (``15`` -> ``"TERM"``); None for real-time ones."""
    return _NAMES.get(number)
