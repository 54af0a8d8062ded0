"""``svctl.Client``: the blocking client, a thin shell over :class:`svctl._session.Session`.

It owns one ``AF_UNIX`` stream socket and a deadline per call: each method takes ``timeout=``
(seconds, None for no limit), defaulting to the one given to the constructor. When a call's
time runs out it raises :class:`~svctl.Timeout` and its late answer is dropped when it comes,
so the connection stays usable. Not thread-safe: use one Client per thread.
"""

from __future__ import annotations

import os
import socket
import time
from enum import Enum
from typing import TYPE_CHECKING, Final, Generic, Literal, Self, TypeVar

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
from svctl.errors import DaemonUnavailable, SvctlError, Timeout, unreachable

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

__all__ = ["Client", "SyncPushStream"]

RECEIVE_SIZE: Final = 65536
_T = TypeVar("_T")


class _Default(Enum):
    DEFAULT = "default"


_DEFAULT: Final = _Default.DEFAULT
TimeoutArg = float | None | Literal[_Default.DEFAULT]


class Client:
    """A blocking connection to the daemon's control socket.

    ``socket_path`` None means ``$SVCTL_SOCKET``, else :data:`svctl.DEFAULT_SOCKET`. The
    connection opens in ``__enter__`` or on the first call, and the handshake is bounded by
    ``timeout`` like every call. After the connection was lost (``DaemonUnavailable``), the
    next call opens a new one; streams opened on the old one stay over.
    """

    def __init__(self, socket_path: str | None = None, *, timeout: float | None = 10.0) -> None:
        self.socket_path = resolve_socket(socket_path, os.environ)
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._session: Session | None = None

    # -- the connection ------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def welcome(self) -> Welcome | None:
        """The daemon's Welcome (its pid and version) once connected."""
        return self._session.welcome if self._session is not None else None

    def connect(self, *, timeout: TimeoutArg = _DEFAULT) -> None:
        """Connect and shake hands, unless already connected.

        Raises:
            DaemonUnavailable: nothing listens on the socket, we may not connect to it, or no
                Welcome came in time.
            PermissionDenied: the daemon refused this uid.
            ProtocolMismatch: it speaks another protocol version.
        """
        if self._sock is not None:
            return
        deadline = self._deadline(timeout)
        sock = self._open_socket(deadline)
        session = Session()
        self._sock, self._session = sock, session
        try:
            self._send(session.hello(), deadline)
            self._until(session.welcomed, deadline)
        except Timeout as exc:
            self.close()
            raise DaemonUnavailable(
                f"the daemon on {self.socket_path} did not answer the handshake"
            ) from exc
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close the connection (the daemon ends this connection's streams); idempotent."""
        sock, self._sock, self._session = self._sock, None, None
        if sock is not None:
            sock.close()

    def _deadline(self, timeout: TimeoutArg) -> float | None:
        seconds = self.timeout if timeout is _DEFAULT else timeout
        return None if seconds is None else time.monotonic() + seconds

    def _open_socket(self, deadline: float | None) -> socket.socket:
        """A socket connected to the daemon.

        A Unix socket whose accept backlog is full refuses a connect with EAGAIN at once,
        however long the timeout: that is a busy daemon, not an absent one, so try again
        (with a growing pause) until the deadline.
        """
        pause = BUSY_PAUSE
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
            try:
                sock.settimeout(_remaining(deadline))
                sock.connect(self.socket_path)
            except BlockingIOError as exc:
                sock.close()
                if deadline is not None and time.monotonic() + pause > deadline:
                    raise DaemonUnavailable(
                        f"the daemon on {self.socket_path} is too busy to accept a connection"
                    ) from exc
                time.sleep(pause)
                pause = min(pause * 2, BUSY_PAUSE_MAX)
            except TimeoutError as exc:
                sock.close()
                raise DaemonUnavailable(f"no answer from {self.socket_path}") from exc
            except OSError as exc:
                sock.close()
                raise unreachable(self.socket_path, exc) from exc
            else:
                return sock

    def _connected(self, deadline: float | None) -> Session:
        if self._session is not None and self._session.failure is not None:
            self.close()  # that conversation is over; the next call starts a new one
        if self._session is None:
            self.connect(timeout=None if deadline is None else deadline - time.monotonic())
        assert self._session is not None
        return self._session

    def _send(self, data: bytes, deadline: float | None) -> None:
        assert self._sock is not None
        try:
            self._sock.settimeout(_remaining(deadline))
            self._sock.sendall(data)
        except TimeoutError as exc:
            self.close()  # part of a frame may be out: the stream is out of step
            raise Timeout("the daemon did not read our request in time") from exc
        except OSError as exc:
            failure = self._parting_words()
            self.close()
            raise failure or DaemonUnavailable(f"lost the connection to the daemon: {exc}") from exc

    def _parting_words(self) -> SvctlError | None:
        """What the daemon said before it closed the connection under a send (a refusal of
        this uid, say): the session's failure once the rest of the stream is read."""
        assert self._sock is not None
        assert self._session is not None
        self._sock.settimeout(PARTING_WAIT)
        try:
            while data := self._sock.recv(RECEIVE_SIZE):
                self._session.receive_data(data)
        except OSError:
            return self._session.failure  # reset after the last bytes: nothing more came
        self._session.receive_data(b"")
        return self._session.failure

    def _receive(self, deadline: float | None) -> None:
        assert self._sock is not None
        assert self._session is not None
        try:
            self._sock.settimeout(_remaining(deadline))
            data = self._sock.recv(RECEIVE_SIZE)
        except TimeoutError as exc:
            raise Timeout("no answer from the daemon in time") from exc
        except OSError as exc:
            self.close()
            raise DaemonUnavailable(f"lost the connection to the daemon: {exc}") from exc
        self._session.receive_data(data)

    def _until(self, ready: Callable[[], _T | Pending], deadline: float | None) -> _T:
        while True:
            value = ready()
            if value is not PENDING:
                return value
            self._receive(deadline)

    def _call(self, make: Callable[[Session], Call[_T]], timeout: TimeoutArg = _DEFAULT) -> _T:
        deadline = self._deadline(timeout)
        session = self._connected(deadline)
        call = make(session)
        self._send(call.data, deadline)
        try:
            return self._until(lambda: session.result(call), deadline)
        except Timeout:
            session.detach(call.id)
            raise

    # -- requests ------------------------------------------------------------------------------

    def ping(self, *, timeout: TimeoutArg = _DEFAULT) -> float:
        """Check that the daemon answers; the round trip in seconds.

        Raises:
            DaemonUnavailable, Timeout: it does not.
        """
        started = time.monotonic()
        self._call(Session.ping, timeout)
        return time.monotonic() - started

    def status(
        self, *names: str, stats: bool = False, timeout: TimeoutArg = _DEFAULT
    ) -> list[ProgramStatus]:
        """The named programs' status (all of them, in config order, when none is named);
        ``stats`` adds each program's log counters (``ProgramStatus.logs``).

        Raises:
            NoSuchProgram: a name is unknown (``.known`` lists the valid ones).
        """
        return self._call(lambda s: s.status(names, stats), timeout)

    def start(
        self, *names: str, all: bool = False, wait: bool = True, timeout: TimeoutArg = _DEFAULT
    ) -> list[ActionResult]:
        """Want programs up; with ``wait``, answer once each is RUNNING or has failed.

        A program that failed to start is a result with ``ok=False``, not an exception.

        Raises:
            NoSuchProgram: a name is unknown; nothing was started.
            UsageError: neither names nor ``all``, or both.
        """
        return self._call(lambda s: s.action("start", names, every=all, wait=wait), timeout)

    def stop(
        self, *names: str, all: bool = False, wait: bool = True, timeout: TimeoutArg = _DEFAULT
    ) -> list[ActionResult]:
        """Want programs down; with ``wait``, answer once each process group is gone.

        Raises:
            NoSuchProgram: a name is unknown; nothing was stopped.
            UsageError: neither names nor ``all``, or both.
        """
        return self._call(lambda s: s.action("stop", names, every=all, wait=wait), timeout)

    def restart(
        self, *names: str, all: bool = False, wait: bool = True, timeout: TimeoutArg = _DEFAULT
    ) -> list[ActionResult]:
        """Stop then start programs; same answers as :meth:`start`.

        Raises:
            NoSuchProgram: a name is unknown; nothing was restarted.
            UsageError: neither names nor ``all``, or both.
        """
        return self._call(lambda s: s.action("restart", names, every=all, wait=wait), timeout)

    def history(
        self, name: str | None = None, limit: int = 20, *, timeout: TimeoutArg = _DEFAULT
    ) -> list[HistoryEntry]:
        """The last ``limit`` recorded events of ``name`` (of every program when None).

        Raises:
            NoSuchProgram: the daemon never knew ``name``.
        """
        return self._call(lambda s: s.history(name, limit), timeout)

    def wait(
        self, *names: str, state: ProgramState | str = "RUNNING", timeout: float | None = None
    ) -> list[ActionResult]:
        """Block until every named program is in ``state``; the daemon watches, nobody polls.

        ``timeout`` is how long the daemon waits (None: forever); the call itself gives up
        the client's own timeout later than that.

        Raises:
            Timeout: the programs did not get there in time.
            NoSuchProgram: a name is unknown.
            ValueError: ``state`` is not a state name.
        """
        target = ProgramState(state.upper())
        if timeout is None or self.timeout is None:
            limit: float | None = None
        else:
            limit = timeout + self.timeout
        return self._call(lambda s: s.wait(names, target, timeout), limit)

    def reload(self, *, timeout: TimeoutArg = _DEFAULT) -> ReloadReply:
        """Have the daemon re-read its config file and apply the difference.

        Raises:
            ConfigInvalid: the file is invalid; the running config stays in force.
        """
        return self._call(Session.reload, timeout)

    def shutdown(self, *, wait: bool = True, timeout: TimeoutArg = _DEFAULT) -> None:
        """Ask the daemon to stop every program and exit.

        With ``wait``, return only once the daemon closed this connection, which it does
        after its programs are stopped.

        Raises:
            Timeout: the daemon did not finish within ``timeout``.
        """
        deadline = self._deadline(timeout)
        self._call(Session.shutdown, None if deadline is None else deadline - time.monotonic())
        if not wait:
            return
        session = self._session
        assert session is not None
        try:
            self._until(lambda: True if session.peer_closed else PENDING, deadline)
        except DaemonUnavailable:
            pass  # a reset instead of a clean close: the daemon is gone all the same
        finally:
            self.close()

    def events(self, *, timeout: TimeoutArg = _DEFAULT) -> SyncPushStream[StateChanged]:
        """Every state change from now on, as an iterator (use ``with`` to close it).

        The subscription is live when this returns; iteration waits without a limit and
        ends when the daemon ends the stream (at shutdown). ``timeout`` bounds subscribing
        and closing.
        """
        deadline = self._deadline(timeout)
        session = self._connected(deadline)
        stream = session.subscribe()
        self._send(stream.data, deadline)
        assert stream.ack is not None
        ack = stream.ack
        try:
            self._until(lambda: session.result(ack), deadline)
        except Timeout:
            session.detach(stream.id)
            raise
        return SyncPushStream(self, session, stream, timeout)

    def logs(
        self,
        name: str | None = None,
        stream: Stream | None = None,
        lines: int = 10,
        follow: bool = False,
        *,
        timeout: TimeoutArg = _DEFAULT,
    ) -> SyncPushStream[LogChunk | Lagged]:
        """A program's last ``lines`` of output, then (with ``follow``) more as it comes.

        Items are :class:`~svctl.LogChunk` (raw bytes) and :class:`~svctl.Lagged` (this
        reader fell behind). An Error from the daemon is raised by the iteration.
        """
        deadline = self._deadline(timeout)
        session = self._connected(deadline)
        opened = session.logs(name, stream, lines, follow)
        self._send(opened.data, deadline)
        return SyncPushStream(self, session, opened, timeout)


class SyncPushStream(Generic[ItemT]):
    """Items the daemon pushes on one stream; iterate it, and close it (or use ``with``)."""

    def __init__(
        self, client: Client, session: Session, stream: PushStream[ItemT], timeout: TimeoutArg
    ) -> None:
        self._client = client
        self._session = session
        self._stream = stream
        self._timeout = timeout
        self._over = False
        self.end: End | None = None
        """The daemon's End once the stream is over (its message says why)."""

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> ItemT:
        if self._over:
            raise StopIteration
        if self._session is not self._client._session:
            raise DaemonUnavailable("the client's connection was closed")
        session, stream = self._session, self._stream

        def ready() -> ItemT | End | Pending:
            return session.next_item(stream)

        try:
            item: ItemT | End = self._client._until(ready, None)
        except SvctlError:
            self._over = True
            raise
        if isinstance(item, End):
            self._over = True
            self.end = item
            raise StopIteration
        return item

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Cancel the stream and wait (bounded by the timeout) until the daemon ended it.

        Raises:
            Timeout: the daemon did not confirm in time; the connection stays usable.
        """
        if self._over:
            return
        self._over = True
        client, session = self._client, self._session
        if session is not client._session:
            return  # the connection is gone, and the stream with it
        call = session.cancel(self._stream)
        if call is None:
            return
        deadline = client._deadline(self._timeout)
        client._send(call.data, deadline)
        try:
            client._until(lambda: session.result(call), deadline)
            client._until(lambda: True if session.stream_over(self._stream) else PENDING, deadline)
        except Timeout:
            session.detach(call.id)
            session.detach(self._stream.id)
            raise


def _remaining(deadline: float | None) -> float | None:
    """Seconds left before ``deadline`` (None: no limit).

    Raises:
        TimeoutError: none are left (a socket timeout of 0 would mean non-blocking instead).
    """
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return left
