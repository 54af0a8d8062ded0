"""Watch bench: what a watched tree of 10,000 files costs a real daemon while nothing changes.

A daemon runs one program with ``watch = ["tree/**/*.py"]`` over ``--files`` files spread in
``--folders`` folders (so every folder is an inotify watch), and a twin daemon runs the same
program with no ``watch``. For ``--seconds`` of quiet, each daemon's CPU time (user + system,
every thread, from /proc/PID/stat) and its wake-ups (voluntary and involuntary context switches
of every thread, /proc/PID/task/*/status) are read before and after. The watching daemon should
cost what the other one does: inotify wakes it only when a file changes. Then one file is
touched, and the program's restart is awaited, to show the watch is live.

    .venv/bin/python bench/watch_idle.py [--files 10000] [--folders 100] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import svctl

REPO = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")


def config(folder: Path, watch: bool) -> Path:
    lines = [
        "[daemon]",
        'socket = "run/ctl.sock"',
        'state_db = "state/supervisor.db"',
        'log_dir = "logs"',
        'containment = "subreaper"',
        "",
        "[programs.app]",
        'command = ["sleep", "3600"]',
        "start_seconds = 0",
    ]
    if watch:
        lines += ['watch = ["tree/**/*.py"]', "watch_debounce = 0.1"]
    path = folder / "supervisor.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def make_tree(root: Path, files: int, folders: int) -> None:
    for i in range(files):
        folder = root / f"pkg{i % folders:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"mod{i:05d}.py").write_text("x = 1\n")


def cpu_and_wakeups(pid: int) -> tuple[float, dict[str, int]]:
    """CPU seconds of the whole process, and each live thread's context switches so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
    switches: dict[str, int] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            status = (task / "status").read_text()
        except OSError:
            continue  # the thread ended meanwhile
        for line in status.splitlines():
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                switches[task.name] = switches.get(task.name, 0) + int(line.split()[1])
    return cpu, switches


def woken(before: dict[str, int], after: dict[str, int]) -> int:
    """Wake-ups in the window: of the threads alive at its end, what each did since its start
    (from zero for one born in the window; one that ended in it is not seen)."""
    return sum(count - before.get(tid, 0) for tid, count in after.items())


def start(folder: Path) -> tuple[subprocess.Popen[bytes], svctl.Client]:
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'clients'}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "supervisord_lite", "-c", str(folder / "supervisor.toml")],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            client = svctl.Client(str(folder / "run" / "ctl.sock"), timeout=10)
            client.ping()
            break
        except svctl.SvctlError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise
            time.sleep(0.05)
    client.wait("app", state="RUNNING", timeout=20)
    return process, client


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--folders", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="watch-idle-") as tmp:
        for watch in (True, False):
            folder = Path(tmp) / ("watching" if watch else "plain")
            folder.mkdir()
            make_tree(folder / "tree", args.files, args.folders)
            config(folder, watch)
            process, client = start(folder)
            try:
                time.sleep(1.0)  # boot work done
                cpu0, wake0 = cpu_and_wakeups(process.pid)
                time.sleep(args.seconds)
                cpu1, wake1 = cpu_and_wakeups(process.pid)
                row = {
                    "cpu_seconds": round(cpu1 - cpu0, 3),
                    "wakeups_per_second": round(woken(wake0, wake1) / args.seconds, 2),
                }
                if watch:
                    (pid_before,) = [p.pid for p in client.status("app")]
                    started = time.monotonic()
                    (folder / "tree" / "pkg000" / "mod00000.py").write_text("x = 2\n")
                    while [p.pid for p in client.status("app")] == [pid_before]:
                        time.sleep(0.01)
                    row["change_to_restart_seconds"] = round(time.monotonic() - started, 3)
                results["watching" if watch else "not watching"] = row
            finally:
                client.shutdown(wait=True)
                client.close()
                process.wait(timeout=30)
    print(
        json.dumps(
            {"files": args.files, "folders": args.folders, "seconds": args.seconds, **results},
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
