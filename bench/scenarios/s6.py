"""S6: N programs that exit on SIGTERM: stop-all (blocking, polled); daemon shutdown with N up."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from bench import procs
from bench.core import Metric
from bench.peers.base import DOWN, BenchTimeout
from bench.scenarios import sleepers

if TYPE_CHECKING:
    from bench.core import Trial

ID = "S6"
TITLE = "stop N programs, shut down"
FAMILY = "start-stop"
METRICS = [
    Metric("stop_blocking", "stop-all, blocking call → all N stopped", "s"),
    Metric("stop_poll", "stop-all, non-blocking + 20 ms poll → all N stopped", "s"),
    Metric("shutdown", "daemon shutdown request with N running → daemon exited (pidfd)", "s"),
]
NOTES = [
    "supervisord: its main loop sleeps in poll() with a 1 s timeout and is woken by I/O, not by "
    "SIGCHLD; graceful shutdown stops one process group per pass, so the shutdown time with N "
    "running is a race between ~0.1 s and ~N × 0.6 s.",
    "pm2: its client stops 2 apps at a time (CONCURRENT_ACTIONS) and confirms each stop by a "
    "100 ms poll, so stop-all of N costs about N/2 × 100 ms; shutdown is PM2's killDaemon "
    "(delete every app, then end the daemon).",
    "s6: stop-all is one sh loop of `s6-svc -d` (blocking: then `s6-svwait -D -a`); shutdown is"
    " `s6-svscanctl -t`.",
]


def run(t: Trial) -> None:
    n = t.params.n
    peer = t.daemon(sleepers(n))
    peer.wait_all("RUNNING", 60)
    for _ in range(t.params.s6_reps):
        for key, wait in (("stop_blocking", True), ("stop_poll", False)):
            t0 = time.monotonic()
            peer.stop_all(wait)
            peer.wait_all(DOWN, 60, 0.02)
            t.record(key, time.monotonic() - t0)
            peer.start_all(True)
            peer.wait_all("RUNNING", 60)
    t.stop_daemon(peer)
    for i in range(t.params.s6_shutdowns):
        peer = t.daemon(sleepers(n), sub=f"shutdown{i}")
        peer.wait_all("RUNNING", 60)
        clock = procs.DeathClock(peer.pid)
        t0 = time.monotonic()
        peer.request_shutdown()
        exited = clock.wait(120)
        clock.close()
        if exited is None:
            raise BenchTimeout("the daemon did not exit within 120 s of the shutdown request")
        t.record("shutdown", exited - t0)
        peer.close()
