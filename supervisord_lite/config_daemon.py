"""The ``[daemon]`` table: where the daemon keeps its socket, state and logs, who may use the
socket (``[daemon.access]``), and where the Prometheus endpoint listens (``[daemon.metrics]``).

Its paths are absolute once converted: relative ones resolve against the config's folder, so a
daemon started from any cwd finds the same files. Pure.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Final, Literal

import msgspec
from msgspec import Meta

from supervisord_lite import config_wording as wording
from supervisord_lite.config_tables import INVALID, table
from supervisord_lite.config_values import (
    Mode,
    NonEmptyStr,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    resolve,
)
from supervisord_lite.errors import Problem
from supervisord_lite.vocabulary import AccessRole

if TYPE_CHECKING:
    from collections.abc import Collection

__all__ = ["AccessConfig", "AccessGrant", "DaemonConfig", "MetricsConfig", "daemon"]


class MetricsConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[daemon.metrics]``: where the Prometheus endpoint listens; off while ``listen`` is None.

    ``listen`` is ``HOST:PORT`` (``[::1]:9105`` for IPv6) or, when it holds a ``/``, the path of
    a Unix socket (absolute after ``load``).
    """

    listen: NonEmptyStr | None = None


class AccessGrant(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Callers given one role: by their uid, or by any of their groups (primary or
    supplementary)."""

    uids: tuple[NonNegativeInt, ...] = ()
    gids: tuple[NonNegativeInt, ...] = ()


class AccessConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[daemon.access]``: who may look (``read``) and who may act (``control``) over the
    control socket, besides root and the daemon's own user (always ``control``)."""

    read: AccessGrant = AccessGrant()
    control: AccessGrant = AccessGrant()


class DaemonConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[daemon]``: where the daemon keeps its socket, state and logs."""

    socket: NonEmptyStr = "/run/supervisord-lite/ctl.sock"
    socket_mode: Mode = 0o600
    allow_uids: tuple[NonNegativeInt, ...] = ()
    state_db: NonEmptyStr = "state/supervisor.db"
    log_dir: NonEmptyStr = "logs"
    shutdown_timeout: PositiveFloat = 30.0
    containment: Literal["auto", "cgroup", "subreaper"] = "auto"
    history_runs: NonNegativeInt = 1000
    event_log_max: NonNegativeInt = 100_000
    event_log_max_age: NonNegativeFloat = 2_592_000.0
    client_timeout: PositiveFloat = 10.0
    max_connections: Annotated[int, Meta(ge=1)] = 256
    metrics: MetricsConfig = MetricsConfig()
    access: AccessConfig = AccessConfig()
    exit_when: Literal["any-critical", "all-exited"] = "any-critical"
    # Changing a running system (docs/changing-a-running-system.md).
    watch_config: bool = False

    def role_of(self, uid: int, gids: Collection[int], own_uid: int) -> AccessRole | None:
        """The role of a caller with ``uid`` and groups ``gids`` on a daemon running as
        ``own_uid``; None when it may not connect at all."""
        control = self.access.control
        if uid in (0, own_uid) or uid in self.allow_uids or uid in control.uids:
            return AccessRole.CONTROL
        if not set(control.gids).isdisjoint(gids):
            return AccessRole.CONTROL
        read = self.access.read
        if uid in read.uids or not set(read.gids).isdisjoint(gids):
            return AccessRole.READ
        return None


def daemon(raw: object, base: str, problems: list[Problem]) -> DaemonConfig | None:
    """The ``[daemon]`` table with its paths resolved against ``base``; None when it has
    problems (each reported)."""
    before = len(problems)

    def metrics(value: object, where: str, problems: list[Problem]) -> object:
        return _metrics(value, base, where, problems)

    values = table(raw, DaemonConfig, "$.daemon", problems, special={"metrics": metrics})
    if len(problems) > before:
        return None
    converted = DaemonConfig(**values)
    return msgspec.structs.replace(
        converted,
        socket=resolve(base, converted.socket),
        state_db=resolve(base, converted.state_db),
        log_dir=resolve(base, converted.log_dir),
    )


#: ``HOST:PORT`` of a TCP listener: a name or IPv4 address, or an IPv6 address in brackets.
_HOST_PORT: Final = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(?P<port>[0-9]{1,5})")


def _metrics(raw: object, base: str, where: str, problems: list[Problem]) -> object:
    """``[daemon.metrics]``: ``listen`` is ``HOST:PORT`` or a Unix socket path (it has a ``/``),
    resolved against ``base``."""
    before = len(problems)
    values = table(raw, MetricsConfig, where, problems)
    if len(problems) > before:
        return INVALID
    listen = values.get("listen")
    if listen is None:
        return MetricsConfig()
    if "/" in listen:
        return MetricsConfig(listen=resolve(base, listen))
    found = _HOST_PORT.fullmatch(listen)
    if found is None or int(found["port"]) > 65535:
        message = (
            f"expected HOST:PORT (port 0 to 65535) or a Unix socket path with a '/', got {listen!r}"
        )
        problems.append(Problem(wording.join(where, "listen"), message))
        return INVALID
    return MetricsConfig(listen=listen)
