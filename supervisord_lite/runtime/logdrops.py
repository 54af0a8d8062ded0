"""Dropped output as events: a program whose log queue dropped bytes (its ``overflow`` policy,
docs/config.md) gets a ``log`` event saying how much, at most one per stream a second.

A flood that drops on every chunk costs a comparison per chunk and one timer on the daemon's
``Deadlines`` a second, and no task; each event counts the bytes dropped since the last one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import trio

from supervisord_lite.runtime.reports import noted

if TYPE_CHECKING:
    from collections.abc import Callable

    from supervisord_lite import lifecycle as lc
    from supervisord_lite.runtime.logs.streams import LogStream
    from supervisord_lite.runtime.services import RunnerServices

__all__ = ["INTERVAL", "LogDrops"]

#: At most one ``log`` event per stream this often (seconds).
INTERVAL: Final = 1.0


class LogDrops:
    """Tells the event log of one program's dropped output; ``watch`` its streams."""

    __slots__ = ("_due", "_name", "_services", "_snapshot", "_told", "_told_at")

    def __init__(
        self, name: str, services: RunnerServices, snapshot: Callable[[], lc.Snapshot]
    ) -> None:
        self._name = name
        self._services = services
        self._snapshot = snapshot
        self._told: dict[str, int] = {}  # stream -> bytes dropped when last told
        self._told_at: dict[str, float] = {}
        self._due: set[str] = set()

    def watch(self, streams: list[LogStream]) -> None:
        for stream in streams:
            stream.on_dropped = self.dropped

    def dropped(self, stream: LogStream) -> None:
        """``stream`` dropped bytes: tell now, or once ``INTERVAL`` after the last time."""
        key = stream.stream
        if key in self._due:
            return
        due = self._told_at.get(key, float("-inf")) + INTERVAL
        if trio.current_time() >= due:
            self._tell(stream)
        else:
            self._due.add(key)
            self._services.deadlines.at(due, lambda: self._tell(stream))

    def _tell(self, stream: LogStream) -> None:
        key = stream.stream
        self._due.discard(key)
        total = stream.bytes_dropped
        new = total - self._told.get(key, 0)
        if new <= 0:
            return
        self._told[key] = total
        self._told_at[key] = trio.current_time()
        snap = self._snapshot()
        policy = stream.buffer.policy.value
        self._services.events.publish(
            noted(
                self._name,
                snap,
                "log",
                f"{key}: {new} bytes dropped ({total} in all; overflow = {policy})",
                at=self._services.wall_clock(),
            )
        )
