"""sd_notify: tell systemd (Type=notify) when we are ready, stopping, and how things stand.

Nothing happens when ``$NOTIFY_SOCKET`` is unset, so the daemon runs the same under a shell,
a container runtime or systemd. The ``STATUS=`` line (what ``systemctl status`` shows) follows
the programs: :func:`follow_status` sends a fresh summary after each state change the daemon
publishes, one datagram for a burst of changes that arrive together.
"""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING

import trio

from supervisord_lite.runtime.daemonlog import log

if TYPE_CHECKING:
    from collections.abc import Callable

    from supervisord_lite.runtime.eventlog import EventLog


class Notifier:
    """Sends datagrams to ``$NOTIFY_SOCKET`` (an abstract socket when it starts with '@')."""

    def __init__(self, address: str | None = None) -> None:
        address = os.environ.get("NOTIFY_SOCKET") if address is None else address
        self.address = "\0" + address[1:] if address and address.startswith("@") else address

    def notify(self, **fields: str) -> None:
        if not self.address:
            return
        payload = "\n".join(f"{key.upper()}={value}" for key, value in fields.items()).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(payload, self.address)
        except OSError as exc:
            log.warning("sd_notify to %r failed: %s", self.address, exc)

    def ready(self, status: str) -> None:
        self.notify(ready="1", status=status, mainpid=str(os.getpid()))

    def stopping(self, status: str) -> None:
        self.notify(stopping="1", status=status)

    def reloading(self, status: str) -> None:
        self.notify(reloading="1", status=status)

    def status(self, status: str) -> None:
        self.notify(status=status)


async def follow_status(notifier: Notifier, changes: EventLog, summary: Callable[[], str]) -> None:
    """Send ``STATUS=summary()`` after each state change in the event log, until it closes;
    a burst of changes already queued is one datagram. Nothing without a socket."""
    if not notifier.address:
        return
    with changes.subscribe() as sub:
        async for event in sub.receive:
            moved = event.change == "state"
            while True:  # take the rest of a burst, then say where things stand once
                try:
                    event = sub.receive.receive_nowait()
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
                moved = moved or event.change == "state"
            if moved:
                notifier.status(summary())
