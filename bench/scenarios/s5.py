"""S5: a program that ignores SIGTERM, stop timeout 1 s: how long past 1 s until it is stopped."""

from __future__ import annotations

import functools
import sys
import time
from typing import TYPE_CHECKING

from bench import procs
from bench.core import Metric
from bench.peers.base import DOWN, BenchTimeout, Program
from bench.scenarios import first_pid, until

if TYPE_CHECKING:
    from bench.core import Trial

ID = "S5"
TITLE = "stop escalation"
FAMILY = "latency"
METRICS = [
    Metric("overshoot_blocking", "overshoot beyond 1.0 s, blocking stop → call returns", "ms"),
    Metric("overshoot_poll", "overshoot beyond 1.0 s, non-blocking stop + 5 ms poll", "ms"),
    Metric("killed_after", "SIGKILL landed (pidfd) beyond 1.0 s after the request", "ms"),
    Metric("seen_after_death", "process died → client sees it stopped (blocking)", "ms"),
]
NOTES = [
    "The program is a Python one-liner that ignores SIGTERM and sleeps; each stop waits until "
    "/proc shows SIGTERM ignored. The 'process died' clock is a harness thread blocked on a "
    "pidfd.",
    "supervisord: stopwaitsecs is whole seconds; 1 s is exact here.",
    "pm2: PM2 7.0 stops with the daemon-wide PM2_KILL_SIGNAL (set to SIGTERM; its default is "
    "SIGINT) and kill_timeout; it confirms a stop by polling the process every 100 ms "
    "(KILL_RETRY_TIME), so 'stopped' shows up to ~100 ms after the process died.",
    "s6: timeout-kill holds the stop timeout; the blocking stop is `s6-svc -wD -d` (down and "
    "its finish script done, as s6-rc waits), the polled one `s6-svc -d` and s6-svstat runs.",
]

STUBBORN = Program(
    name="stubborn",
    argv=(
        sys.executable,
        "-c",
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(3600)",
    ),
    autostart=False,
    stop_timeout=1.0,
)


def run(t: Trial) -> None:
    peer = t.daemon([STUBBORN])
    name = STUBBORN.name
    for variant in ("blocking", "poll"):
        for _ in range(t.params.s5_reps):
            peer.start(name, True)
            until(lambda: peer.status_one(name).state == "RUNNING", 10, "stubborn running")
            pid = first_pid(peer, name)
            until(functools.partial(_ignores_term, pid), 10, "SIGTERM ignored")
            clock = procs.DeathClock(pid)
            t0 = time.monotonic()
            if variant == "blocking":
                peer.stop(name, True)
                seen = time.monotonic()
            else:
                peer.stop(name, False)
                seen = until(lambda: peer.status_one(name).state in DOWN, 15, "stopped")
            died = clock.wait(5)
            clock.close()
            if died is None:
                raise BenchTimeout("the stubborn program never died")
            t.record(f"overshoot_{variant}", (seen - t0 - 1.0) * 1000)
            t.record("killed_after", (died - t0 - 1.0) * 1000)
            if variant == "blocking":
                t.record("seen_after_death", (seen - died) * 1000)


def _ignores_term(pid: int) -> bool:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("SigIgn:"):
                return bool(int(line.split()[1], 16) & (1 << (15 - 1)))
    return False
