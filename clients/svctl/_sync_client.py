"""``svctl.Client``: the blocking client, generated from ``_async_client.py``.

Edit ``_async_client.py`` (whose docstring explains both clients: time limits, abandoned
calls), then run ``python -m tests.clients.unasync``. Its I/O is ``_sync_io.py``: one
``AF_UNIX`` socket with a deadline on every operation. Not thread-safe: use one Client per
thread; the one exception is closing a stream from another thread, which wakes its reader.
"""

from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING, Generic, Self

from supervisord_lite.protocol.messages import ProgramState, Start
from svctl import _requests
from svctl._config import socket_from_config
from svctl._requests import DEFAULT, QUICK_TIMEOUT, ItemT, TimeoutArg
from svctl._results import End
from svctl._session import PARTING_WAIT, PENDING, Pending, Session, resolve_socket
from svctl._sync_io import Lock, SyncTransport, clock, open_transport
from svctl.errors import DaemonUnavailable, SvctlError, Timeout, UsageError

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType
    from typing import TypeVar

    from supervisord_lite.protocol.messages import (
        ActionResult,
        HistoryEntry,
        ProgramStatus,
        StoreHealth,
        Stream,
        WebhookStatus,
    )
    from svctl._requests import EventItem, Request, StreamRequest
    from svctl._results import (
        Lagged,
        LogChunk,
        ReloadReply,
        ShutdownReport,
        Welcome,
    )
    from svctl._session import PushStream

    _T = TypeVar("_T")

__all__ = ["Client", "SyncPushStream"]


class Client:
    """A connection to the daemon's control socket.

    ``socket_path`` None means ``$SVCTL_SOCKET``, else the default (:data:`svctl.DEFAULT_SOCKET`,
    or for a user other than root the socket in ``$XDG_RUNTIME_DIR`` when one is there);
    :meth:`from_config` finds it in a config file instead. ``timeout`` is the default limit
    of each quick request and of connecting (see the module docstring for blocking ones).
    The connection opens on entering ``with``, or on the first call. After it was lost
    (``DaemonUnavailable``), the next call opens a new one; streams opened on the old one stay
    over. ``read_only`` makes the connection's role ``read`` whatever the caller's uid may do:
    requests that act (start, stop, reload...) raise ``PermissionDenied`` (a dashboard's mode).
    """

    def __init__(
        self,
        socket_path: str | None = None,
        *,
        timeout: float | None = QUICK_TIMEOUT,
        read_only: bool = False,
    ) -> None:
        self.socket_path = resolve_socket(socket_path, os.environ, os.getuid(), os.path.exists)
        self.timeout = timeout
        self.read_only = read_only
        self._io: SyncTransport | None = None
        self._session: Session | None = None
        self._connect_lock = Lock()

    @classmethod
    def from_config(
        cls,
        config: str | os.PathLike[str],
        *,
        timeout: float | None = QUICK_TIMEOUT,
        read_only: bool = False,
    ) -> Self:
        """A client for the daemon of ``config``: the socket its ``[daemon].socket`` names
        (relative to the file's folder), found the way ``svctl -c`` finds it.

        Only that one setting is read, so a file being edited still works: what cannot be
        read of it is a ``UserWarning`` (the default socket, or the ``[daemon]`` table read
        on its own, stands in).

        Raises:
            UsageError: the file cannot be read at all.
        """
        return cls(socket_from_config(config, warn=_warn), timeout=timeout, read_only=read_only)

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

    def connect(self, *, timeout: TimeoutArg = DEFAULT) -> None:
        """Connect and shake hands, unless already connected.

        Raises:
            DaemonUnavailable: nothing listens on the socket, we may not connect to it, its
                daemon runs as another user (neither root nor us), or no Welcome came in time.
            PermissionDenied: the daemon refused this uid.
            ProtocolMismatch: it speaks another protocol version.
        """
        deadline = self._deadline(timeout)
        with self._connect_lock:
            if self._io is not None and not self._io.closed:
                return
            io = open_transport(self.socket_path, deadline)
            session = Session(read_only=self.read_only)
            self._io, self._session = io, session
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
        io, self._io, self._session = self._io, None, None
        if io is not None:
            io.close()

    def _deadline(self, timeout: TimeoutArg, *, blocking: bool = False) -> float | None:
        if timeout is DEFAULT:
            timeout = None if blocking else self.timeout
        return None if timeout is None else clock() + timeout

    def _connected(self, deadline: float | None) -> Session:
        io, session = self._io, self._session
        if io is not None and (io.closed or (session is not None and session.failure)):
            self.close()  # that conversation is over; the next call starts a new one
        if self._session is None:
            quick = self._deadline(DEFAULT)
            if deadline is None or (quick is not None and quick < deadline):
                deadline = quick  # connecting keeps the short limit, whatever the call's
            self.connect(timeout=None if deadline is None else deadline - clock())
        if self._session is None:
            raise DaemonUnavailable("the connection was closed")
        return self._session

    def _send(self, data: bytes, deadline: float | None) -> None:
        io = self._io
        if io is None:
            raise DaemonUnavailable("the connection was closed")
        try:
            io.send(data, deadline)
        except KeyboardInterrupt:
            self.close()  # part of a frame may be out: the connection is out of step
            raise
        except TimeoutError as exc:
            self.close()
            raise Timeout("the daemon did not read our request in time") from exc
        except OSError as exc:
            failure = self._parting_words()
            self.close()
            raise failure or DaemonUnavailable(f"lost the connection to the daemon: {exc}") from exc

    def _parting_words(self) -> SvctlError | None:
        """What the daemon said before it closed the connection under a send (a refusal of
        this uid, say): the session's failure once the rest of the stream is read."""
        io, session = self._io, self._session
        if io is None or session is None:
            return None
        deadline = clock() + PARTING_WAIT
        try:
            done = False
            while not done:
                with io.reading(deadline) as turn:
                    done = turn  # else another task read meanwhile: wait for a turn
                    while turn and (data := io.receive(deadline)):
                        session.receive_data(data)
        except OSError:  # reset after the last bytes, or nothing more in time
            return session.failure
        session.receive_data(b"")
        return session.failure

    def _until(self, ready: Callable[[], _T | Pending], deadline: float | None) -> _T:
        while True:
            value = ready()
            if value is not PENDING:
                return value
            io, session = self._io, self._session
            if io is None or session is None:
                raise DaemonUnavailable("the connection was closed")
            try:
                with io.reading(deadline) as turn:
                    value = ready()
                    if value is not PENDING:
                        return value
                    if turn:
                        session.receive_data(io.receive(deadline))
            except KeyboardInterrupt:
                # Ctrl-C lands between any two bytecodes: maybe after bytes were received and
                # before the session read them all. The connection is out of step: give it up.
                self.close()
                raise
            except TimeoutError as exc:
                raise Timeout("no answer from the daemon in time") from exc
            except OSError as exc:
                self.close()
                raise DaemonUnavailable(f"lost the connection to the daemon: {exc}") from exc

    def _request(self, request: Request[_T], deadline: float | None) -> _T:
        session = self._connected(deadline)
        call = session.call(request)
        answered = False
        try:
            self._send(call.data, deadline)
            result = self._until(lambda: session.result(call), deadline)
            answered = True
            return result
        finally:
            if not answered:
                session.detach(call.id)

    def _call(self, request: Request[_T], seconds: TimeoutArg) -> _T:
        return self._request(request, self._deadline(seconds, blocking=request.blocking))

    # -- requests ------------------------------------------------------------------------------

    def ping(self, *, timeout: TimeoutArg = DEFAULT) -> float:
        """Check that the daemon answers; the round trip in seconds.

        Raises:
            DaemonUnavailable, Timeout: it does not.
        """
        started = clock()
        self._call(_requests.ping(), timeout)
        return clock() - started

    def status(
        self,
        *names: str,
        stats: bool = False,
        usage: bool = False,
        timeout: TimeoutArg = DEFAULT,
    ) -> list[ProgramStatus]:
        """The named programs' status (all of them, in config order, when none is named);
        ``stats`` adds each program's log counters (``ProgramStatus.logs``), ``usage`` the
        CPU time and memory of each current run (``ProgramStatus.usage``).

        Raises:
            NoSuchProgram: a name is unknown (``.known`` lists the valid ones).
        """
        return self._call(_requests.status(names, stats, usage), timeout)

    def store_health(self, *, timeout: TimeoutArg = DEFAULT) -> StoreHealth | None:
        """The daemon's state store: records held back (``pending``), dropped or refused, the
        last write error; None from a daemon that does not say."""
        return self._call(_requests.store(), timeout)

    def status_and_store(
        self,
        *names: str,
        stats: bool = False,
        timeout: TimeoutArg = DEFAULT,
    ) -> tuple[list[ProgramStatus], StoreHealth | None]:
        """:meth:`status` and :meth:`store_health` in one round trip.

        Raises:
            NoSuchProgram: a name is unknown.
        """
        return self._call(_requests.status_and_store(names, stats), timeout)

    def start(
        self,
        *names: str,
        all: bool = False,
        wait: bool = True,
        timeout: TimeoutArg = DEFAULT,
    ) -> list[ActionResult]:
        """Want programs up; with ``wait``, answer once each is RUNNING or has failed.

        A program that failed to start is a result with ``ok=False``, not an exception.

        Raises:
            NoSuchProgram: a name is unknown; nothing was started.
            UsageError: neither names nor ``all``, or both.
        """
        return self._call(_requests.action(Start, names, all, wait), timeout)

    def stop(
        self,
        *names: str,
        all: bool = False,
        wait: bool = True,
        with_dependents: bool = False,
        timeout: TimeoutArg = DEFAULT,
    ) -> list[ActionResult]:
        """Want programs down; with ``wait``, answer once each process group is gone. A
        program that running programs depend on is refused (its result names them) unless
        ``with_dependents``, which stops them first.

        Raises:
            NoSuchProgram: a name is unknown; nothing was stopped.
            UsageError: neither names nor ``all``, or both.
        """
        return self._call(_requests.stop(names, all, wait, with_dependents), timeout)

    def restart(
        self,
        *names: str,
        all: bool = False,
        wait: bool = True,
        rolling: bool = False,
        max_unavailable: int | None = None,
        timeout: TimeoutArg = DEFAULT,
    ) -> list[ActionResult]:
        """Stop then start programs; same answers as :meth:`start`.

        With ``rolling``, a replicated program's instances are restarted ``max_unavailable``
        at a time (None: the program's own setting), each batch ready before the next; the
        first that does not get ready stops the roll, and the instances not restarted come
        back ``ok=False`` saying so.

        Raises:
            NoSuchProgram: a name is unknown; nothing was restarted.
            UsageError: neither names nor ``all``, or both; ``rolling`` without ``wait``.
        """
        request = _requests.restart(names, all, wait, rolling, max_unavailable)
        return self._call(request, timeout)

    def scale(
        self,
        name: str,
        count: int,
        *,
        wait: bool = True,
        timeout: TimeoutArg = DEFAULT,
    ) -> list[ActionResult]:
        """Run ``count`` instances of replicated program ``name``: new ones are started (with
        ``wait``, answered once each runs or failed), the highest indices stopped first. The
        daemon keeps the count across its restarts. One result per instance added or removed.

        Raises:
            NoSuchProgram: no program has that name.
            CommandFailed: the program has no ``replicas`` (code ``bad_request``).
            UsageError: a negative count.
        """
        return self._call(_requests.scale(name, count, wait), timeout)

    def signal(
        self,
        *names: str,
        signal: str,
        all: bool = False,
        main: bool = False,
        timeout: TimeoutArg = DEFAULT,
    ) -> list[ActionResult]:
        """Send ``signal`` (``"HUP"``, ``"SIGUSR1"``, ``"usr2"``) to each program's process
        group, or with ``main`` to its main process alone; the daemon records it in the
        history. A program that is not running is a result with ``ok=False``.

        Raises:
            UsageError: an unknown signal name; neither names nor ``all``, or both.
            NoSuchProgram: a name is unknown; nothing was sent.
        """
        from supervisord_lite import signames  # here: only a signal needs the table

        signame = signames.normalise(signal)
        if signame is None:
            raise UsageError(f"unknown signal {signal!r} (known: {', '.join(signames.SIGNALS)})")
        return self._call(_requests.signal(names, all, signame, main), timeout)

    def history(
        self,
        name: str | None = None,
        limit: int = 20,
        *,
        timeout: TimeoutArg = DEFAULT,
    ) -> list[HistoryEntry]:
        """The last ``limit`` recorded events of ``name`` (of every program when None).

        Raises:
            NoSuchProgram: the daemon never knew ``name``.
        """
        return self._call(_requests.history(name, limit), timeout)

    def webhooks(
        self,
        *,
        timeout: TimeoutArg = DEFAULT,
    ) -> list[WebhookStatus]:
        """Each configured webhook's delivery: its cursor in the event log, how many events it
        has still to go through (``lag``), its deliveries and failed attempts, in config order."""
        return self._call(_requests.webhooks(), timeout)

    def wait(
        self,
        *names: str,
        state: ProgramState | str = "RUNNING",
        ready: bool = False,
        timeout: float | None = None,
    ) -> list[ActionResult]:
        """Block until every named program is in ``state``; the daemon watches, nobody polls.

        With ``ready``, wait until each is ready (RUNNING: ready by its probe, or alive
        ``start_seconds``); one that can no longer get there (FATAL, a dependency that failed)
        comes back at once with ``ok=False`` and the reason. ``timeout`` is how long the
        daemon waits (None: forever); the call itself gives up the client's own ``timeout``
        later than that.

        Raises:
            Timeout: the programs did not get there in time.
            NoSuchProgram: a name is unknown.
            ValueError: ``state`` is not a state name.
        """
        target = ProgramState(state.upper())
        request = _requests.wait(names, target, timeout, ready)
        if timeout is None or self.timeout is None:
            return self._request(request, None)
        return self._request(request, clock() + timeout + self.timeout)

    def reload(
        self,
        *,
        dry_run: bool = False,
        timeout: TimeoutArg = DEFAULT,
    ) -> ReloadReply:
        """Have the daemon re-read its config file and apply the difference; the reply is
        the plan it carried out. With ``dry_run`` it only works out the plan: nothing changes.

        Raises:
            ConfigInvalid: the file is invalid; the running config stays in force.
        """
        return self._call(_requests.reload(dry_run), timeout)

    def reopen_logs(
        self,
        *names: str,
        timeout: TimeoutArg = DEFAULT,
    ) -> str:
        """Have the daemon close the named programs' log files (every program's with no names)
        and open their paths afresh, as logrotate's ``postrotate`` wants; the daemon's word on
        it (``"reopening 4 log files"``).

        Raises:
            NoSuchProgram: a name is unknown.
        """
        return self._call(_requests.reopen_logs(names), timeout)

    def shutdown(
        self,
        *,
        wait: bool = True,
        timeout: TimeoutArg = DEFAULT,
    ) -> ShutdownReport | None:
        """Ask the daemon to stop every program and exit.

        With ``wait``, return only once the daemon closed this connection, which it does
        after its programs are stopped; the client is closed then. The answer says how the
        shutdown went (what had to be SIGKILLed); None without ``wait``, or from a daemon that
        does not report it.

        Raises:
            Timeout: the daemon did not finish within ``timeout``.
        """
        request = _requests.shutdown(wait)
        deadline = self._deadline(timeout, blocking=request.blocking)
        report = self._request(request, deadline)
        session = self._session
        if not wait or session is None:
            return report
        try:
            self._until(lambda: True if session.peer_closed else PENDING, deadline)
        except DaemonUnavailable:
            pass  # a reset instead of a clean close: the daemon is gone all the same
        finally:
            self.close()
        return report

    def events(
        self,
        *,
        since: int | None = None,
        follow: bool = True,
        timeout: TimeoutArg = DEFAULT,
    ) -> SyncPushStream[EventItem]:
        """The daemon's events, as an iterator of :class:`~svctl.StateChanged` (a program's)
        and :class:`~svctl.DaemonEvent` (the daemon's own), each with its ``seq`` in the event
        log (docs/events.md).

        With ``since`` None, the events from now on. With ``since`` >= 0, first the logged
        events from that seq on (0: the oldest kept; a :class:`~svctl.Missed` item first when
        some asked for are no longer kept), with ``since`` = -N the last N; then, with
        ``follow``, the live ones, with no gap and none twice; without ``follow`` the
        iteration ends after the replay.

        ``Client`` subscribes on entering ``with client.events() as events:`` (or
        on the first step of a bare iteration); ``Client`` subscribes before ``events()``
        returns. From then on no change is missed; leaving the ``with`` block cancels.
        Iteration waits without a limit and ends when the daemon ends the stream (at shutdown)
        or the stream is closed, also from another thread. ``timeout`` bounds subscribing and
        closing.
        """
        stream = SyncPushStream(self, _requests.subscribe(since, follow), timeout)
        stream.open()
        return stream

    def logs(
        self,
        name: str | None = None,
        stream: Stream | None = None,
        lines: int = 10,
        follow: bool = False,
        *,
        since: float | None = None,
        timeout: TimeoutArg = DEFAULT,
    ) -> SyncPushStream[LogChunk | Lagged]:
        """A program's last ``lines`` of output, then (with ``follow``) more as it comes.
        ``since`` (epoch seconds) keeps only the lines written at or after it, for streams
        whose lines carry their time (``timestamps = true`` or ``format = "json"``).

        Items are :class:`~svctl.LogChunk` (raw bytes) and :class:`~svctl.Lagged` (this
        reader fell behind). Opened and closed like :meth:`events`. An Error from the daemon
        is raised by the iteration.
        """
        request = _requests.logs(name, stream, lines, follow, since)
        items = SyncPushStream(self, request, timeout)
        items.open()
        return items


class SyncPushStream(Generic[ItemT]):
    """Items the daemon pushes on one stream: ``with`` it, then iterate it.

    :meth:`close` ends it; called from another thread while this stream's reader is
    blocked, it wakes the reader, whose iteration then ends.
    """

    def __init__(self, client: Client, request: StreamRequest[ItemT], timeout: TimeoutArg) -> None:
        self._client = client
        self._request = request
        self._timeout = timeout
        self._session: Session | None = None
        self._stream: PushStream[ItemT] | None = None
        self._over = False
        self._closed = False
        self.end: End | None = None
        """The daemon's End once the stream is over (its message says why)."""

    def open(self) -> None:
        """Send the request; for a subscription, wait until it is live. Idempotent.

        Raises:
            SvctlError: the daemon refused it, or could not be reached.
        """
        if self._stream is not None or self._over:
            return
        client = self._client
        deadline = client._deadline(self._timeout)
        session = client._connected(deadline)
        stream = session.open(self._request)
        self._session, self._stream = session, stream
        opened = False
        try:
            client._send(stream.data, deadline)
            ack = stream.ack
            if ack is not None:
                client._until(lambda: session.result(ack), deadline)
            opened = True
        finally:
            if not opened:
                self._over = True
                session.detach(stream.id)

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None and issubclass(exc_type, KeyboardInterrupt):
            # Ctrl-C ends at once: the connection is given up (the daemon ends its streams)
            # rather than the stream ended in a talk with the daemon.
            self._over = True
            self._client.close()
            return
        self.close()

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> ItemT:
        if self._over:
            raise StopIteration
        self.open()
        session, stream = self._session, self._stream
        if session is None or stream is None or session is not self._client._session:
            self._over = True
            raise DaemonUnavailable("the client's connection was closed")

        def ready() -> ItemT | End | Pending:
            return session.next_item(stream)

        try:
            item: ItemT | End = self._client._until(ready, None)
        except SvctlError:
            self._over = True
            if self._closed:
                raise StopIteration from None  # closed from another thread
            raise
        if isinstance(item, End):
            self._over = True
            self.end = item
            raise StopIteration
        return item

    def close(self) -> None:
        """End the stream: cancel it and wait (bounded by the timeout) until the daemon ended
        it. From another thread than the reader's, wake the reader instead; the connection is
        then given up, and the client's next call opens a new one.

        Raises:
            Timeout: the daemon did not confirm in time; the connection stays usable.
        """
        self._closed = True
        client, session, stream = self._client, self._session, self._stream
        if self._over or session is None or stream is None:
            self._over = True
            return
        io = client._io
        if session is not client._session or io is None:
            self._over = True
            return  # the connection is gone, and the stream with it
        if io.wake_reader():
            return  # the reader's iteration ends (it marks the stream over)
        self._over = True
        call = session.cancel(stream)
        if call is None:
            return
        deadline = client._deadline(self._timeout)
        done = False
        try:
            client._send(call.data, deadline)
            client._until(lambda: session.result(call), deadline)
            client._until(lambda: True if session.stream_over(stream) else PENDING, deadline)
            done = True
        finally:
            if not done:
                session.detach(call.id)
                session.detach(stream.id)


def _warn(message: str) -> None:
    warnings.warn(message, UserWarning, stacklevel=3)
