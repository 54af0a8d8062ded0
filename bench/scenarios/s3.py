"""S3: N idle children for a window: daemon CPU and voluntary context switches, all threads."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from bench.core import Metric
from bench.procs import IdleMeter
from bench.scenarios import sleepers

if TYPE_CHECKING:
    from bench.core import Trial

ID = "S3"
TITLE = "idle cost"
FAMILY = "resources"
METRICS = [
    Metric("cpu_schedstat", "daemon CPU over the window (schedstat, all threads)", "s"),
    Metric("cpu_stat", "daemon CPU over the window (utime+stime)", "s"),
    Metric("wakeups", "voluntary ctx switches/s over the window, all threads", "/s"),
    Metric("threads", "daemon threads seen in the window", "count", better="none", ratio=False),
]
NOTES = [
    "The client connection is closed and the daemon left alone for 2 s before the window; "
    "nothing talks to it during the window. Threads are read from /proc once a second (this "
    "does not wake the daemon); a thread born in the window counts from zero.",
    "s6: the daemon is a tree (s6-svscan, one s6-supervise per program); CPU and wake-ups are "
    "summed over all of them, and 'threads' counts their threads.",
    "pm2: the daemon is PM2's God daemon alone; the Node helper (the client) is closed during "
    "the window like every other client.",
]


def run(t: Trial) -> None:
    peer = t.daemon(sleepers(t.params.n))
    peer.wait_all("RUNNING", 60)
    peer.close_client()
    time.sleep(2.0)
    figures = IdleMeter(peer.daemon_pids()).run(t.params.s3_window)
    t.record("cpu_schedstat", figures["cpu_schedstat_s"])
    t.record("cpu_stat", figures["cpu_stat_s"])
    t.record("wakeups", figures["voluntary_per_s"])
    t.record("threads", figures["threads"])
    t.info["idle"] = figures
    peer.connect(10)
