"""S4: daemon memory with N and N-large children, and the boot time of N-large."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from bench import procs
from bench.core import Metric
from bench.scenarios import sleepers

if TYPE_CHECKING:
    from bench.core import Trial

ID = "S4"
TITLE = "memory"
FAMILY = "resources"
METRICS = [
    Metric("rss_n", "daemon RSS, N children", "MiB"),
    Metric("uss_n", "daemon USS, N children", "MiB"),
    Metric("pss_n", "daemon PSS, N children", "MiB"),
    Metric("rss_large", "daemon RSS, N-large children", "MiB"),
    Metric("uss_large", "daemon USS, N-large children", "MiB"),
    Metric("pss_large", "daemon PSS, N-large children", "MiB"),
    Metric("per_child", "USS per extra child, (USS large − USS N) / (large − N)", "KiB"),
    Metric("boot_large", "cold boot → all N-large running", "s"),
]
NOTES = [
    "Memory is read 1 s after every program is running and after status-all calls (the "
    "polling that saw them running), from /proc/PID/smaps (psutil.memory_full_info).",
    "Each peer keeps its default output handling (supervisord: AUTO log files; circus: none, "
    "children inherit circusd's stdout; ours: a log file per stream).",
    "s6: memory is summed over s6-svscan and every s6-supervise (RSS counts shared pages once "
    "per process; USS and PSS do not); its programs' output goes to s6-svscan's stdout.",
    "pm2: the God daemon alone (not the Node helper); output goes to PM2's default log files.",
]


def _one(t: Trial, count: int) -> dict[str, float]:
    peer = t.new_peer(f"n{count}")
    peer.write_config(sleepers(count))
    peer.launch()
    peer.connect(120)
    peer.wait_all("RUNNING", 300, 0.02 if count <= 100 else 0.1)
    boot = time.monotonic() - peer.launched_at
    time.sleep(1.0)
    mem = procs.memory(peer.daemon_pids())
    mem["boot"] = boot
    t.stop_daemon(peer, 180)
    return mem


def run(t: Trial) -> None:
    n, large = t.params.n, t.params.s4_large
    small = _one(t, n)
    big = _one(t, large)
    for kind in ("rss", "uss", "pss"):
        t.record(f"{kind}_n", small[kind])
        t.record(f"{kind}_large", big[kind])
    t.record("per_child", (big["uss"] - small["uss"]) * 1024 / (large - n))
    t.record("boot_large", big["boot"])
