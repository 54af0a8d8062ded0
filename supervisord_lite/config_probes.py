"""Probe tables of the config: ``[programs.NAME.ready]`` and ``[programs.NAME.liveness]``.

A probe has exactly one kind key. Readiness may come from the program itself (``notify``: the
sd_notify protocol on its ``NOTIFY_SOCKET``; ``fd``: a newline on an inherited pipe, as s6;
``log``: a line of its output matching a regex) or from the daemon looking (``exec``: a command
that exits 0; ``http``: a GET answered with an accepted status; ``tcp``: a port that accepts).
Liveness is looked for only (``exec``, ``http``, ``tcp``); a program that can say it is alive
uses ``watchdog`` instead. The kind's value is checked here (a regex compiles, a URL is http(s)
with a host, an address has a port), so a bad probe is a config error, not a failed start.
Pure.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import TYPE_CHECKING, Annotated, Final, Literal

import msgspec
from msgspec import Meta

from supervisord_lite.config_tables import INVALID, table
from supervisord_lite.errors import Problem

if TYPE_CHECKING:
    from collections.abc import Callable

    from supervisord_lite.config_tables import Handler

__all__ = [
    "LIVENESS_KINDS",
    "READY_KINDS",
    "LivenessProbe",
    "Probe",
    "ProbeKind",
    "ReadyProbe",
    "check_probe",
    "probe",
    "split_address",
]

ProbeKind = Literal["notify", "fd", "exec", "http", "tcp", "log"]
READY_KINDS: Final[tuple[ProbeKind, ...]] = ("notify", "fd", "exec", "http", "tcp", "log")
LIVENESS_KINDS: Final[tuple[ProbeKind, ...]] = ("exec", "http", "tcp")

_Seconds = Annotated[float, Meta(gt=0)]
_Status = Annotated[int, Meta(ge=100, le=599)]


class Probe(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What both probe tables share: the kind (exactly one key) and how often to look."""

    exec: Annotated[tuple[str, ...], Meta(min_length=1)] | None = None
    http: Annotated[str, Meta(min_length=1)] | None = None
    http_status: tuple[_Status, ...] = ()
    """Accepted statuses; empty means any 2xx."""
    tcp: Annotated[str, Meta(min_length=1)] | None = None
    interval: _Seconds = 1.0
    timeout: _Seconds = 1.0
    initial_delay: Annotated[float, Meta(ge=0)] = 0.0

    @property
    def kind(self) -> ProbeKind:
        """The one kind key that is set (``check_probe`` guarantees there is one)."""
        for kind in READY_KINDS:
            value = getattr(self, kind, None)
            if value is not None and value is not False:
                return kind
        raise AssertionError("a probe without a kind")

    def accepts(self, status: int) -> bool:
        """Whether an HTTP answer with ``status`` counts as a success."""
        return status in self.http_status if self.http_status else 200 <= status < 300


class ReadyProbe(Probe, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[programs.NAME.ready]``: when a started program counts as ready (RUNNING)."""

    notify: bool = False
    fd: Annotated[int, Meta(ge=3, le=9)] | None = None
    log: Annotated[str, Meta(min_length=1)] | None = None
    start_timeout: _Seconds = 60.0
    """Not ready this long after the spawn: a failed start (backoff, FATAL after retries)."""


class LivenessProbe(Probe, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[programs.NAME.liveness]``: looked at while the program runs."""

    failure_threshold: Annotated[int, Meta(ge=1)] = 3
    """Consecutive failures that restart the program."""


def check_probe(probe: Probe, where: str, problems: list[Problem]) -> None:
    """Append what is wrong with a converted probe table: not exactly one kind, or a kind's
    value that cannot work."""
    allowed = READY_KINDS if isinstance(probe, ReadyProbe) else LIVENESS_KINDS
    given = [k for k in allowed if getattr(probe, k, None) not in (None, False)]
    if len(given) != 1:
        listed = ", ".join(allowed)
        said = f"got {', '.join(given)}" if given else "got none"
        problems.append(Problem(where, f"needs exactly one of {listed}; {said}"))
        return
    checks: dict[str, Callable[[object], str]] = {
        "http": _check_url,
        "tcp": _check_address,
        "log": _check_regex,
    }
    check = checks.get(given[0])
    if check is not None:
        message = check(getattr(probe, given[0]))
        if message:
            problems.append(Problem(f"{where}.{given[0]}", message))
    if probe.http_status and given[0] != "http":
        problems.append(Problem(f"{where}.http_status", "only with an http probe"))


def _check_url(value: object) -> str:
    url = urllib.parse.urlsplit(str(value))
    if url.scheme not in ("http", "https") or not url.hostname:
        return f"expected an http:// or https:// URL with a host, got {value!r}"
    try:
        _ = url.port
    except ValueError:
        return f"invalid port in {value!r}"
    return ""


def _check_address(value: object) -> str:
    return (
        ""
        if split_address(str(value)) is not None
        else (f"expected HOST:PORT (e.g. 127.0.0.1:8000 or [::1]:8000), got {value!r}")
    )


def _check_regex(value: object) -> str:
    try:
        re.compile(str(value))
    except re.error as exc:
        return f"invalid regular expression: {exc}"
    return ""


def split_address(text: str) -> tuple[str, int] | None:
    """``host:port`` (``[v6]:port`` for IPv6) as a pair, or None when it is not one."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return (host, int(port)) if host else None


def probe(cls: type[Probe]) -> Handler:
    """A handler converting a probe table of ``cls`` and checking its one kind."""

    def convert(raw: object, where: str, problems: list[Problem]) -> object:
        before = len(problems)
        values = table(raw, cls, where, problems)
        if len(problems) > before:
            return INVALID
        found = cls(**values)
        check_probe(found, where, problems)
        return found if len(problems) == before else INVALID

    return convert
