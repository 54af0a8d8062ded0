"""``svctl web``: a page that shows the daemon's programs live and starts and stops them.

A separate process: the daemon has no HTTP surface; this one speaks to it over its control
socket through :class:`svctl.AsyncClient`, like any other client (docs/web.md). The server is
Starlette on Hypercorn's trio worker, and both are imported only when the command runs
(:func:`run`), so ``import svctl.cli`` stays light; they come with the ``web`` extra.
"""

from __future__ import annotations

import argparse
import ipaddress
from typing import Final

__all__ = ["DEFAULT_LISTEN", "add_arguments", "is_loopback", "parse_listen", "run"]

DEFAULT_LISTEN: Final = "127.0.0.1:9106"


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (an IPv6 host in brackets) as (host, port).

    Raises:
        argparse.ArgumentTypeError: not of that form.
    """
    host, colon, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not colon or not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"not HOST:PORT: {text!r} (e.g. {DEFAULT_LISTEN})")
    return host, int(port)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable only from this machine (``localhost`` or a loopback
    address); a host name is taken to be reachable from elsewhere."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``svctl web``'s own options."""
    parser.add_argument(
        "--listen",
        default=DEFAULT_LISTEN,
        metavar="HOST:PORT",
        help=f"where the page is served (default: {DEFAULT_LISTEN}; port 0: any free one)",
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a --listen address other machines can reach (plain HTTP: put a TLS proxy"
        " in front)",
    )


def run(socket_path: str, listen: str, *, allow_remote: bool) -> int:
    """Serve the page for the daemon on ``socket_path`` until SIGINT or SIGTERM; the exit
    status. The URL with the token is printed on stdout once the port is bound.

    Raises:
        UsageError: ``listen`` is unusable, not loopback without ``allow_remote``, or the
            ``web`` extra is not installed.
    """
    from svctl.errors import UsageError

    try:
        host, _ = parse_listen(listen)
    except argparse.ArgumentTypeError as exc:
        raise UsageError(str(exc)) from None
    if not is_loopback(host) and not allow_remote:
        raise UsageError(
            f"{listen} can be reached from other machines: give --allow-remote to serve there"
        )
    try:
        from svctl.web import server
    except ImportError as exc:
        raise UsageError(
            f"svctl web needs the web extra ({exc.name} is missing):"
            " pip install 'supervisord-lite[web]'"
        ) from exc
    return server.serve(socket_path, listen, remote=not is_loopback(host))
