"""S2: N running: sequential status-all and single-program status calls; the cold CLI."""

from __future__ import annotations

import subprocess
import time
from typing import TYPE_CHECKING

from bench import floors
from bench.core import Metric
from bench.scenarios import sleepers
from bench.stats import percentile
from supervisord_lite.protocol.messages import ProgramStatus

if TYPE_CHECKING:
    from bench.core import Trial

ID = "S2"
TITLE = "status latency"
FAMILY = "latency"
METRICS = [
    Metric("all_p50", "status-all (native client) p50", "ms"),
    Metric("all_p99", "status-all (native client) p99", "ms"),
    Metric("one_p50", "status of one program p50", "ms"),
    Metric("one_p99", "status of one program p99", "ms"),
    Metric("cli", "cold CLI `status` (whole process)", "ms"),
    *floors.metrics(floors.CLI, "ms"),
]
NOTES = [
    "status-all is each peer's native 'status of everything': circus answers one word per "
    "watcher (no pid, no uptime), supervisord a struct of about 14 fields per process, ours "
    f"{len(ProgramStatus.__struct_fields__)} fields per program (state, pid, uptime, last exit, "
    "readiness, health, progress, intent, dependencies...); the payloads are not equal.",
    "The cold CLI is `svctl --socket S status`, `supervisorctl -c CONF status` and "
    "`circusctl --endpoint E status`, `pm2 ls` (PM2_HOME set) and, for s6, which has no "
    "status-all tool, `sh -c 'for d in SCAN/*/; do s6-svstat $d; done'`, each timed as a whole "
    "process from fork to exit.",
    "The floors are the interpreter our CLI runs on, started alone, timed in ours' trial "
    "right after each run of our CLI.",
    "pm2: `pm2 describe NAME` (the status of one program) fetches the full process list, every "
    "app's environment and a pidusage sample of every pid, and filters it: it costs as much "
    "as status-all.",
    "s6: no control socket and no status-all: status-all is N s6-svstat runs from one sh loop, "
    "and the status of one program one s6-svstat run.",
]


def _timed(call, count: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(count):
        t0 = time.perf_counter()
        call()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def run(t: Trial) -> None:
    n, calls = t.params.n, t.params.s2_calls
    programs = sleepers(n)
    peer = t.daemon(programs)
    peer.wait_all("RUNNING", 60)
    _timed(peer.status_all, 10)  # warm-up: connections, caches
    every = _timed(peer.status_all, calls)
    names = [p.name for p in programs]
    one: list[float] = []
    for i in range(calls):
        name = names[i % len(names)]
        t0 = time.perf_counter()
        peer.status_one(name)
        one.append((time.perf_counter() - t0) * 1000)
    t.record("all_p50", percentile(every, 50))
    t.record("all_p99", percentile(every, 99))
    t.record("one_p50", percentile(one, 50))
    t.record("one_p99", percentile(one, 99))
    t.info["status_all_ms"] = [round(v, 4) for v in every]
    t.info["status_one_ms"] = [round(v, 4) for v in one]
    argv = peer.cli_status_argv()
    ours = t.peer_name == "lite"
    if not ours:
        for key in floors.CLI:
            t.unsupported(key, floors.NOT_OURS)
    for _ in range(t.params.s2_cli):
        t0 = time.perf_counter()
        done = subprocess.run(
            argv, capture_output=True, timeout=30, check=False, env=peer.cli_env()
        )
        elapsed = (time.perf_counter() - t0) * 1000
        lines = done.stdout.decode(errors="replace").count("\n")
        if lines < n:
            t.error(
                f"cli status printed {lines} lines (exit {done.returncode}): "
                f"{done.stderr.decode(errors='replace')[-200:]}"
            )
            return
        t.record("cli", elapsed)
        if ours:
            for key, (_, args) in floors.CLI.items():
                t.record(key, floors.run_once(args) * 1000)
