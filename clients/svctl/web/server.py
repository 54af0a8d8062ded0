"""Run the page: Hypercorn's trio worker serving :func:`svctl.web.app.build_app`.

The address is bound here, before the event loop starts, so an address in use is one line of
error; the URL that carries the token is printed on stdout once the server listens (so
``--listen 127.0.0.1:0`` prints the port the kernel picked). SIGINT and SIGTERM end it: open
streams are cut after :data:`GRACE` seconds, which closes their connections to the daemon.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from functools import partial
from typing import TYPE_CHECKING, Final, cast

import trio
from hypercorn.config import Config
from hypercorn.trio import serve as hypercorn_serve

from svctl import SvctlError
from svctl.web import parse_listen
from svctl.web.app import build_app
from svctl.web.auth import Keys

if TYPE_CHECKING:
    from hypercorn.typing import ASGIFramework

__all__ = ["GRACE", "serve"]

GRACE: Final = 1.0
"""Seconds open requests get to finish once told to stop (event streams never do)."""


def serve(socket_path: str, listen: str, *, remote: bool) -> int:
    """Serve until SIGINT or SIGTERM; 0 then (see :func:`svctl.web.run`).

    Raises:
        SvctlError: the address cannot be bound (in use, not ours, not an address here).
    """
    host, port = parse_listen(listen)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        listener = socket.create_server((host, port), family=family)
    except OSError as exc:
        said = os.strerror(exc.errno) if exc.errno else str(exc)
        raise SvctlError(f"cannot listen on {listen}: {said}") from exc
    # Hypercorn takes the bound socket by its descriptor, and from then on owns it.
    return trio.run(_serve, socket_path, f"fd://{listener.detach()}", listen, remote)


async def _serve(socket_path: str, bind: str, listen: str, remote: bool) -> int:
    keys = Keys.generate()
    config = Config()
    config.bind = [bind]
    config.graceful_timeout = GRACE
    config.loglevel = "WARNING"  # its own "Running on" line: the URL below says it
    config.accesslog = None
    # Starlette's and Hypercorn's types of an ASGI app say the same thing in other words.
    app = cast("ASGIFramework", build_app(socket_path, keys, any_host=remote))
    stop = trio.Event()
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            binds: list[str] = await nursery.start(
                partial(hypercorn_serve, app, config, shutdown_trigger=stop.wait)
            )
            if remote:
                print(
                    f"svctl web: warning: {listen} can be reached from other machines, over"
                    " plain HTTP: the token and the session cookie cross the network in clear"
                    " text unless a TLS proxy is in front",
                    file=sys.stderr,
                    flush=True,
                )
            print(
                f"svctl web: serving the daemon on {socket_path}; open (the URL carries the"
                " token):",
                flush=True,
            )
            for bind in binds:
                print(f"{bind}/?token={keys.token}", flush=True)
            async for _ in signals:
                stop.set()
                break
    return 0
