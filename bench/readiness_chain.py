"""Readiness bench: ``start --all`` of a 3-level chain of notify programs -> all ready.

Each program loads for ``--load`` seconds, then says ``READY=1`` on its notify socket; level 2
depends on level 1 being ready, level 3 on level 2. No supervisor can bring the chain up sooner
than the sum of the programs' own ready times (the floor: 3 x the median time one program takes
from its spawn to READY=1 when run alone, interpreter start-up included): the figure is how far
above that we are, as a median over ``--reps`` runs (real processes, a real daemon).
process-compose, the peer this compares with best, is not in any registry this machine reaches
(no PyPI, npm or Debian package: its Go binary is downloaded from its releases), so it is not
measured here.

    .venv/bin/python bench/readiness_chain.py [--reps 10] [--load 0.2] [--width 1]

``--idle N [--window S] [--memory-interval S ...]`` measures instead what watching costs while
nothing happens: the daemon's CPU over the window with N idle programs, bare, with a tcp
liveness probe every second each, and with ``restart_when.memory`` sampled every S seconds
each (the path taken without the cgroup v2 memory controller).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import svctl

if TYPE_CHECKING:
    from collections.abc import Iterator

REPO = Path(__file__).resolve().parent.parent
PROGRAM = """
import os, socket, sys, time
time.sleep(float(sys.argv[1]))
with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
    s.sendto(b"READY=1", os.environ["NOTIFY_SOCKET"])
time.sleep(3600)
"""


def config(folder: Path, load: float, width: int) -> Path:
    script = folder / "ready_after.py"
    script.write_text(PROGRAM)
    lines = [
        "[daemon]",
        'socket = "run/ctl.sock"',
        'state_db = "state/s.db"',
        'log_dir = "logs"',
    ]
    for level in (1, 2, 3):
        for i in range(width):
            needs = ", ".join(f'l{level - 1}_{j} = "ready"' for j in range(width))
            lines += [
                f"[programs.l{level}_{i}]",
                f'command = ["{sys.executable}", "{script}", "{load}"]',
                "autostart = false",
                "ready.notify = true",
            ]
            if level > 1:
                lines.append(f"depends_on = {{ {needs} }}")
    path = folder / "chain.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def own_ready_time(load: float) -> float:
    """How long one program takes from its spawn to READY=1 on its own (no supervisor): its
    interpreter's start-up plus its load."""
    import socket

    with tempfile.TemporaryDirectory(prefix="sl-own-") as tmp:
        script = Path(tmp) / "ready_after.py"
        script.write_text(PROGRAM)
        path = str(Path(tmp) / "notify.sock")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(path)
            sock.settimeout(30)
            start = time.monotonic()
            child = subprocess.Popen(
                [sys.executable, str(script), str(load)], env={**os.environ, "NOTIFY_SOCKET": path}
            )
            try:
                sock.recv(64)
                return time.monotonic() - start
            finally:
                child.kill()
                child.wait(timeout=10)


@contextlib.contextmanager
def serving(folder: Path, path: Path) -> Iterator[str]:
    """A daemon on ``path`` for the block, answering on the socket it yields; shut down (or
    killed by its group) after."""
    daemon = subprocess.Popen(
        [sys.executable, "-m", "supervisord_lite", "-c", str(path)],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    socket_path = str(folder / "run" / "ctl.sock")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with svctl.Client(socket_path, timeout=2) as client:
                    client.ping()
                break
            except svctl.SvctlError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        yield socket_path
        with svctl.Client(socket_path, timeout=30) as client:
            client.shutdown(wait=True)
        daemon.wait(timeout=30)
    finally:
        if daemon.poll() is None:
            os.killpg(daemon.pid, 9)
            daemon.wait(timeout=10)


def one_run(load: float, width: int) -> float:
    with tempfile.TemporaryDirectory(prefix="sl-chain-") as tmp:
        folder = Path(tmp)
        with serving(folder, config(folder, load, width)) as socket_path:
            with svctl.Client(socket_path, timeout=30) as client:
                start = time.monotonic()
                results = client.start(all=True)
                took = time.monotonic() - start
            assert all(r.ok for r in results), results
            return took


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_cost(programs: int, window: float, extra: str = "") -> float:
    """The daemon's CPU seconds over ``window`` with ``programs`` idle programs, each with the
    config line ``extra`` (a probe, a memory watch) when given."""
    with tempfile.TemporaryDirectory(prefix="sl-idle-") as tmp:
        folder = Path(tmp)
        lines = ["[daemon]", 'socket = "run/ctl.sock"', 'state_db = "state/s.db"']
        for i in range(programs):
            lines += [f"[programs.p{i}]", 'command = ["sleep", "3600"]', "start_seconds = 0"]
            if extra:
                lines.append(extra)
        path = folder / "idle.toml"
        path.write_text("\n".join(lines) + "\n")
        with serving(folder, path) as socket_path:
            with svctl.Client(socket_path, timeout=30) as client:
                client.wait(*(f"p{i}" for i in range(programs)), state="RUNNING", timeout=30)
            time.sleep(2)  # settle
            pid = _daemon_pid(socket_path)
            before = _cpu_seconds(pid)
            time.sleep(window)
            return _cpu_seconds(pid) - before


def _daemon_pid(socket_path: str) -> int:
    with svctl.Client(socket_path, timeout=5) as client:
        client.ping()
        welcome = client.welcome
    assert welcome is not None
    return welcome.pid


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--load", type=float, default=0.2, help="each program's ready time (s)")
    parser.add_argument("--width", type=int, default=1, help="programs per level")
    parser.add_argument(
        "--idle",
        type=int,
        default=0,
        metavar="N",
        help="instead: the daemon's CPU over --window s with N idle programs, probed (a tcp"
        " liveness probe every second each) and not",
    )
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument(
        "--memory-interval",
        type=float,
        action="append",
        default=[],
        metavar="S",
        help="with --idle: also with restart_when.memory sampled every S s (repeatable)",
    )
    args = parser.parse_args()
    if args.idle:
        import socket
        import threading

        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(128)
            port = listener.getsockname()[1]

            def accept() -> None:
                while True:
                    try:
                        conn, _ = listener.accept()
                    except OSError:
                        return
                    conn.close()

            threading.Thread(target=accept, daemon=True).start()
            plain = idle_cost(args.idle, args.window)
            probe = f'liveness = {{ tcp = "127.0.0.1:{port}", interval = 1.0 }}'
            probed = idle_cost(args.idle, args.window, probe)
            sampled = {
                every: idle_cost(
                    args.idle,
                    args.window,
                    f'restart_when = {{ memory = "1GiB", memory_interval = {every} }}',
                )
                for every in args.memory_interval
            }
        looks = args.idle * args.window
        report: dict[str, object] = {
            "programs": args.idle,
            "window_s": args.window,
            "cpu_s_without_probes": round(plain, 3),
            "cpu_s_with_tcp_probes_every_1s": round(probed, 3),
            "cpu_ms_per_look": round((probed - plain) / looks * 1000, 3),
        }
        for every, cpu in sampled.items():
            samples = args.idle * args.window / every
            report[f"cpu_s_with_memory_sampled_every_{every:g}s"] = round(cpu, 3)
            report[f"cpu_ms_per_memory_sample_every_{every:g}s"] = round(
                (cpu - plain) / samples * 1000, 3
            )
        print(json.dumps(report))
        return 0
    runs = [one_run(args.load, args.width) for _ in range(args.reps)]
    own = statistics.median(own_ready_time(args.load) for _ in range(args.reps))
    floor = 3 * own
    median = statistics.median(runs)
    print(
        json.dumps(
            {
                "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
                "python": platform.python_version(),
                "levels": 3,
                "width": args.width,
                "load_s": args.load,
                "own_ready_s": round(own, 4),
                "floor_s": round(floor, 4),
                "median_s": round(median, 4),
                "min_s": round(min(runs), 4),
                "max_s": round(max(runs), 4),
                "over_floor_ms": round((median - floor) * 1000, 1),
                "runs": [round(r, 4) for r in runs],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
