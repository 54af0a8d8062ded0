"""Handed-over sockets of the config: ``[[programs.NAME.sockets]]``.

The daemon binds each listed socket once and hands the listening descriptor to every run and
every instance of the program (systemd's ``LISTEN_FDS`` convention, from fd 3 in the order of
the list), so a restart, or a rolling restart of replicas, never refuses a connection: the
kernel queues what arrives while no process accepts. ``listen`` is ``tcp://HOST:PORT``
(``tcp://[::1]:8000`` for IPv6) or the path of a Unix socket (it holds a ``/``; relative to
the config file's folder). What can be checked without binding is checked here, so a bad
address is a config error with its path. Pure.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Final

import msgspec
from msgspec import Meta

from supervisord_lite import config_wording as wording
from supervisord_lite.config_tables import INVALID, table
from supervisord_lite.config_values import resolve
from supervisord_lite.errors import Problem

if TYPE_CHECKING:
    from collections.abc import Mapping

    from supervisord_lite.config_program import ProgramConfig

__all__ = ["FIRST_FD", "SocketConfig", "check_socket", "check_sockets", "sockets", "split_tcp"]

FIRST_FD: Final = 3
"""The descriptor the first handed-over socket gets (``SD_LISTEN_FDS_START``)."""

_TCP: Final = re.compile(r"tcp://(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(?P<port>[0-9]{1,5})")
#: A name systemd accepts in ``LISTEN_FDNAMES``: printable ASCII without ':' (the separator).
_FDNAME: Final = re.compile(r"[!-9;-~]{1,255}")


class SocketConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[[programs.NAME.sockets]]``: one listening socket the program is handed."""

    listen: Annotated[str, Meta(min_length=1)]
    name: Annotated[str, Meta(min_length=1)] | None = None
    """Its name in ``LISTEN_FDNAMES``; the program's name when unset."""
    backlog: Annotated[int, Meta(ge=1, le=65535)] = 1024
    mode: Annotated[int, Meta(ge=0, le=0o777)] = 0o660
    """A Unix socket's file mode."""

    @property
    def is_tcp(self) -> bool:
        return self.listen.startswith("tcp://")


def split_tcp(listen: str) -> tuple[str, int]:
    """``tcp://HOST:PORT`` -> (host without brackets, port); ``check_socket`` vouched for it."""
    found = _TCP.fullmatch(listen)
    if found is None:
        raise ValueError(f"not a tcp:// address: {listen!r}")
    return found["host"].strip("[]"), int(found["port"])


def check_socket(socket: SocketConfig, where: str, problems: list[Problem]) -> None:
    """The address is one the daemon can try to bind; the name one systemd would accept."""
    listen = socket.listen
    if listen.startswith("tcp://"):
        found = _TCP.fullmatch(listen)
        if found is None or int(found["port"]) > 65535:
            message = (
                f"expected tcp://HOST:PORT (port 0 to 65535) or a Unix socket path, got {listen!r}"
            )
            problems.append(Problem(wording.join(where, "listen"), message))
    elif "/" not in listen:
        message = f"expected tcp://HOST:PORT or a Unix socket path with a '/', got {listen!r}"
        problems.append(Problem(wording.join(where, "listen"), message))
    if socket.name is not None and not _FDNAME.fullmatch(socket.name):
        message = "printable ASCII without spaces or ':', at most 255 characters"
        problems.append(Problem(wording.join(where, "name"), message))


def check_sockets(programs: Mapping[str, ProgramConfig], problems: list[Problem]) -> None:
    """Across programs: one address is bound once, and a program's ``ready.fd`` is not one of
    the descriptors its sockets take."""
    owners: dict[str, str] = {}
    for name, program in programs.items():
        path = f"{wording.join('$.programs', name)}.sockets"
        for i, socket in enumerate(program.sockets):
            where = f"{path}[{i}].listen"
            first = owners.setdefault(socket.listen, where)
            if first != where:
                problems.append(Problem(where, f"same address as {first} ({socket.listen})"))
        taken = range(FIRST_FD, FIRST_FD + len(program.sockets))
        if program.ready is not None and program.ready.fd in taken:
            where = f"{wording.join('$.programs', name)}.ready.fd"
            message = f"fd {program.ready.fd} is taken by a socket (fds {taken[0]} to {taken[-1]})"
            problems.append(Problem(where, message))


def sockets(raw: object, base: str, where: str, problems: list[Problem]) -> object:
    """A list of socket tables, each checked; a Unix socket's path resolved against ``base``."""
    if not isinstance(raw, list):
        problems.append(Problem(where, f"expected an array of tables, got {wording.kind_of(raw)}"))
        return INVALID
    before = len(problems)
    found = []
    for i, entry in enumerate(raw):
        at = f"{where}[{i}]"
        mark = len(problems)
        values = table(entry, SocketConfig, at, problems)
        if len(problems) > mark:
            continue
        socket = SocketConfig(**values)
        check_socket(socket, at, problems)
        if not socket.is_tcp:
            socket = msgspec.structs.replace(socket, listen=resolve(base, socket.listen))
        found.append(socket)
    return tuple(found) if len(problems) == before else INVALID
