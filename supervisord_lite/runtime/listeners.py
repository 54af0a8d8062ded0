"""The handed-over sockets (config_sockets.py), bound by the daemon and kept by address.

A socket is bound when the config that lists it is loaded (at start, and by a reload that adds
it) and stays bound, under the same descriptor, for as long as some program lists its address:
a restart, a rolling restart and a reload that restarts the program all hand the new processes
the very socket the old ones accepted from, so the kernel's queue holds what arrives meanwhile
and no connection is refused. A bind that fails is a config error naming the socket's path in
the file (``$.programs.web.sockets[0].listen: cannot bind tcp://0.0.0.0:80: Permission
denied``); at start the daemon does not start, on a reload the running config stays.

A Unix socket's file is created at its ``mode`` or tighter (the socket inode's mode is set
before ``bind``, which Linux applies to the new file, so the process-wide umask is never
touched), then set to ``mode``; a stale socket file nobody listens on is replaced, a live one
refused.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat
from typing import TYPE_CHECKING

from supervisord_lite import config_wording as wording
from supervisord_lite.config_sockets import split_tcp
from supervisord_lite.errors import ConfigError, Problem

if TYPE_CHECKING:
    from supervisord_lite.config import Config, ProgramConfig
    from supervisord_lite.config_sockets import SocketConfig

__all__ = ["Listeners"]


class Listeners:
    """Every handed-over socket the daemon holds, by its ``listen`` address."""

    def __init__(self) -> None:
        self._bound: dict[str, socket.socket] = {}

    def bind(self, config: Config) -> None:
        """Bind each socket ``config`` lists that is not bound yet (all or none of them).

        Raises:
            ConfigError: a socket could not be bound; every failure is a problem.
        """
        fresh: dict[str, socket.socket] = {}
        problems: list[Problem] = []
        for name, program in config.programs.items():
            for i, wanted in enumerate(program.sockets):
                if wanted.listen in self._bound or wanted.listen in fresh:
                    continue
                where = f"{wording.join('$.programs', name)}.sockets[{i}].listen"
                try:
                    fresh[wanted.listen] = _bind(wanted)
                except OSError as exc:
                    why = exc.strerror or str(exc)
                    problems.append(Problem(where, f"cannot bind {wanted.listen}: {why}"))
        if problems:
            for sock in fresh.values():
                _close(sock)
            raise ConfigError(config.source, problems)
        self._bound.update(fresh)

    def handed(self, program: ProgramConfig) -> tuple[tuple[int, str], ...]:
        """The descriptors a run of ``program`` gets, in order, each with its name."""
        return tuple(
            (self._bound[s.listen].fileno(), s.name or _base_name(program.name))
            for s in program.sockets
        )

    def keep_only(self, config: Config) -> None:
        """Close the sockets no program of ``config`` lists any more."""
        wanted = {s.listen for p in config.programs.values() for s in p.sockets}
        for listen in [a for a in self._bound if a not in wanted]:
            _close(self._bound.pop(listen))

    def close(self) -> None:
        for sock in self._bound.values():
            _close(sock)
        self._bound.clear()


def _base_name(name: str) -> str:
    """An instance's sockets are named after its program (``web:0`` -> ``web``): ':' is the
    separator of ``LISTEN_FDNAMES``."""
    return name.partition(":")[0]


def _bind(wanted: SocketConfig) -> socket.socket:
    """A listening socket for ``wanted``, blocking, close-on-exec in the daemon.

    Raises:
        OSError: the address cannot be bound (in use, not ours, no such folder...).
    """
    if wanted.is_tcp:
        host, port = split_tcp(wanted.listen)
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(wanted.backlog)
        except OSError:
            sock.close()
            raise
        return sock
    path = wanted.listen
    _replace_stale(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        os.fchmod(sock.fileno(), wanted.mode)  # the new file's mode, less the umask
        sock.bind(path)
        os.chmod(path, wanted.mode)
        sock.listen(wanted.backlog)
    except OSError:
        sock.close()
        raise
    return sock


def _replace_stale(path: str) -> None:
    """Remove a socket file at ``path`` nobody listens on.

    Raises:
        OSError: something else is there, or a live socket (EADDRINUSE).
    """
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise FileExistsError(errno.EEXIST, "the path exists and is not a socket", path)
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(path)
    except OSError:
        os.unlink(path)
        return
    finally:
        probe.close()
    raise OSError(errno.EADDRINUSE, "another process listens on it", path)


def _close(sock: socket.socket) -> None:
    if sock.family == socket.AF_UNIX:
        path = sock.getsockname()
        if isinstance(path, str) and path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
    sock.close()
