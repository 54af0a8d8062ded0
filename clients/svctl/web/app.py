"""The page's routes (Starlette), each one or a few requests to the daemon through
:class:`svctl.AsyncClient`.

======================================  ====================================================
``GET /``                               the page, carrying the session's CSRF token
``GET /events``                         event stream: ``programs`` (every program's status),
                                        then ``program`` (one program's) on each of its
                                        changes; ``programs`` again when one went away
``GET /programs/NAME/history``          the last :data:`HISTORY_ENTRIES` recorded events (JSON)
``GET /programs/NAME/logs``             event stream: the last :data:`LOG_LINES` lines, then
                                        what the program writes: ``log`` ({stream, text}),
                                        ``lagged`` ({stream, dropped}), ``end`` ({message})
``POST /programs/NAME/start|stop|restart``  the action, answered once done: the results (JSON)
``GET /static/...``                     the script and the style sheet
======================================  ====================================================

Each request and each stream has a connection of its own to the daemon, closed with it: the
daemon's fan-out (its bounded channels and ``Lagged``) is what keeps a slow page from holding
anything up. The tables are fed by the daemon's pushed events, never by asking in a loop.
Errors of the client become answers: :func:`error_status` picks the HTTP status, the body is
the one-line message.
"""

from __future__ import annotations

import codecs
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Final

import msgspec
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from svctl import (
    AsyncClient,
    CommandFailed,
    DaemonUnavailable,
    Lagged,
    LogChunk,
    NoSuchProgram,
    PermissionDenied,
    ProtocolMismatch,
    ShuttingDown,
    StateChanged,
    SvctlError,
    Timeout,
    UsageError,
)
from svctl.web.guard import Guard
from svctl.web.sse import EventStream

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.types import ASGIApp

    from svctl.web.auth import Keys
    from svctl.web.sse import Emit

__all__ = ["ACTIONS", "HISTORY_ENTRIES", "LOG_LINES", "build_app", "error_status"]

ACTIONS: Final = frozenset({"start", "stop", "restart"})
HISTORY_ENTRIES: Final = 50
LOG_LINES: Final = 200
_STATIC: Final = Path(__file__).with_name("static")
_json = msgspec.json.Encoder()


class LogText(msgspec.Struct, frozen=True):
    """Output of a program, decoded as UTF-8 (what cannot be decoded shows as U+FFFD)."""

    stream: str
    text: str


class LogEnd(msgspec.Struct, frozen=True):
    """The log stream is over (the daemon's word on why, if any)."""

    message: str


def build_app(socket_path: str, keys: Keys, *, any_host: bool = False) -> ASGIApp:
    """The whole page for the daemon on ``socket_path``, behind the :class:`Guard`."""
    pages = _Pages(socket_path, keys)
    routes = [
        Route("/", pages.index, methods=["GET"]),
        Route("/events", pages.events, methods=["GET"]),
        Route("/programs/{name}/history", pages.history, methods=["GET"]),
        Route("/programs/{name}/logs", pages.logs, methods=["GET"]),
        Route("/programs/{name}/{action}", pages.act, methods=["POST"]),
        Mount("/static", StaticFiles(directory=_STATIC), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={SvctlError: _error_response})
    return Guard(app, keys, any_host=any_host)


#: The HTTP status of each client error (the most specific class that matches).
_STATUS: Final[tuple[tuple[type[SvctlError], int], ...]] = (
    (NoSuchProgram, 404),
    (Timeout, 504),
    (PermissionDenied, 403),
    (ShuttingDown, 503),
    (DaemonUnavailable, 502),
    (ProtocolMismatch, 502),
    (UsageError, 400),
    (CommandFailed, 409),
)


def error_status(exc: SvctlError) -> int:
    """The HTTP status that says what went wrong: 404 no such program, 502 the daemon cannot
    be reached, 409 it refused, and so on."""
    return next((status for cls, status in _STATUS if isinstance(exc, cls)), 500)


async def _error_response(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, SvctlError):
        raise exc
    return PlainTextResponse(f"{exc}\n", status_code=error_status(exc))


def _json_response(value: object) -> Response:
    return Response(_json.encode(value), media_type="application/json")


class _Pages:
    def __init__(self, socket_path: str, keys: Keys) -> None:
        self.socket_path = socket_path
        self.keys = keys
        template = resources.files("svctl.web").joinpath("page.html").read_text()
        self.template = template

    def client(self) -> AsyncClient:
        return AsyncClient(self.socket_path)

    async def index(self, request: Request) -> Response:
        session: str | None = request.state.session
        csrf = self.keys.csrf_token(session) if session is not None else ""
        return HTMLResponse(self.template.replace("{{csrf}}", csrf))

    async def events(self, request: Request) -> Response:
        async def produce(emit: Emit) -> None:
            async with self.client() as client, client.events() as events:
                await emit("programs", _json.encode(await client.status()))
                async for event in events:
                    if not isinstance(event, StateChanged):
                        continue  # the daemon's own events name no program
                    try:
                        [program] = await client.status(event.program)
                    except NoSuchProgram:
                        await emit("programs", _json.encode(await client.status()))
                    else:
                        await emit("program", _json.encode(program))

        return EventStream(produce)

    async def history(self, request: Request) -> Response:
        async with self.client() as client:
            entries = await client.history(request.path_params["name"], HISTORY_ENTRIES)
        return _json_response(entries)

    async def logs(self, request: Request) -> Response:
        name: str = request.path_params["name"]

        async def produce(emit: Emit) -> None:
            decoders = {s: codecs.getincrementaldecoder("utf-8")("replace") for s in _STREAMS}
            async with (
                self.client() as client,
                client.logs(name, lines=LOG_LINES, follow=True) as items,
            ):
                async for item in items:
                    if isinstance(item, LogChunk):
                        text = decoders[item.stream].decode(item.data)
                        await emit("log", _json.encode(LogText(item.stream, text)))
                    elif isinstance(item, Lagged):
                        await emit("lagged", _json.encode(item))
                end = items.end
            await emit("end", _json.encode(LogEnd(end.message if end is not None else "")))

        return EventStream(produce)

    async def act(self, request: Request) -> Response:
        name: str = request.path_params["name"]
        action: str = request.path_params["action"]
        if action not in ACTIONS:
            return PlainTextResponse(f"no action {action!r}\n", status_code=404)
        async with self.client() as client:
            if action == "start":
                results = await client.start(name)
            elif action == "stop":
                results = await client.stop(name)
            else:
                results = await client.restart(name)
        return _json_response(results)


_STREAMS: Final = ("stdout", "stderr")
