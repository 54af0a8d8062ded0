"""One look at a program from outside: run a command, GET a URL, connect to a port.

These are the probe kinds that must be polled (the kernel cannot tell us when a port starts
accepting); each call is one attempt, bounded by the probe's ``timeout``, and its caller decides
the interval (the user's). A command runs as the program would (its user, environment and
folder) in its own process group, killed whole when it overruns. The HTTP client (httpx, which
runs on trio through anyio) is imported only by a daemon that has an http probe.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec
import trio

from supervisord_lite.config_probes import split_address
from supervisord_lite.runtime.helper_process import run_helper

if TYPE_CHECKING:
    from supervisord_lite.config import ProgramConfig
    from supervisord_lite.config_probes import Probe
    from supervisord_lite.runtime.reaper import Reaper

__all__ = ["ProbeResult", "check"]


class ProbeResult(msgspec.Struct, frozen=True, kw_only=True):
    """One attempt: did it pass, what it saw (``"HTTP 503"``, ``"exit 1: not ready"``), and
    how long it took (seconds)."""

    ok: bool
    detail: str
    latency: float


async def check(
    probe: Probe, program: ProgramConfig, *, cwd: str, reaper: Reaper | None = None
) -> ProbeResult:
    """Look once; never raises for what the program did (a refusal is a failed result).
    ``reaper``: the daemon's subreaper, told about an ``exec`` probe's process."""
    started = trio.current_time()
    ok, detail = False, "timed out"
    with trio.move_on_after(probe.timeout):
        if probe.exec is not None:
            ok, detail = await _exec(probe.exec, program, cwd, reaper)
        elif probe.http is not None:
            ok, detail = await _http(probe, probe.http)
        elif probe.tcp is not None:
            ok, detail = await _tcp(probe.tcp)
        else:
            raise ValueError(f"a {probe.kind} probe is not looked at from outside")
    if detail == "timed out":
        detail = f"timed out after {probe.timeout:g} s"
    return ProbeResult(ok=ok, detail=detail, latency=trio.current_time() - started)


async def _exec(
    argv: tuple[str, ...], program: ProgramConfig, cwd: str, reaper: Reaper | None
) -> tuple[bool, str]:
    result = await run_helper(argv, program, cwd=cwd, reaper=reaper)
    return result.ok, result.describe()


async def _http(probe: Probe, url: str) -> tuple[bool, str]:
    import httpx

    try:
        async with httpx.AsyncClient(timeout=probe.timeout, follow_redirects=False) as client:
            response = await client.get(url)
    except httpx.HTTPError as exc:
        return False, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return probe.accepts(response.status_code), f"HTTP {response.status_code}"


async def _tcp(address: str) -> tuple[bool, str]:
    split = split_address(address)
    if split is None:  # config.py refuses these
        return False, f"not an address: {address!r}"
    host, port = split
    try:
        stream = await trio.open_tcp_stream(host, port)
    except OSError as exc:
        # trio says "all attempts to connect failed" and keeps each attempt's error in a group
        # as the cause: the kernel's answer (ECONNREFUSED...) is the useful part.
        cause = exc.__cause__
        attempts = cause.exceptions if isinstance(cause, BaseExceptionGroup) else ()
        said = {a.strerror for a in attempts if isinstance(a, OSError) and a.strerror}
        return False, ", ".join(sorted(said)) or str(exc)
    await stream.aclose()
    return True, "connected"
