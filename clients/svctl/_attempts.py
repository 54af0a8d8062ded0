"""Each attempt of a start, shown on stderr while ``svctl start`` (or ``restart``) blocks.

A start that retries can take many seconds (``start_retries`` tries, each up to
``start_seconds``, with backoff between them) before the daemon answers with the outcome.
On a terminal, or with ``--verbose``, the CLI opens a second connection, subscribes to the
daemon's events *before* it sends the start, and prints each attempt of the named programs
as it happens (``web: attempt 2: starting (pid 4242)``, ``web: attempt 2 failed (exit 1):
backoff, will retry``); the outcome line on stdout follows as before. Pushed events, not
polling: the watcher's thread sleeps in ``recv`` until the daemon says something.

The watcher ends when the start returns (its stream is closed from the caller's thread).
"""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, TextIO

from svctl import Client, StateChanged, render

if TYPE_CHECKING:
    from collections.abc import Collection
    from types import TracebackType

    from svctl import DaemonEvent, Missed, SyncPushStream

__all__ = ["AttemptWatcher"]

_SHOWN = frozenset({"STARTING", "BACKOFF"})


class AttemptWatcher:
    """Prints the attempts of ``names`` (every program when empty) on ``out`` for the length
    of a ``with`` block, from its own connection to ``socket``."""

    def __init__(
        self, socket: str, names: Collection[str], *, timeout: float, out: TextIO | None = None
    ) -> None:
        self._names = frozenset(names)
        self._out = out if out is not None else sys.stderr
        self._client = Client(socket, timeout=timeout)
        self._stream: SyncPushStream[StateChanged | DaemonEvent | Missed] | None = None
        self._thread: threading.Thread | None = None
        self._attempts: dict[str, int] = {}

    def __enter__(self) -> AttemptWatcher:
        self._stream = self._client.events()  # subscribed before the start is sent
        self._thread = threading.Thread(target=self._run, name="svctl attempts", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._stream is not None:
            self._stream.close()
        if self._thread is not None:
            self._thread.join()
        self._client.close()

    def _run(self) -> None:
        assert self._stream is not None
        for event in self._stream:
            if not isinstance(event, StateChanged):
                continue  # the daemon's own events
            if event.change != "state" or event.new.value not in _SHOWN:
                continue
            if self._names and event.program not in self._names:
                continue
            if event.new.value == "STARTING":
                self._attempts[event.program] = self._attempts.get(event.program, 0) + 1
            attempt = self._attempts.get(event.program, 1)
            print(render.attempt_line(event, attempt), file=self._out, flush=True)
