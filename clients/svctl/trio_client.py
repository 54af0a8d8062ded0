"""``svctl.AsyncClient``: the trio client, a thin shell over :class:`svctl._session.Session`.

The same methods as :class:`svctl.Client`, as coroutines, without ``timeout=``: bound a call
with a cancel scope (``with trio.fail_after(5): await client.status()``). A call cancelled
while it waits is detached from the session, so its late answer is dropped and the connection
stays usable. Several tasks may share one client: writes are serialised, and whichever task
holds the read lock feeds the session for all of them, so each finds its answer by id.

This module is the only part of svctl that imports trio; ``svctl.AsyncClient`` loads it on
first use, so the CLI and the blocking client never pay for it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Final, Generic, Self, TypeVar

import trio

from supervisord_lite.protocol.messages import End, ProgramState
from svctl._session import (
    BUSY_PAUSE,
    BUSY_PAUSE_MAX,
    PARTING_WAIT,
    PENDING,
    Call,
    ItemT,
    Pending,
    PushStream,
    Session,
    resolve_socket,
)
from svctl.errors import DaemonUnavailable, SvctlError, unreachable

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

    from supervisord_lite.protocol.messages import (
        ActionResult,
        HistoryEntry,
        Lagged,
        LogChunk,
        ProgramStatus,
        ReloadReply,
        StateChanged,
        Stream,
        Welcome,
    )

__all__ = ["AsyncClient", "AsyncPushStream"]

RECEIVE_SIZE: Final = 65536
_T = TypeVar("_T")


class AsyncClient:
    """A trio connection to the daemon's control socket.

    ``socket_path`` None means ``$SVCTL_SOCKET``, else :data:`svctl.DEFAULT_SOCKET`. Use it as
    ``async with AsyncClient(path) as client:``, or let the first call connect and call
    :meth:`aclose` yourself. After the connection was lost (``DaemonUnavailable``), the next
    call opens a new one; streams opened on the old one stay over.
    """

    def __init__(self, socket_path: str | None = None) -> None:
        self.socket_path = resolve_socket(socket_path, os.environ)
        self._stream: trio.SocketStream | None = None
        self._session: Session | None = None
        self._connect_lock = trio.Lock()
        self._send_lock = trio.Lock()
        self._receive_lock = trio.Lock()

    # -- the connection ------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @property
    def welcome(self) -> Welcome | None:
        """The daemon's Welcome (its pid and version) once connected."""
        return self._session.welcome if self._session is not None else None

    async def connect(self) -> None:
        """Connect and shake hands, unless already connected.

        Raises:
            DaemonUnavailable: nothing listens on the socket or we may not connect to it.
            PermissionDenied: the daemon refused this uid.
            ProtocolMismatch: it speaks another protocol version.
        """
        async with self._connect_lock:
            if self._stream is not None:
                return
            stream = await self._open_stream()
            session = Session()
            self._stream, self._session = stream, session
            try:
                await self._send(session.hello())
                await self._until(session.welcomed)
            except BaseException:
                await self.aclose()
                raise

    async def _open_stream(self) -> trio.SocketStream:
        """A stream connected to the daemon; a full accept backlog (EAGAIN) is a busy daemon,
        tried again with a growing pause until the caller's cancel scope says stop."""
        pause = BUSY_PAUSE
        while True:
            try:
                return await trio.open_unix_socket(self.socket_path)
            except BlockingIOError:
                await trio.sleep(pause)
                pause = min(pause * 2, BUSY_PAUSE_MAX)
            except OSError as exc:
                raise unreachable(self.socket_path, exc) from exc

    async def aclose(self) -> None:
        """Close the connection (the daemon ends this connection's streams); idempotent."""
        stream, self._stream, self._session = self._stream, None, None
        if stream is not None:
            await stream.aclose()

    async def _connected(self) -> Session:
        if self._session is not None and self._session.failure is not None:
            await self.aclose()  # that conversation is over; the next call starts a new one
        if self._session is None:
            await self.connect()
        if self._session is None:
            raise DaemonUnavailable("the connection was closed")
        return self._session

    async def _send(self, data: bytes) -> None:
        stream = self._stream
        if stream is None:
            raise DaemonUnavailable("the connection was closed")
        async with self._send_lock:
            try:
                await stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                failure = await self._parting_words()
                await self.aclose()
                lost = DaemonUnavailable(f"lost the connection to the daemon: {exc}")
                raise failure or lost from exc
            except trio.Cancelled:
                # Part of a frame may be out: the byte stream is out of step for good.
                with trio.CancelScope(shield=True):
                    await self.aclose()
                raise

    async def _parting_words(self) -> SvctlError | None:
        """What the daemon said before it closed the connection under a send (a refusal of
        this uid, say): the session's failure once the rest of the stream is read."""
        stream, session = self._stream, self._session
        if stream is None or session is None:
            return None
        with trio.move_on_after(PARTING_WAIT):
            async with self._receive_lock:
                try:
                    while data := await stream.receive_some(RECEIVE_SIZE):
                        session.receive_data(data)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return session.failure  # reset after the last bytes: nothing more came
                session.receive_data(b"")
        return session.failure

    async def _until(self, ready: Callable[[], _T | Pending]) -> _T:
        while True:
            value = ready()
            if value is not PENDING:
                return value
            async with self._receive_lock:
                value = ready()
                if value is not PENDING:
                    return value
                stream, session = self._stream, self._session
                if stream is None or session is None:
                    raise DaemonUnavailable("the connection was closed")
                try:
                    data = await stream.receive_some(RECEIVE_SIZE)
                except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                    await self.aclose()
                    raise DaemonUnavailable(f"lost the connection to the daemon: {exc}") from exc
                session.receive_data(data)

    async def _call(self, make: Callable[[Session], Call[_T]]) -> _T:
        session = await self._connected()
        call = make(session)
        answered = False
        try:
            await self._send(call.data)
            result = await self._until(lambda: session.result(call))
            answered = True
            return result
        finally:
            if not answered:
                session.detach(call.id)

    # -- requests ------------------------------------------------------------------------------

    async def ping(self) -> float:
        """Check that the daemon answers; the round trip in seconds.

        Raises:
            DaemonUnavailable: it does not.
        """
        started = trio.current_time()
        await self._call(Session.ping)
        return trio.current_time() - started

    async def status(self, *names: str, stats: bool = False) -> list[ProgramStatus]:
        """The named programs' status (all of them, in config order, when none is named);
        ``stats`` adds each program's log counters (``ProgramStatus.logs``).

        Raises:
            NoSuchProgram: a name is unknown (``.known`` lists the valid ones).
        """
        return await self._call(lambda s: s.status(names, stats))

    async def start(self, *names: str, all: bool = False, wait: bool = True) -> list[ActionResult]:
        """Want programs up; with ``wait``, answer once each is RUNNING or has failed.

        A program that failed to start is a result with ``ok=False``, not an exception.

        Raises:
            NoSuchProgram: a name is unknown; nothing was started.
            UsageError: neither names nor ``all``, or both.
        """
        return await self._call(lambda s: s.action("start", names, every=all, wait=wait))

    async def stop(self, *names: str, all: bool = False, wait: bool = True) -> list[ActionResult]:
        """Want programs down; with ``wait``, answer once each process group is gone.

        Raises:
            NoSuchProgram: a name is unknown; nothing was stopped.
            UsageError: neither names nor ``all``, or both.
        """
        return await self._call(lambda s: s.action("stop", names, every=all, wait=wait))

    async def restart(
        self, *names: str, all: bool = False, wait: bool = True
    ) -> list[ActionResult]:
        """Stop then start programs; same answers as :meth:`start`.

        Raises:
            NoSuchProgram: a name is unknown; nothing was restarted.
            UsageError: neither names nor ``all``, or both.
        """
        return await self._call(lambda s: s.action("restart", names, every=all, wait=wait))

    async def history(self, name: str | None = None, limit: int = 20) -> list[HistoryEntry]:
        """The last ``limit`` recorded events of ``name`` (of every program when None).

        Raises:
            NoSuchProgram: the daemon never knew ``name``.
        """
        return await self._call(lambda s: s.history(name, limit))

    async def wait(
        self,
        *names: str,
        state: ProgramState | str = "RUNNING",
        timeout: float | None = None,  # noqa: ASYNC109 - the daemon's bound, sent in the request
    ) -> list[ActionResult]:
        """Block until every named program is in ``state``; the daemon watches, nobody polls.

        ``timeout`` is how long the daemon waits (None: forever).

        Raises:
            Timeout: the programs did not get there in time.
            NoSuchProgram: a name is unknown.
            ValueError: ``state`` is not a state name.
        """
        target = ProgramState(state.upper())
        return await self._call(lambda s: s.wait(names, target, timeout))

    async def reload(self) -> ReloadReply:
        """Have the daemon re-read its config file and apply the difference.

        Raises:
            ConfigInvalid: the file is invalid; the running config stays in force.
        """
        return await self._call(Session.reload)

    async def shutdown(self, *, wait: bool = True) -> None:
        """Ask the daemon to stop every program and exit.

        With ``wait``, return only once the daemon closed this connection, which it does after
        its programs are stopped.
        """
        await self._call(Session.shutdown)
        if not wait:
            return
        session = self._session
        if session is None:
            return
        try:
            await self._until(lambda: True if session.peer_closed else PENDING)
        except DaemonUnavailable:
            pass  # a reset instead of a clean close: the daemon is gone all the same
        finally:
            await self.aclose()

    def events(self) -> AsyncPushStream[StateChanged]:
        """Every state change, as an async iterator.

        ``async with client.events() as events:`` subscribes on entry (the subscription is
        live inside the block) and cancels it on exit; a bare ``async for`` subscribes on the
        first step. Iteration ends when the daemon ends the stream (at shutdown).
        """
        return AsyncPushStream(self, Session.subscribe)

    def logs(
        self,
        name: str | None = None,
        stream: Stream | None = None,
        lines: int = 10,
        follow: bool = False,
    ) -> AsyncPushStream[LogChunk | Lagged]:
        """A program's last ``lines`` of output, then (with ``follow``) more as it comes.

        Opened like :meth:`events`. An Error from the daemon is raised by the iteration.
        """
        return AsyncPushStream(self, lambda s: s.logs(name, stream, lines, follow))


class AsyncPushStream(Generic[ItemT]):
    """Items the daemon pushes on one stream; ``async with`` it, then ``async for`` over it."""

    def __init__(self, client: AsyncClient, opener: Callable[[Session], PushStream[ItemT]]) -> None:
        self._client = client
        self._opener = opener
        self._session: Session | None = None
        self._stream: PushStream[ItemT] | None = None
        self._over = False
        self.end: End | None = None
        """The daemon's End once the stream is over (its message says why)."""

    async def open(self) -> None:
        """Send the request; for a subscription, wait until it is live. Idempotent.

        Raises:
            SvctlError: the daemon refused it, or could not be reached.
        """
        if self._stream is not None or self._over:
            return
        session = await self._client._connected()
        stream = self._opener(session)
        self._session, self._stream = session, stream
        opened = False
        try:
            await self._client._send(stream.data)
            ack = stream.ack
            if ack is not None:
                await self._client._until(lambda: session.result(ack))
            opened = True
        finally:
            if not opened:
                self._over = True
                session.detach(stream.id)

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

    async def __anext__(self) -> ItemT:
        if self._over:
            raise StopAsyncIteration
        await self.open()
        session, stream = self._session, self._stream
        if session is None or stream is None or session is not self._client._session:
            self._over = True
            raise DaemonUnavailable("the client's connection was closed")

        def ready() -> ItemT | End | Pending:
            return session.next_item(stream)

        try:
            item: ItemT | End = await self._client._until(ready)
        except SvctlError:
            self._over = True
            raise
        if isinstance(item, End):
            self._over = True
            self.end = item
            raise StopAsyncIteration
        return item

    async def aclose(self) -> None:
        """Cancel the stream and wait until the daemon ended it.

        Cancelled while waiting, it stops listening instead: what still comes for the stream
        is dropped.
        """
        session, stream = self._session, self._stream
        if self._over or session is None or stream is None:
            self._over = True
            return
        self._over = True
        if session is not self._client._session:
            return  # the connection is gone, and the stream with it
        call = session.cancel(stream)
        if call is None:
            return
        done = False
        try:
            await self._client._send(call.data)
            await self._client._until(lambda: session.result(call))
            await self._client._until(lambda: True if session.stream_over(stream) else PENDING)
            done = True
        finally:
            if not done:
                session.detach(call.id)
                session.detach(stream.id)
