"""The control server: accepts connections on the bound socket and hands each to a Session.

What it guards, so that no client can hurt the daemon or another client:

- At most ``max_connections`` connections are served at once; one more is answered with an
  ``Error`` that says so, and closed. What one connection may do is bounded by its Session
  (``control_session``); binding the socket is ``control_socket``'s job.
- While the daemon is out of file descriptors (or the kernel of socket memory), accepting waits:
  one line (repeated at most every ``EXHAUSTED_LOG_EVERY`` seconds) says what ran out, accepts
  are retried after a pause that doubles up to a bound, and sooner when one of the daemon's
  connections closes, since that frees a descriptor. The pending connections wait in the listen
  backlog meanwhile; none is lost.
"""

from __future__ import annotations

import errno
import math
import os
import resource
from typing import TYPE_CHECKING

import msgspec
import trio

from supervisord_lite.protocol import messages as m
from supervisord_lite.protocol.connection import Connection, Role
from supervisord_lite.runtime.control_session import (
    PeerCredentials,
    Session,
    goodbye,
    supplementary_groups,
)
from supervisord_lite.runtime.daemonlog import log
from supervisord_lite.vocabulary import AccessRole

if TYPE_CHECKING:
    import socket

    from supervisord_lite.config import DaemonConfig
    from supervisord_lite.runtime.handlers import Handlers

#: Accept retries while out of descriptors: the first pause, doubled up to the last.
ACCEPT_BACKOFF = (0.05, 1.0)
#: While accepting stays impossible, or connections beyond the cap keep coming, the line saying
#: so is repeated at most this often.
EXHAUSTED_LOG_EVERY = 60.0
#: The code of the Error that refuses a connection beyond ``max_connections``.
REFUSAL_BUSY_CODE = m.ErrorCode.BUSY

#: accept() errors that say a resource ran out, not that a peer did anything wrong.
_EXHAUSTED = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


def what_ran_out(err: int) -> str:
    """What ran out, in words an operator can act on, for an accept() errno in ``_EXHAUSTED``."""
    if err == errno.EMFILE:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        return f"out of file descriptors (EMFILE: the daemon's RLIMIT_NOFILE of {soft} is used up)"
    if err == errno.ENFILE:
        return "out of file descriptors (ENFILE: the system-wide limit fs.file-max is reached)"
    return f"out of kernel memory for sockets ({errno.errorcode.get(err, err)})"


class ControlStatistics(msgspec.Struct, frozen=True, kw_only=True):
    """Counters of a :class:`ControlServer` since it started."""

    open: int
    accepted: int
    refused_uid: int
    refused_role: int
    refused_busy: int
    timed_out: int
    protocol_errors: int
    failed: int
    throttled: int
    accept_exhausted: int


class ControlServer:
    """Serves connections on a bound socket until cancelled."""

    def __init__(self, sock: socket.socket, handlers: Handlers, daemon: DaemonConfig) -> None:
        self._sock = trio.socket.from_stdlib_socket(sock)
        self._handlers = handlers
        self.apply(daemon)
        self._open = 0
        self._refusing = 0
        self._busy_said_at = -math.inf
        self._closed_one = trio.Event()
        self.accepted = 0
        self.refused_uid = 0
        self.refused_role = 0
        self.refused_busy = 0
        self.timed_out = 0
        self.protocol_errors = 0
        self.failed = 0
        self.throttled = 0
        self.accept_exhausted = 0
        self._exhausted_said_at = -math.inf

    def apply(self, daemon: DaemonConfig) -> None:
        """Take the ``[daemon]`` settings the server serves by: who may connect, how long a
        connection may take to say hello or finish a frame, how many may be open. They hold
        for what happens next: a connection already open keeps being served, and one whose
        uid is no longer allowed is only refused when it connects again."""
        self.daemon = daemon
        self.own_uid = os.geteuid()
        self.client_timeout = daemon.client_timeout
        self.max_connections = daemon.max_connections

    def role_of(self, creds: PeerCredentials) -> AccessRole | None:
        """The role of a connecting peer under the ``[daemon.access]`` in force now. Its
        supplementary groups are read (a file to open) only when they could raise its role."""
        role = self.daemon.role_of(creds.uid, (creds.gid,), self.own_uid)
        access = self.daemon.access
        if role is AccessRole.CONTROL or not (access.control.gids or access.read.gids):
            return role
        gids = {creds.gid, *supplementary_groups(creds.pid)}
        return self.daemon.role_of(creds.uid, gids, self.own_uid)

    def statistics(self) -> ControlStatistics:
        return ControlStatistics(
            open=self._open,
            accepted=self.accepted,
            refused_uid=self.refused_uid,
            refused_role=self.refused_role,
            refused_busy=self.refused_busy,
            timed_out=self.timed_out,
            protocol_errors=self.protocol_errors,
            failed=self.failed,
            throttled=self.throttled,
            accept_exhausted=self.accept_exhausted,
        )

    async def serve(self) -> None:
        """Accept and serve connections until cancelled.

        Raises:
            OSError: accept() failed for a reason other than a peer that went away or a
                resource that ran out (a bug: the listening socket is the daemon's own).
        """
        listener = trio.SocketListener(self._sock)
        async with trio.open_nursery() as nursery:
            while True:
                stream = await self._accept(listener)
                self.accepted += 1
                if self._open >= self.max_connections:
                    self._count_busy()
                    if self._refusing < self.max_connections:
                        self._refusing += 1
                        nursery.start_soon(self._refuse_busy, stream)
                    else:  # a flood: no descriptors spent on explaining
                        await stream.aclose()
                    continue
                self._open += 1
                nursery.start_soon(self._serve_one, stream)

    async def _accept(self, listener: trio.SocketListener) -> trio.SocketStream:
        """The next connection; while a resource is exhausted, wait for it (module docstring)."""
        pause, longest = ACCEPT_BACKOFF
        since: float | None = None
        while True:
            try:
                stream = await listener.accept()
            except OSError as exc:
                if exc.errno not in _EXHAUSTED:
                    raise
                self.accept_exhausted += 1
                now = trio.current_time()
                since = now if since is None else since
                # Once a minute at most, across episodes: descriptors freed and used up again
                # (a spawn's pipes) make a new episode, not a new line.
                if now - self._exhausted_said_at >= EXHAUSTED_LOG_EVERY:
                    self._exhausted_said_at = now
                    log.error(
                        "%s: new control connections wait until some are freed "
                        "(%d connections open)",
                        what_ran_out(exc.errno),
                        self._open,
                    )
                self._closed_one = trio.Event()
                with trio.move_on_after(pause):
                    await self._closed_one.wait()
                pause = min(pause * 2, longest)
                continue
            if since is not None:
                log.info(
                    "accepting control connections again after %.1fs",
                    trio.current_time() - since,
                )
            return stream

    async def _serve_one(self, stream: trio.SocketStream) -> None:
        try:
            async with stream:
                try:
                    await Session(stream, self._handlers, self).run()
                except Exception:  # noqa: BLE001 - the connection boundary: one peer never ends the daemon
                    self.failed += 1
                    log.exception("a control connection failed; it was closed, the daemon goes on")
        finally:
            self._open -= 1
            self._closed_one.set()

    def _count_busy(self) -> None:
        self.refused_busy += 1
        now = trio.current_time()
        if now - self._busy_said_at >= EXHAUSTED_LOG_EVERY:
            self._busy_said_at = now
            log.warning(
                "refusing control connections: max_connections (%d) are open "
                "(%d refused since the daemon started)",
                self.max_connections,
                self.refused_busy,
            )

    async def _refuse_busy(self, stream: trio.SocketStream) -> None:
        error = m.Error(
            code=REFUSAL_BUSY_CODE,
            message=(
                f"the daemon already serves {self.max_connections} connections (its "
                "max_connections): try again once some have closed"
            ),
        )
        try:
            async with stream:
                await goodbye(stream, Connection(Role.SERVER).send(error))
        finally:
            self._refusing -= 1
            self._closed_one.set()
