"""Server-sent events: a ``text/event-stream`` response fed by a coroutine, for as long as the
browser listens.

The producer gets an ``emit(event, data)`` to send one event (``data`` is JSON, which holds no
newline, so it is one ``data:`` line). When the browser goes away the producer is cancelled at
once, wherever it waits (the daemon's next event, say): its ``async with`` blocks close its
connection to the daemon, so no subscription outlives its page. What the producer raises of
:class:`~svctl.SvctlError` becomes a ``failure`` event (its one-line message) that ends the
stream; the browser's EventSource then reconnects after :data:`RETRY_MS`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import msgspec
import trio
from starlette.responses import Response

from svctl import SvctlError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.types import Receive, Scope, Send

    Emit = Callable[[str, bytes], Awaitable[None]]

__all__ = ["RETRY_MS", "EventStream", "Failure", "frame"]

RETRY_MS: Final = 3000
"""How long a browser waits before it reconnects a stream that ended."""


class Failure(msgspec.Struct, frozen=True):
    """Why a stream ended early (the ``failure`` event's data)."""

    message: str


def frame(event: str, data: bytes) -> bytes:
    """One event on the wire."""
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"


class EventStream(Response):
    """Runs ``produce(emit)`` and streams what it emits (see the module docstring)."""

    media_type = "text/event-stream"

    def __init__(self, produce: Callable[[Emit], Awaitable[None]]) -> None:
        # Not Response.__init__: a stream has no body and so no Content-Length.
        self.status_code = 200
        self.background = None
        self.init_headers({"x-accel-buffering": "no"})
        self._produce = produce

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})

        async def emit(event: str, data: bytes) -> None:
            body = frame(event, data)
            await send({"type": "http.response.body", "body": body, "more_body": True})

        gone = trio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()
            nursery.cancel_scope.cancel()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch)
            retry = b"retry: %d\n\n" % RETRY_MS
            await send({"type": "http.response.body", "body": retry, "more_body": True})
            try:
                await self._produce(emit)
            except SvctlError as exc:
                await emit("failure", msgspec.json.encode(Failure(str(exc))))
            nursery.cancel_scope.cancel()
        if not gone.is_set():
            await send({"type": "http.response.body", "body": b"", "more_body": False})
