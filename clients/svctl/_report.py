"""``svctl.report()``: a supervised program tells the daemon how far it is.

One datagram of ``KEY=VALUE`` lines to ``$NOTIFY_SOCKET`` (the sd_notify protocol, with the
``X_PROGRESS_*`` keys of docs/progress.md). Standard library only, so a program pays for no event
loop and no daemon code by importing it; when the program is not supervised (no
``NOTIFY_SOCKET``) a call costs one environment lookup. The socket is non-blocking: a report the
daemon has no room for yet is dropped (the next one replaces it anyway) rather than slowing the
program, and nothing here raises for a missing, refusing or full socket.
"""

from __future__ import annotations

import os
import socket

__all__ = ["report"]

_sock: socket.socket | None = None


def report(
    done: float | None = None,
    total: float | None = None,
    phase: str | None = None,
    message: str | None = None,
    unit: str | None = None,
    **fields: object,
) -> bool:
    """Send one progress report to the supervisor; whether it was handed to the socket.

    ``done`` of ``total`` (in ``unit``), the ``phase``, a ``message`` (``STATUS=``, shown by
    ``svctl status``), and free fields (``rows=5`` is sent as ``X_ROWS=5``). What is left out
    keeps its last value in the daemon. Does nothing, and returns False, when the program is
    not supervised.
    """
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    lines = []
    if done is not None:
        lines.append(f"X_PROGRESS_DONE={_number(done)}")
    if total is not None:
        lines.append(f"X_PROGRESS_TOTAL={_number(total)}")
    if phase is not None:
        lines.append(f"X_PROGRESS_PHASE={_line(phase)}")
    if unit is not None:
        lines.append(f"X_PROGRESS_UNIT={_line(unit)}")
    if message is not None:
        lines.append(f"STATUS={_line(message)}")
    for key, value in fields.items():
        name = key.upper() if key.upper().startswith("X_") else f"X_{key.upper()}"
        lines.append(f"{name}={_line(str(value))}")
    if address[0] == "@":
        address = "\0" + address[1:]
    return _send("\n".join(lines).encode("utf-8", "replace"), address)


def _send(data: bytes, address: str) -> bool:
    global _sock
    try:
        if _sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            sock.setblocking(False)
            _sock = sock
        _sock.sendto(data, address)
    except OSError:
        return False
    return True


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _line(text: str) -> str:
    return text.replace("\n", " ")
