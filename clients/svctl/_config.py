"""Find the daemon's socket in its config file, reading nothing else of it.

``svctl -c CONFIG`` and ``Client.from_config`` need one setting, ``[daemon].socket``. The
daemon's own validation would refuse the whole file for a typo in an unrelated program,
which locks the operator out of a running daemon exactly while they edit its config. So this
reads the TOML with the standard library, takes that one value (relative to the file's
folder, as the daemon resolves it), and reports what it could not read as a warning:

- the file is not valid TOML: the ``[daemon]`` table is read on its own, if it parses;
- no ``[daemon].socket`` (or not a string): the default path, as the daemon would use.

Only a file that cannot be read at all is an error.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from svctl._session import DEFAULT_SOCKET
from svctl.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["socket_from_config"]


def socket_from_config(
    config: str | os.PathLike[str], *, warn: Callable[[str], None] | None = None
) -> str:
    """The socket path ``config``'s ``[daemon].socket`` names; see the module docstring.

    ``warn`` receives each problem as one line (nothing is said when it is None).

    Raises:
        UsageError: the file cannot be read.
    """
    source = os.fspath(config)
    try:
        with open(source, "rb") as file:
            data = file.read()
    except OSError as exc:
        raise UsageError(f"{source}: cannot read the file: {exc.strerror or exc}") from exc

    import tomllib  # only ``-c`` pays for the TOML parser

    def problem(message: str) -> None:
        if warn is not None:
            warn(f"{source}: {message}")

    text = data.decode("utf-8", errors="replace")
    try:
        daemon: Any = tomllib.loads(text).get("daemon", {})
    except tomllib.TOMLDecodeError as exc:
        daemon = _daemon_table_alone(text)
        if daemon is None:
            problem(f"not valid TOML ({exc}); using the default socket {DEFAULT_SOCKET}")
            return DEFAULT_SOCKET
        problem(f"not valid TOML ({exc}); read [daemon].socket from its [daemon] table alone")
    socket = daemon.get("socket", DEFAULT_SOCKET) if isinstance(daemon, dict) else None
    if not isinstance(socket, str) or not socket:
        problem(f"[daemon].socket is not a path; using the default socket {DEFAULT_SOCKET}")
        return DEFAULT_SOCKET
    base = os.path.dirname(os.path.abspath(source))
    return os.path.normpath(os.path.join(base, socket))


def _daemon_table_alone(text: str) -> dict[str, Any] | None:
    """The ``[daemon]`` table of a file that does not parse as a whole: its lines, up to the
    next table header, parsed on their own (None when there is none or it does not parse)."""
    import tomllib

    lines = text.splitlines()
    try:
        start = next(
            i for i, line in enumerate(lines) if line.split("#", 1)[0].strip() == "[daemon]"
        )
    except StopIteration:
        return None
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")),
        len(lines),
    )
    try:
        table: dict[str, Any] = tomllib.loads("\n".join(lines[start + 1 : end]))
    except tomllib.TOMLDecodeError:
        return None
    return table
