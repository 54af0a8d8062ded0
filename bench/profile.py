"""Profiles of our daemon, for the targets a run missed: ``python bench/profile.py CASE...``.

Each case drives supervisord-lite (only) the way its scenario does, in a fresh marked temp dir,
while py-spy (from the peers' venv) samples the daemon, and summarises the samples as the
functions where the daemon spent its time: "self" (the innermost frame) and "total" (anywhere
on the stack), each as a share of the samples. ``memory`` uses tracemalloc instead (the
allocations that grow from N to N-large programs) and ``cli`` ``python -X importtime``.
``run.py`` calls ``profile_missed()`` after a full run and puts the summaries in RESULTS.md.
"""

from __future__ import annotations

import collections
import functools
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import env, procs
from bench.peers.base import Program
from bench.peers.lite import Lite
from bench.scenarios import first_pid, sleepers, until
from bench.scenarios.s5 import STUBBORN
from bench.scenarios.s7 import SCRIPT as EXITER

if TYPE_CHECKING:
    from collections.abc import Callable

#: target (scenario, metric) -> the case that shows where its time goes
CASES_FOR = {
    ("S1", "start_blocking"): "start",
    ("S2", "all_p50"): "status",
    ("S2", "one_p50"): "status",
    ("S2", "cli"): "cli",
    ("S3", "cpu_schedstat"): "idle",
    ("S3", "wakeups"): "idle",
    ("S4", "uss_n"): "memory",
    ("S4", "uss_large"): "memory",
    ("S4", "per_child"): "memory",
    ("S5", "overshoot_blocking"): "stop",
    ("S6", "stop_blocking"): "stopall",
    ("S6", "stop_poll"): "stopall",
    ("S6", "shutdown"): "stopall",
    ("S7", "written_to_poll"): "exit",
    ("S7", "kernel_to_poll_tight"): "exit",
    ("S7", "kernel_to_push"): "exit",
    ("S8", "vs_cat"): "flood",
    ("S8", "vs_file"): "flood",
}
TOP = 12


class _Daemon:
    """A marked supervisord-lite in a temp dir, for one profile."""

    def __init__(self, programs: list[Program]) -> None:
        self.marker = uuid.uuid4().hex
        self.dir = Path(tempfile.mkdtemp(prefix="svp-", dir="/tmp"))
        self.peer = Lite(self.dir, self.marker, None)
        self.peer.write_config(programs)
        self.peer.launch()
        self.peer.connect(60)

    def close(self) -> None:
        try:
            self.peer.shutdown(60)
        finally:
            self.peer.close()
            procs.sweep(self.marker)
            subprocess.run(["rm", "-rf", str(self.dir)], check=False)


def _spy(pid: int, out: Path, work: Callable[[], None], rate: int = 1000) -> list[str]:
    """Sample ``pid`` with py-spy while ``work`` runs; the collapsed stacks."""
    spy = subprocess.Popen(
        [
            str(env.peers_bin() / "py-spy"),
            "record",
            "--pid",
            str(pid),
            "--rate",
            str(rate),
            "--format",
            "raw",
            "--nonblocking",
            "--output",
            str(out),
            "--duration",
            "600",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)  # attached
    try:
        work()
    finally:
        spy.send_signal(signal.SIGINT)
        spy.wait(60)
    return out.read_text().splitlines() if out.exists() else []


_FRAME = re.compile(r"^(?P<func>[^ ]+) \((?P<file>[^:)]+)(?::\d+)?\)$")


def _summarise(stacks: list[str]) -> str:
    """Top functions by self and total share of the samples, as a Markdown table."""
    self_count: collections.Counter[str] = collections.Counter()
    total_count: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in stacks:
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = []
        for raw in stack.split(";"):
            m = _FRAME.match(raw.strip())
            frames.append(f"{m['func']} ({m['file']})" if m else raw.strip())
        if not frames:
            continue
        samples += count
        self_count[frames[-1]] += count
        for f in set(frames):
            total_count[f] += count
    if not samples:
        return "(py-spy collected no samples: the daemon was idle or py-spy could not attach)\n"
    rows = [
        f"{samples} samples at 1 kHz. `EpollIOManager.get_events` is trio's loop waiting in "
        "epoll_wait, i.e. idle time py-spy did not filter out.",
        "",
    ]
    rows += ["| self | function | | total | function |", "|---|---|---|---|---|"]
    selfs = self_count.most_common(TOP)
    totals = [(f, c) for f, c in total_count.most_common(TOP * 4) if not _generic(f)][:TOP]
    for i in range(max(len(selfs), len(totals))):
        a = selfs[i] if i < len(selfs) else ("", 0)
        b = totals[i] if i < len(totals) else ("", 0)
        rows.append(
            f"| {100 * a[1] / samples:.1f}% | `{a[0]}` | | {100 * b[1] / samples:.1f}% | `{b[0]}` |"
        )
    return "\n".join(rows) + "\n"


_GENERIC = (
    "<module>",
    "main (supervisord_lite/cli.py)",
    "run (supervisord_lite/runtime/",
    "run (trio/_core/_run.py)",
    "unrolled_run (",
    "Thread.",
    "_run_handler (",
)


def _generic(frame: str) -> bool:
    """Frames nearly every sample has (the entry point, runpy, trio's loop, thread start)."""
    return frame.startswith(_GENERIC) or "<frozen" in frame


# -- cases ----------------------------------------------------------------------------------


def case_status(out: Path) -> str:
    d = _Daemon(sleepers(100))
    try:
        d.peer.wait_all("RUNNING", 60)

        def work() -> None:
            for _ in range(2000):
                d.peer.status_all()
            for i in range(2000):
                d.peer.status_one(f"p{1 + i % 100:03d}")

        return "2000 status-all + 2000 single status calls, N=100.\n\n" + _summarise(
            _spy(d.peer.pid, out / "status.txt", work)
        )
    finally:
        d.close()


def _stop_start_cycles(out: Path, name: str, what: str) -> str:
    """Five cycles of stop-all, a 1.1 s pause and start-all (both blocking) of 100 sleepers."""
    d = _Daemon(sleepers(100))
    try:
        d.peer.wait_all("RUNNING", 60)

        def work() -> None:
            for _ in range(5):
                d.peer.stop_all(True)
                time.sleep(1.1)
                d.peer.start_all(True)

        return f"{what}\n\n" + _summarise(_spy(d.peer.pid, out / f"{name}.txt", work))
    finally:
        d.close()


def case_start(out: Path) -> str:
    return _stop_start_cycles(
        out, "start", "5 × (stop-all, 1.1 s pause, blocking start-all), N=100."
    )


def case_stopall(out: Path) -> str:
    return _stop_start_cycles(
        out, "stopall", "5 × (blocking stop-all, 1.1 s pause, start-all), N=100."
    )


def case_idle(out: Path) -> str:
    d = _Daemon(sleepers(100))
    try:
        d.peer.wait_all("RUNNING", 60)
        d.peer.close_client()
        return "20 s idle, N=100.\n\n" + _summarise(
            _spy(d.peer.pid, out / "idle.txt", lambda: time.sleep(20))
        )
    finally:
        d.close()


def case_stop(out: Path) -> str:
    d = _Daemon([STUBBORN])
    try:
        lines = []

        def work() -> None:
            for _ in range(5):
                d.peer.start(STUBBORN.name, True)
                pid = first_pid(d.peer, STUBBORN.name)
                until(functools.partial(_ignores_term, pid), 10, "SIGTERM ignored")
                clock = procs.DeathClock(pid)
                t0 = time.monotonic()
                d.peer.stop(STUBBORN.name, True)
                seen = time.monotonic()
                died = clock.wait(5) or seen
                kill_ms, seen_ms = (died - t0 - 1) * 1000, (seen - t0 - 1) * 1000
                lines.append(f"SIGKILL +{kill_ms:.2f} ms, seen +{seen_ms:.2f} ms")
                time.sleep(1.1)

        stacks = _spy(d.peer.pid, out / "stop.txt", work)
        return (
            "5 stops of a program ignoring SIGTERM (stop_timeout 1 s); beyond 1 s: "
            + "; ".join(lines)
            + ".\n\n"
            + _summarise(stacks)
        )
    finally:
        d.close()


def _ignores_term(pid: int) -> bool:
    from bench.scenarios.s5 import _ignores_term as check

    return check(pid)


def case_exit(out: Path) -> str:
    stamp_dir = Path(tempfile.mkdtemp(prefix="svp-", dir="/tmp"))
    program = Program(
        name="exiter",
        argv=(sys.executable, "-c", EXITER, str(stamp_dir / "stamp")),
        autostart=False,
    )
    d = _Daemon([program])
    try:
        gaps: list[float] = []

        def work() -> None:
            for _ in range(20):
                d.peer.start(program.name, True)
                clock = procs.DeathClock(first_pid(d.peer, program.name))
                while d.peer.status_one(program.name).state in ("RUNNING", "STARTING"):
                    pass
                seen = time.monotonic()
                died = clock.wait(5) or seen
                gaps.append((seen - died) * 1000)
                time.sleep(0.8)  # past the spawn floor

        stacks = _spy(d.peer.pid, out / "exit.txt", work)
        gaps.sort()
        return (
            f"20 exits polled back to back; kernel exit → status median "
            f"{gaps[len(gaps) // 2]:.2f} ms under py-spy.\n\n" + _summarise(stacks)
        )
    finally:
        d.close()
        subprocess.run(["rm", "-rf", str(stamp_dir)], check=False)


def case_flood(out: Path) -> str:
    from bench import s8_logs as s8

    work_dir = Path(tempfile.mkdtemp(prefix="svp-", dir="/tmp"))
    log, ready = work_dir / "flood.log", work_dir / "flood.ready"
    total = 200_000_000
    program = Program(
        name="flood",
        argv=tuple(s8._flood_argv(total, ready)),
        autostart=False,
        stdout=str(log),
    )
    d = _Daemon([program])
    try:
        took: list[float] = []

        def work() -> None:
            d.peer.start(program.name, True)
            until(ready.exists, 60, "the writer to be ready")
            pid = first_pid(d.peer, program.name)
            t0 = time.monotonic()
            os.kill(pid, signal.SIGUSR1)
            done, _ = s8._wait_file(log, total, s8._exited(pid))
            took.append(done - t0)

        stacks = _spy(d.peer.pid, out / "flood.txt", work)
        return (
            f"200 MB of 100-byte lines in 1 MB writes (S8's method: from SIGUSR1 to the last "
            f"byte in the file): {total / took[0] / 1e6:.0f} MB/s under py-spy.\n\n"
            + _summarise(stacks)
        )
    finally:
        d.close()
        subprocess.run(["rm", "-rf", str(work_dir)], check=False)


MEMORY_WRAPPER = """
import sys, threading, time, tracemalloc
tracemalloc.start(8)
from supervisord_lite.config import load_path
from supervisord_lite import runtime

def dump():
    time.sleep(float(sys.argv[2]))
    snap = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__)])
    snap.dump(sys.argv[3])
    print("dumped", flush=True)

threading.Thread(target=dump, daemon=True).start()
sys.exit(runtime.run(load_path(sys.argv[1])))
"""


def case_memory(out: Path) -> str:
    import tracemalloc

    snaps = {}
    uss = {}
    for n in (100, 1000):
        d = _Daemon(sleepers(n))
        try:
            d.peer.wait_all("RUNNING", 240, 0.1)
            uss[n] = procs.memory(d.peer.pid)["uss"]
        finally:
            d.close()
        # the same config again, under tracemalloc
        marker = uuid.uuid4().hex
        work = Path(tempfile.mkdtemp(prefix="svp-", dir="/tmp"))
        peer = Lite(work, marker, None)
        peer.write_config(sleepers(n))
        dump = out / f"memory-{n}.snap"
        environ = {**os.environ, procs.MARKER_VAR: marker}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                MEMORY_WRAPPER,
                str(peer.config),
                "25" if n > 100 else "8",
                str(dump),
            ],
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=work,
        )
        try:
            assert proc.stdout is not None
            proc.stdout.readline()
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
            procs.sweep(marker)
            subprocess.run(["rm", "-rf", str(work)], check=False)
        snaps[n] = tracemalloc.Snapshot.load(str(dump))
        dump.unlink()
    diff = snaps[1000].compare_to(snaps[100], "traceback")
    total = sum(s.size_diff for s in diff)
    # Attribute each growth to the innermost frame in our code (the line that asked for it).
    ours: collections.Counter[str] = collections.Counter()
    for stat in diff:
        where = "(outside supervisord_lite)"
        for frame in reversed(stat.traceback):  # innermost last in tracemalloc's order
            if "supervisord_lite" in frame.filename or "/svctl/" in frame.filename:
                where = f"{Path(frame.filename).name}:{frame.lineno}"
                break
        ours[where] += stat.size_diff
    rows = [
        f"USS {uss[100]:.1f} MiB with 100 programs, {uss[1000]:.1f} MiB with 1000: "
        f"{(uss[1000] - uss[100]) * 1024 / 900:.1f} KiB per extra program. tracemalloc sees "
        f"{total / 900 / 1024:.1f} KiB of Python objects per extra program, attributed here to "
        "the innermost line of our code on each allocation's stack:",
        "",
        "| per extra program | our line | code |",
        "|---|---|---|",
    ]
    for where, size in ours.most_common(TOP):
        rows.append(f"| {size / 900:.0f} B | `{where}` | `{_source(where)}` |")
    return "\n".join(rows) + "\n"


def _source(where: str) -> str:
    """The source line at ``file.py:N`` in our packages, shortened."""
    name, _, line = where.partition(":")
    if not line.isdigit():
        return ""
    for base in (env.REPO / "supervisord_lite", env.REPO / "clients" / "svctl"):
        for path in base.rglob(name):
            lines = path.read_text().splitlines()
            if int(line) <= len(lines):
                text = lines[int(line) - 1].strip().replace("|", "\\|").replace("`", "'")
                return text[:70]
    return ""


def case_cli(out: Path) -> str:
    svctl = Path(sys.executable).parent / "svctl"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import svctl.cli"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    entries = []
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            entries.append((int(parts[1]), int(parts[0].split(":")[1]), parts[2].rstrip()))
    entries.sort(reverse=True)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=False)
    bare = (time.perf_counter() - t0) * 1000
    rows = [
        f"`python -X importtime -c 'import svctl.cli'` ({svctl.name} entry point); a bare "
        f"`python -c pass` takes {bare:.0f} ms here. Largest imports (cumulative):",
        "",
        "| cumulative | self | module |",
        "|---|---|---|",
    ]
    rows += [
        f"| {c / 1000:.1f} ms | {s / 1000:.1f} ms | `{m.strip()}` |" for c, s, m in entries[:TOP]
    ]
    return "\n".join(rows) + "\n"


CASES: dict[str, Callable[[Path], str]] = {
    "status": case_status,
    "start": case_start,
    "stopall": case_stopall,
    "idle": case_idle,
    "stop": case_stop,
    "exit": case_exit,
    "flood": case_flood,
    "memory": case_memory,
    "cli": case_cli,
}


def run_cases(names: list[str], out: Path, log: Callable[[str], None] = print) -> dict[str, str]:
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    for name in names:
        log(f"bench: profiling {name}")
        try:
            results[name] = CASES[name](out)
        except Exception as exc:  # noqa: BLE001 - a failed profile is reported, not fatal
            results[name] = f"(profile failed: {type(exc).__name__}: {exc})\n"
    return results


def profile_missed(
    targets: list[dict[str, object]], out: Path, log: Callable[[str], None]
) -> dict[str, str]:
    """Profile the cases behind every missed target; ``{case: Markdown}``."""
    if not (env.peers_bin() / "py-spy").exists():
        log("bench: no profiles: py-spy is not installed in the peers' environment")
        return {}
    wanted: list[str] = []
    for row in targets:
        case = CASES_FOR.get((str(row["scenario"]), str(row["metric"])))
        if row["met"] is False and case and case not in wanted:
            wanted.append(case)
    return run_cases(wanted, out, log)


def main() -> None:
    names = sys.argv[1:] or list(CASES)
    out = env.BENCH / "out" / "profiles"
    for name, text in run_cases(names, out).items():
        print(f"## {name}\n\n{text}")


if __name__ == "__main__":
    main()
