"""The ten scenarios of ``../shared/peers.md``; each module has ID, TITLE, FAMILY, METRICS, run."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from bench.peers.base import BenchTimeout, Program

if TYPE_CHECKING:
    from collections.abc import Callable

    from bench.peers.base import Peer

ORDER = ("S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8", "S9", "S10")


def sleepers(n: int, *, prefix: str = "p", **kw: object) -> list[Program]:
    width = max(3, len(str(n)))
    return [
        Program(name=f"{prefix}{i:0{width}d}", argv=("sleep", "3600"), **kw)  # type: ignore[arg-type]
        for i in range(1, n + 1)
    ]


def until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.005) -> float:
    """Poll ``check`` until true (bounded); the monotonic time it first was."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return time.monotonic()
        if time.monotonic() > deadline:
            raise BenchTimeout(f"{what}: not after {timeout:g}s")
        time.sleep(interval)


def first_pid(peer: Peer, name: str, timeout: float = 5.0) -> int:
    """The pid of the program's process, as its peer's client reports it (bounded wait)."""
    found: list[int] = []

    def check() -> bool:
        found[:] = peer.pids_of(name)
        return bool(found)

    until(check, timeout, f"{name}'s pid")
    return found[0]


def load(sid: str):  # type: ignore[no-untyped-def]
    import importlib

    return importlib.import_module(f"bench.scenarios.{sid.lower()}")
