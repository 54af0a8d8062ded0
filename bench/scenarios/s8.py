"""S8: one program writes S MB of 100-byte lines: how fast every byte reaches its log file.

This wraps ``bench/s8_logs.py`` so that S8 runs in the harness' rounds, temp dirs and marker
like every other scenario: its references (the writer straight into a file, and through ``cat``,
before and after the peer), its live-follower latency for ours, and its method for the peers
(the writer built first and started by SIGUSR1, the file's size polled every millisecond, relay
CPU from schedstat), applied to every peer through its adapter, so each is started
through its own client (s8_logs' own ``measure_lite``/``measure_supervisord`` use their own
daemon set-up and supervisorctl).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from typing import TYPE_CHECKING, Any

from bench import procs
from bench.core import Metric
from bench.peers.base import Program
from bench.scenarios import first_pid, until

if TYPE_CHECKING:
    from pathlib import Path

    from bench.core import Trial

ID = "S8"
TITLE = "log throughput"
FAMILY = "logs"
METRICS = [
    Metric("mbps", "throughput into the log file (10^6 B/s)", "MB/s", "higher"),
    Metric("vs_cat", "throughput ÷ `cat`'s, same trial", "×", "higher", False),
    Metric(
        "vs_file",
        "throughput ÷ the program writing the file itself, same trial",
        "×",
        "higher",
        False,
    ),
    Metric("relay_cpu", "CPU of the relay (the daemon's process, all threads)", "s"),
    Metric("lost", "bytes lost", "B", "none", False),
    Metric("cat_mbps", "reference: writer | cat > file, same trial", "MB/s", "higher", False),
    Metric("file_mbps", "reference: writer > file, same trial", "MB/s", "higher", False),
    Metric("cat_cpu", "reference: CPU of cat", "s", "lower", False),
    Metric("follow_p50", "a live follower sees a line, p50 (svctl logs -f)", "ms"),
    Metric("follow_p99", "a live follower sees a line, p99", "ms"),
]
NOTES = [
    "Measured by bench/s8_logs.py's functions: the writer (tests/programs/flood.py) builds its "
    "whole stream, then writes it in 1 MB writes from SIGUSR1 on; the clock runs from the "
    "signal to the moment the log file holds every byte (polled every 1 ms); relay CPU is the "
    "daemon's schedstat time over that span; bytes lost = expected − final size once the "
    "writer has exited and 2 s more have passed. Log rotation is off in every peer.",
    "`cat` runs before and after each peer in the same trial; the ratio is to their mean.",
    "Every peer starts the writer through its own client (not timed); the clock starts at SIGUSR1.",
    "The relay CPU of s6 sums s6-svscan, the s6-supervise processes and s6-log (its logger "
    "service, which writes LOGDIR/current, rotated past 256 MiB only); PM2's is its God daemon.",
    "The follower latency is measured for ours only (s8_logs.py: a program writes its "
    "monotonic clock every 5 ms, a svctl.Client following its log subtracts it on arrival).",
]
_NOT_FOLLOWED = "not measured for this peer: s8_logs.py measures the live follower of ours only"


@contextlib.contextmanager
def _marked(marker: str) -> Any:
    """s8_logs starts its processes with the harness' environment: mark them for the sweep."""
    os.environ[procs.MARKER_VAR] = marker
    try:
        yield
    finally:
        os.environ.pop(procs.MARKER_VAR, None)


def _measure_peer(t: Trial, s8: Any, total: int) -> dict[str, float]:
    """s8_logs' method (flood.py --ready, SIGUSR1, the file polled) through our peer adapter."""
    log, ready = t.dir / "peer-flood.log", t.dir / "peer.ready"
    program = Program(
        name="flood",
        argv=tuple(s8._flood_argv(total, ready)),
        autostart=False,
        stdout=str(log),
    )
    peer = t.daemon([program], sub="peer")
    peer.start(program.name, True)
    until(ready.exists, 60, "the writer to be ready")
    pid = first_pid(peer, program.name)
    relay = peer.daemon_pids()
    cpu0 = _cpu(s8, relay)
    t0 = time.monotonic()
    os.kill(pid, signal.SIGUSR1)
    done, size = s8._wait_file(log, total, s8._exited(pid))
    cpu = _cpu(s8, relay) - cpu0
    t.info["daemon_log_counters"] = _counters(peer, program.name)
    t.stop_daemon(peer)
    log.unlink(missing_ok=True)
    sample: dict[str, float] = s8._sample(total, done - t0, size, cpu)
    return sample


def _cpu(s8: Any, pids: list[int]) -> float:
    """CPU seconds of the relay's processes (the daemon, or s6's whole tree of them)."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            total += s8._cpu(pid)
    return total


def _counters(peer: Any, name: str) -> list[dict[str, Any]] | None:
    """Our daemon's own log counters for the program (bytes read, written, dropped...)."""
    if peer.name != "lite":
        return None
    import msgspec

    try:
        (status,) = peer.c.status(name, stats=True)
    except Exception:  # noqa: BLE001 - an older daemon or client without log counters
        return None
    return [msgspec.to_builtins(s) for s in getattr(status, "logs", ())]


def run(t: Trial) -> None:
    from bench import s8_logs as s8

    total = t.params.s8_mb * 1_000_000

    def fresh(name: str) -> Path:
        # one folder per measurement: s8_logs' ready files must not be there from a previous one
        folder = t.dir / name
        folder.mkdir()
        return folder

    with _marked(t.marker):
        cat_before = s8.measure_cat(fresh("cat1"), total)
        straight = s8.measure_file(fresh("file"), total)
        sample = _measure_peer(t, s8, total)
        cat_after = s8.measure_cat(fresh("cat2"), total)
        latency = s8.measure_latency(fresh("follow")) if t.peer_name == "lite" else None
    t.record("mbps", sample["mbps"])
    t.record("relay_cpu", sample["cpu"])
    t.record("lost", sample["lost"])
    t.record("vs_cat", sample["mbps"] / ((cat_before["mbps"] + cat_after["mbps"]) / 2))
    for ref in (cat_before, cat_after):
        t.record("cat_mbps", ref["mbps"])
        t.record("cat_cpu", ref["cpu"])
    t.record("file_mbps", straight["mbps"])
    t.record("vs_file", sample["mbps"] / straight["mbps"])
    t.info["s8_sample"] = sample
    if latency is not None:
        t.record("follow_p50", latency["p50_ms"])
        t.record("follow_p99", latency["p99_ms"])
    else:
        t.unsupported("follow_p50", _NOT_FOLLOWED)
        t.unsupported("follow_p99", _NOT_FOLLOWED)
