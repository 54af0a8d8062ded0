"""What the fault tests share: both containment modes, and bounded waits for what a program
reports through a file."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

#: Parametrize a test over both containment modes (cgroups need root here).
CONTAINMENT_MODES = [
    pytest.param(
        "cgroup",
        marks=pytest.mark.skipif(os.geteuid() != 0, reason="a writable cgroup2 tree needs root"),
    ),
    "subreaper",
]


def wait_until(predicate: Callable[[], object], what: str, within: float = 20.0) -> None:
    """Return once ``predicate()`` is true; AssertionError naming ``what`` after ``within``."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def read_pid_file(path: Path) -> int:
    """The pid a program wrote to ``path``, once it is there."""
    wait_until(lambda: path.exists() and path.read_text().strip(), f"a pid in {path}")
    return int(path.read_text())


def ignores_term(pid: int) -> bool:
    """Whether the process ignores SIGTERM yet (a shell that ran ``trap '' TERM``): a test
    that stops a TERM-ignoring program waits for this, or the TERM may come first."""
    with open(f"/proc/{pid}/status") as status:
        ignored = next(line for line in status if line.startswith("SigIgn:"))
    return bool(int(ignored.split()[1], 16) & (1 << (15 - 1)))
