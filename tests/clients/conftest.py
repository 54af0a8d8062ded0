"""Fixtures for the client tests: a real daemon, and one client fixture over every shell.

``client`` is parametrized ``sync`` / ``trio`` / ``asyncio``, so every test that takes it runs
against :class:`svctl.Client` (each call in a worker thread, through :class:`SyncAdapter`),
:class:`svctl.AsyncClient` under trio (the test's own loop), and :class:`svctl.AsyncClient`
under asyncio (each call on an asyncio loop in a thread of its own, through
:class:`AsyncioAdapter`), with the same code.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from typing import TYPE_CHECKING, Any, Self

import pytest
import trio

from svctl import AsyncClient, Client
from tests.daemon_harness import PROGRAMS, Daemon, start_daemon, stop_daemon, write_config

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
    from pathlib import Path
    from types import TracebackType

    from svctl import AsyncPushStream, SyncPushStream


_TALKER = """\
[programs.talker]
command = ["sh", "-c", "echo hello; echo oops >&2; exec sleep 3600"]
start_seconds = 0.2

"""
CLIENT_PROGRAMS = PROGRAMS.replace(
    "[programs.stubborn]\n", _TALKER + "[programs.stubborn]\nautostart = false\n"
)
"""The client suite's programs: web and worker run; crasher exits 3 at once; flaky fails every
start and ends FATAL; talker writes ``hello`` to stdout and ``oops`` to stderr, then sleeps;
stubborn ignores SIGTERM, so stopping it takes the SIGKILL after 2 s. flaky and stubborn are
not autostarted, so a test that does not use them does not wait for them at teardown."""


@pytest.fixture
def running_daemon(tmp_path: Path) -> Iterator[Daemon]:
    """A daemon on :data:`CLIENT_PROGRAMS`."""
    daemon = start_daemon(write_config(tmp_path, CLIENT_PROGRAMS))
    try:
        yield daemon
    finally:
        stop_daemon(daemon)


async def _in_thread(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    # abandon_on_cancel: a test's fail_after can end a wait; the daemon's shutdown in teardown
    # then closes the socket under the abandoned thread.
    return await trio.to_thread.run_sync(
        functools.partial(fn, *args, **kwargs), abandon_on_cancel=True
    )


class SyncStreamAdapter:
    """A sync client's push stream behind the AsyncPushStream interface."""

    def __init__(self, open_stream: Callable[[], SyncPushStream[Any]]) -> None:
        self._open_stream = open_stream
        self._stream: SyncPushStream[Any] | None = None

    @property
    def end(self) -> Any:
        return self._stream.end if self._stream is not None else None

    async def open(self) -> None:
        if self._stream is None:
            self._stream = await _in_thread(self._open_stream)

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Any:
        await self.open()
        item = await _in_thread(next, self._stream, StopIteration)
        if item is StopIteration:
            raise StopAsyncIteration
        return item

    async def aclose(self) -> None:
        if self._stream is not None:
            await _in_thread(self._stream.close)


class SyncAdapter:
    """:class:`svctl.Client` with coroutine methods, so one suite drives both clients."""

    kind = "sync"

    def __init__(self, client: Client) -> None:
        self.client = client

    @property
    def welcome(self) -> Any:
        return self.client.welcome

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.client, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await _in_thread(method, *args, **kwargs)

        return call

    def events(self) -> SyncStreamAdapter:
        return SyncStreamAdapter(self.client.events)

    def logs(self, *args: Any, **kwargs: Any) -> SyncStreamAdapter:
        return SyncStreamAdapter(functools.partial(self.client.logs, *args, **kwargs))


_asyncio_loop: asyncio.AbstractEventLoop | None = None
_asyncio_lock = threading.Lock()


def asyncio_loop() -> asyncio.AbstractEventLoop:
    """An asyncio loop running in a daemon thread of its own, shared by the whole run."""
    global _asyncio_loop
    with _asyncio_lock:
        if _asyncio_loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="asyncio", daemon=True).start()
            _asyncio_loop = loop
        return _asyncio_loop


async def on_asyncio(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coro`` on the asyncio loop; a cancelled test cancels it there too."""
    future = asyncio.run_coroutine_threadsafe(coro, asyncio_loop())
    try:
        return await trio.to_thread.run_sync(future.result, abandon_on_cancel=True)
    except trio.Cancelled:
        future.cancel()
        raise


_OVER = object()


class AsyncioStreamAdapter:
    """An AsyncClient's push stream driven on the asyncio loop."""

    def __init__(self, stream: AsyncPushStream[Any]) -> None:
        self._stream = stream

    @property
    def end(self) -> Any:
        return self._stream.end

    async def open(self) -> None:
        await on_asyncio(self._stream.open())

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Any:
        async def step() -> Any:
            try:
                return await self._stream.__anext__()
            except StopAsyncIteration:
                return _OVER

        item = await on_asyncio(step())
        if item is _OVER:
            raise StopAsyncIteration
        return item

    async def aclose(self) -> None:
        await on_asyncio(self._stream.aclose())


class AsyncioAdapter:
    """:class:`svctl.AsyncClient` running under asyncio, callable from the trio test."""

    kind = "asyncio"

    def __init__(self, client: AsyncClient) -> None:
        self.client = client

    @property
    def welcome(self) -> Any:
        return self.client.welcome

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.client, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await on_asyncio(method(*args, **kwargs))

        return call

    def events(self, **kwargs: Any) -> AsyncioStreamAdapter:
        return AsyncioStreamAdapter(self.client.events(**kwargs))

    def logs(self, *args: Any, **kwargs: Any) -> AsyncioStreamAdapter:
        return AsyncioStreamAdapter(self.client.logs(*args, **kwargs))


KINDS = ["sync", "trio", "asyncio"]


@pytest.fixture(params=KINDS)
def client_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def open_client(kind: str, socket: str, timeout: float | None = 30.0) -> Any:
    """A client of ``kind`` on ``socket``, not yet connected."""
    if kind == "sync":
        return SyncAdapter(Client(socket, timeout=timeout))
    if kind == "asyncio":

        async def made_on_the_loop() -> AsyncClient:  # its locks are asyncio's
            return AsyncClient(socket, timeout=timeout)

        loop = asyncio_loop()
        return AsyncioAdapter(asyncio.run_coroutine_threadsafe(made_on_the_loop(), loop).result())
    return AsyncClient(socket, timeout=timeout)


async def close_client(client: Any) -> None:
    """Close a client made by :func:`open_client`."""
    if isinstance(client, SyncAdapter):
        client.client.close()
    else:
        await client.aclose()


@pytest.fixture
async def client(client_kind: str, running_daemon: Daemon) -> AsyncIterator[Any]:
    """A connected client of each kind on the running daemon."""
    opened = open_client(client_kind, running_daemon.socket)
    await opened.connect()
    try:
        yield opened
    finally:
        await close_client(opened)
