"""S10: N running, SIGKILL the daemon, start it again: survivors and duplicate instances."""

from __future__ import annotations

import os
import signal
import time
from typing import TYPE_CHECKING

from bench import procs
from bench.core import Metric
from bench.peers.base import BenchTimeout
from bench.scenarios import sleepers

if TYPE_CHECKING:
    from bench.core import Trial

ID = "S10"
TITLE = "daemon crash and restart"
FAMILY = "no-orphans"
METRICS = [
    Metric(
        "alive_after_kill",
        "children alive 1 s after the daemon's SIGKILL (of N10)",
        "count",
        "none",
        False,
    ),
    Metric(
        "duplicates",
        "duplicate instances after the restart (old survivors + new)",
        "count",
        "none",
        False,
    ),
    Metric("restart_ready", "restart → all N10 reported running", "s"),
]
NOTES = [
    "Each program carries SVBENCH_PROG=<name>; duplicates = Σ max(0, live instances − 1), "
    "counted 1 s after the restarted daemon reports every program running (or after 20 s).",
    "The restarted daemon uses the same config and state files; old survivors it does not "
    "adopt or end outlive its clean shutdown and show up as leftovers.",
    "pm2: a restarted daemon starts with an empty list until the client registers the apps "
    "again, which starts new instances beside the survivors.",
    "s6: after s6-svscan is killed its s6-supervise processes live on and keep supervising; the"
    " new s6-svscan cannot adopt them (their replacements exit 'already running'), so the old "
    "instances are reported running and the orphaned supervisors outlive the shutdown "
    "(leftovers).",
]


def run(t: Trial) -> None:
    n = t.params.s10_n
    programs = [p.__class__(**{**p.__dict__, "env": {"SVBENCH_PROG": p.name}}) for p in sleepers(n)]
    first = t.daemon(programs, sub="d")
    first.wait_all("RUNNING", 30)
    before = {p.name: first.pids_of(p.name) for p in programs}
    first.close_client()
    assert first.process is not None
    os.kill(first.pid, signal.SIGKILL)
    first.process.wait(5)
    time.sleep(1.0)
    alive = sum(1 for pids in before.values() for pid in pids if procs.alive(pid))
    t.record("alive_after_kill", alive)

    second = t.new_peer("d")
    second.write_config(programs)
    second.launch()
    second.connect(30)
    try:
        second.wait_all("RUNNING", 20, 0.02)
        t.record("restart_ready", time.monotonic() - second.launched_at)
    except BenchTimeout as exc:
        t.error(f"after the restart: {exc}")
    time.sleep(1.0)
    duplicates = 0
    for p in programs:
        live = procs.find_marked(t.marker, extra=f"SVBENCH_PROG={p.name}".encode())
        duplicates += max(0, len(live) - 1)
    t.record("duplicates", duplicates)
