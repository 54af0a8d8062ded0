"""S8, logs: one program writes S MB of 100-byte lines in 1 MB writes; how fast does it reach
its log file, at what CPU cost to the relay, and is anything lost?

Relays compared, each round in the same fresh temp dir under /tmp:

- ``file``: the writer's stdout is the file itself (no relay: the ceiling);
- ``cat``: writer | cat > file (the reference a relay is measured against);
- ``lite``: supervisord-lite (``python -m supervisord_lite``), rotation off, default queue;
- ``supervisord``: when ``bench/.venv-peers/bin/supervisord`` exists, same settings.

The writer (tests/programs/flood.py) builds the whole stream first, then waits for SIGUSR1, so
the clock measures the relay and not Python building lines: it runs from the signal to the moment
the log file holds every byte (its size polled every millisecond). Relay CPU is the relay's
user+system time over that span (the daemon's whole process, all threads; cat's own). Bytes lost
is what the file lacks once the writer has exited and the relay had 2 s more.

``--latency`` also measures how soon a live follower (``svctl.Client.logs(follow=True)``) sees a
line: a program writes its CLOCK_MONOTONIC time every 5 ms; the follower subtracts it from its
own clock on arrival.

    .venv/bin/python bench/s8_logs.py [--mb 200] [--rounds 3] [--json OUT] [--no-latency]
        [--progress]

``--progress`` adds supervisord-lite with the progress fallback reading the writer's stdout
(``lite+progress-json``, ``lite+progress-regex``, ``lite+progress-regex-scan``) and their
throughput against plain ``lite``.

``run_s8(...)`` is the measuring core, importable by the bench harness; it returns a dict of
samples per relay and the medians.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FLOOD = ROOT / "tests" / "programs" / "flood.py"
SUPERVISORD = ROOT / "bench" / ".venv-peers" / "bin" / "supervisord"
SUPERVISORCTL = SUPERVISORD.with_name("supervisorctl")
PYTHON = sys.executable
sys.path[:0] = [str(ROOT), str(ROOT / "clients")]

MB = 1_000_000


def _cpu(pid: int) -> float:
    """Seconds a process' threads have run, from each thread's schedstat (nanoseconds; the
    tick-based utime/stime of /proc/PID/stat is too coarse for a run of 0.1 s)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


def _exited(pid: int) -> Any:
    """A cheap check that ``pid`` (not necessarily our child) has exited, on its pidfd."""
    fd = os.pidfd_open(pid)
    poller = select.poll()
    poller.register(fd, select.POLLIN)

    def check() -> bool:
        return bool(poller.poll(0))

    return check


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _wait_for(check: Any, what: str, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.001)


def _flood_argv(total: int, ready: Path) -> list[str]:
    return [PYTHON, str(FLOOD), str(total), "--write", str(MB), "--ready", str(ready)]


def _wait_file(path: Path, total: int, exited: Any, within: float = 300.0) -> tuple[float, int]:
    """(when the file held ``total`` bytes, or last grew; its size then)."""
    deadline = time.monotonic() + within
    last, changed = -1, time.monotonic()
    while time.monotonic() < deadline:
        size = _size(path)
        now = time.monotonic()
        if size >= total:
            return now, size
        if size != last:
            last, changed = size, now
        elif exited() and now - changed > 2.0:
            return changed, size
        time.sleep(0.001)
    return time.monotonic(), _size(path)


def _sample(total: int, elapsed: float, size: int, cpu: float | None) -> dict[str, float]:
    return {
        "mbps": size / elapsed / MB,
        "seconds": elapsed,
        "cpu": cpu if cpu is not None else float("nan"),
        "lost": float(total - size),
    }


# -- the references -----------------------------------------------------------------------------


def measure_file(folder: Path, total: int) -> dict[str, float]:
    log, ready = folder / "file.log", folder / "file.ready"
    with log.open("wb") as out:
        writer = subprocess.Popen(_flood_argv(total, ready), stdout=out)
    try:
        _wait_for(ready.exists, "the writer to be ready")
        t0 = time.monotonic()
        writer.send_signal(signal.SIGUSR1)
        # (not Popen.wait: with a timeout it polls, sleeping up to 50 ms at a time)
        done, size = _wait_file(log, total, lambda: writer.poll() is not None)
    finally:
        writer.kill()
        writer.wait()
    log.unlink()
    return _sample(total, done - t0, size, None)


def measure_cat(folder: Path, total: int) -> dict[str, float]:
    log, ready = folder / "cat.log", folder / "cat.ready"
    with log.open("wb") as out:
        writer = subprocess.Popen(_flood_argv(total, ready), stdout=subprocess.PIPE)
        cat = subprocess.Popen(["cat"], stdin=writer.stdout, stdout=out)
    assert writer.stdout is not None
    writer.stdout.close()
    try:
        _wait_for(ready.exists, "the writer to be ready")
        t0 = time.monotonic()
        writer.send_signal(signal.SIGUSR1)
        done, size = _wait_file(log, total, lambda: writer.poll() is not None)
        _, status, usage = os.wait4(cat.pid, 0)
        cat.returncode = os.waitstatus_to_exitcode(status)
        cpu = usage.ru_utime + usage.ru_stime  # cat idled on its pipe until then
    finally:
        for p in (writer, cat):
            with contextlib.suppress(ProcessLookupError):
                p.kill()
            with contextlib.suppress(ChildProcessError):
                p.wait()
    log.unlink()
    return _sample(total, done - t0, size, cpu)


# -- supervisord-lite ---------------------------------------------------------------------------


@contextlib.contextmanager
def _lite(folder: Path, programs: str) -> Any:
    from svctl import Client, SvctlError

    socket_path = str(folder / "ctl.sock")
    config = folder / "lite.toml"
    config.write_text(
        f'[daemon]\nsocket = "{socket_path}"\nstate_db = "state.db"\nlog_dir = "logs"\n'
        f'containment = "subreaper"\n\n{programs}'
    )
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'clients'}"}
    daemon = subprocess.Popen(
        [PYTHON, "-m", "supervisord_lite", "-c", str(config)],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(folder / "lite.log").open("wb"),
        start_new_session=True,
    )
    try:

        def answers() -> bool:
            try:
                with Client(socket_path, timeout=2) as client:
                    client.ping()
            except SvctlError:
                return daemon.poll() is not None
            return True

        _wait_for(answers, "supervisord-lite to answer", 30)
        if daemon.poll() is not None:
            raise RuntimeError((folder / "lite.log").read_text())
        with Client(socket_path, timeout=60) as client:
            yield daemon, client
            client.shutdown(wait=False)
        daemon.wait(30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(daemon.pid, signal.SIGKILL)
        daemon.wait()


#: The progress fallback reading the flood's stdout: ``json`` (a line starting ``{`` is parsed),
#: ``regex`` (a report's pattern; its ``/`` is not in the flood, so chunks are passed over with a
#: memchr) and ``regex-scan`` (a pattern whose every literal byte is in every line of the flood:
#: the worst case, each chunk scanned by the regex engine).
PROGRESS_FALLBACKS = {
    "json": '{ from = "stdout", format = "json" }',
    "regex": (
        '{ from = "stdout", format = "regex", '
        'pattern = "^step (?P<done>\\\\d+)/(?P<total>\\\\d+)" }'
    ),
    "regex-scan": (
        '{ from = "stdout", format = "regex", '
        'pattern = "^step (?P<done>\\\\d+) of (?P<total>\\\\d+)" }'
    ),
}


def measure_lite(folder: Path, total: int, progress: str | None = None) -> dict[str, float]:
    tag = f"lite-{progress}" if progress else "lite"  # the relays of a round share the folder
    log, ready = folder / f"{tag}-flood.log", folder / f"{tag}.ready"
    program = (
        f"[programs.flood]\ncommand = {json.dumps(_flood_argv(total, ready))}\n"
        f'autostart = false\nautorestart = "never"\nstart_seconds = 0\n'
        f'log = {{ stdout = "{log}", max_bytes = 0 }}\n'
    )
    if progress is not None:
        program += f"progress = {PROGRESS_FALLBACKS[progress]}\n"
    with _lite(folder, program) as (daemon, client):
        client.start("flood")
        _wait_for(ready.exists, "the writer to be ready")
        (status,) = client.status("flood", stats=True)
        assert status.pid is not None
        cpu0 = _cpu(daemon.pid)
        t0 = time.monotonic()
        os.kill(status.pid, signal.SIGUSR1)

        exited = _exited(status.pid)
        done, size = _wait_file(log, total, exited)
        cpu = _cpu(daemon.pid) - cpu0
        client.wait("flood", state="EXITED", timeout=60)
        stats = next(s for s in client.status("flood", stats=True)[0].logs if s.stream == "stdout")
        sample = _sample(total, done - t0, size, cpu)
        sample["daemon_lost"] = float(stats.bytes_dropped)
        sample["held_back"] = float(stats.held_back)
    log.unlink()
    return sample


def measure_latency(folder: Path, lines: int = 300, pause: float = 0.005) -> dict[str, float]:
    """How long after its write a live follower receives a line (p50/p90/p99, ms)."""
    from svctl import LogChunk

    script = (
        "import os, sys, time\n"
        f"time.sleep(0.5)\nfor i in range({lines}):\n"
        "    os.write(1, b'%d\\n' % time.monotonic_ns())\n"
        f"    time.sleep({pause})\n"
    )
    program = (
        f"[programs.ticker]\ncommand = {json.dumps([PYTHON, '-c', script])}\n"
        'autostart = false\nautorestart = "never"\nstart_seconds = 0\n'
    )
    delays: list[float] = []
    with _lite(folder, program) as (_, client):
        from svctl import Client

        with Client(client.socket_path, timeout=60) as follower:
            stream = follower.logs("ticker", lines=0, follow=True)
            client.start("ticker")
            pending = b""
            for item in stream:
                now = time.monotonic_ns()
                if not isinstance(item, LogChunk):
                    continue
                pending += item.data
                *complete, pending = pending.split(b"\n")
                delays.extend((now - int(stamp)) / 1e6 for stamp in complete)
                if len(delays) >= lines:
                    break
            stream.close()
    delays.sort()
    return {
        "p50_ms": statistics.median(delays),
        "p90_ms": delays[int(len(delays) * 0.9)],
        "p99_ms": delays[int(len(delays) * 0.99)],
        "lines": float(len(delays)),
    }


# -- supervisord ----------------------------------------------------------------------------------


def measure_supervisord(folder: Path, total: int) -> dict[str, float]:
    log, ready = folder / "sd-flood.log", folder / "sd.ready"
    sock = folder / "sd.sock"
    conf = folder / "supervisord.conf"
    conf.write_text(
        f"[unix_http_server]\nfile={sock}\n\n"
        f"[supervisord]\nnodaemon=true\nlogfile={folder / 'sd.log'}\npidfile={folder / 'sd.pid'}\n"
        f"childlogdir={folder}\n\n"
        "[rpcinterface:supervisor]\n"
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n"
        f"[supervisorctl]\nserverurl=unix://{sock}\n\n"
        f"[program:flood]\ncommand={' '.join(_flood_argv(total, ready))}\nautostart=false\n"
        f"autorestart=false\nstartsecs=0\nstdout_logfile={log}\nstdout_logfile_maxbytes=0\n"
    )

    def ctl(*args: str) -> str:
        done = subprocess.run(
            [str(SUPERVISORCTL), "-c", str(conf), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return done.stdout.strip()

    daemon = subprocess.Popen(
        [str(SUPERVISORD), "-c", str(conf)],
        cwd=folder,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(sock.exists, "supervisord's socket", 30)
        _wait_for(lambda: "STOPPED" in ctl("status", "flood"), "supervisord to answer", 30)
        ctl("start", "flood")
        _wait_for(ready.exists, "the writer to be ready")
        pid = int(ctl("pid", "flood"))
        cpu0 = _cpu(daemon.pid)
        t0 = time.monotonic()
        os.kill(pid, signal.SIGUSR1)

        done, size = _wait_file(log, total, _exited(pid))
        cpu = _cpu(daemon.pid) - cpu0
        ctl("shutdown")
        daemon.wait(30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(daemon.pid, signal.SIGKILL)
        daemon.wait()
    log.unlink(missing_ok=True)
    return _sample(total, done - t0, size, cpu)


# -- the run --------------------------------------------------------------------------------------


def run_s8(
    *,
    mb: int = 200,
    rounds: int = 3,
    supervisord: bool = True,
    latency: bool = True,
    progress: bool = False,
) -> dict[str, Any]:
    """Measure every relay ``rounds`` times (order rotated per round) and the follower latency.

    Returns ``{"machine", "params", "samples": {relay: [sample...]}, "medians": {relay:
    {key: median}}, "ratios": {...}, "latency": {...}}``; a sample has mbps, seconds, cpu
    (relay CPU s; NaN for ``file``) and lost (bytes).
    """
    total = mb * MB
    relays: dict[str, Any] = {"file": measure_file, "cat": measure_cat, "lite": measure_lite}
    if progress:
        for kind in PROGRESS_FALLBACKS:
            relays[f"lite+progress-{kind}"] = functools.partial(measure_lite, progress=kind)
    if supervisord and SUPERVISORD.exists():
        relays["supervisord"] = measure_supervisord
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in relays}
    ratios: dict[str, list[float]] = {"lite_vs_cat_mbps": [], "lite_vs_cat_cpu": []}
    names = list(relays)
    for round_no in range(rounds):
        order = names[round_no % len(names) :] + names[: round_no % len(names)]
        folder = Path(tempfile.mkdtemp(prefix="s8-", dir="/tmp"))
        try:
            got = {}
            for name in order:
                # The last relay's file is still being written back by the kernel: that
                # must not slow the next one (it did, by up to 40%).
                os.sync()
                time.sleep(1.0)
                got[name] = relays[name](folder, total)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        for name, sample in got.items():
            samples[name].append(sample)
        ratios["lite_vs_cat_mbps"].append(got["lite"]["mbps"] / got["cat"]["mbps"])
        ratios["lite_vs_cat_cpu"].append(got["lite"]["cpu"] / got["cat"]["cpu"])
        for kind in PROGRESS_FALLBACKS if progress else ():
            with_it = got[f"lite+progress-{kind}"]
            ratios.setdefault(f"progress_{kind}_vs_lite_mbps", []).append(
                with_it["mbps"] / got["lite"]["mbps"]
            )
    result: dict[str, Any] = {
        "machine": {
            "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "host": platform.node(),
            "kernel": platform.release(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load": os.getloadavg(),
        },
        "params": {"mb": mb, "rounds": rounds, "write_bytes": MB, "line_bytes": 100},
        "samples": samples,
        "medians": {
            name: {key: statistics.median(s[key] for s in runs) for key in runs[0]}
            for name, runs in samples.items()
        },
        "ratios": {key: statistics.median(values) for key, values in ratios.items()},
    }
    if latency:
        folder = Path(tempfile.mkdtemp(prefix="s8-", dir="/tmp"))
        try:
            result["latency"] = measure_latency(folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return result


def _report(result: dict[str, Any]) -> str:
    lines = [
        f"S8 logs, {result['params']['mb']} MB, {result['params']['rounds']} rounds, "
        f"{result['machine']['when']}, {result['machine']['cpus']} CPUs, "
        f"Linux {result['machine']['kernel']}, Python {result['machine']['python']}",
        f"{'relay':<26} {'MB/s':>8} {'s':>7} {'relay CPU s':>12} {'lost B':>8}   (medians)",
    ]
    for name, med in result["medians"].items():
        lines.append(
            f"{name:<26} {med['mbps']:8.0f} {med['seconds']:7.3f} {med['cpu']:12.3f} "
            f"{med['lost']:8.0f}"
        )
    ratios = result["ratios"]
    lines.append(
        f"lite ÷ cat (per round, median): throughput {ratios['lite_vs_cat_mbps']:.2f}×, "
        f"CPU {ratios['lite_vs_cat_cpu']:.2f}×"
    )
    for key, value in ratios.items():
        if key.startswith("progress_"):
            kind = key.removeprefix("progress_").removesuffix("_vs_lite_mbps")
            lines.append(
                f"lite with the {kind} progress fallback ÷ without: throughput {value:.2f}×"
            )
    if "latency" in result:
        lat = result["latency"]
        lines.append(
            f"follower latency: p50 {lat['p50_ms']:.3f} ms, p90 {lat['p90_ms']:.3f} ms, "
            f"p99 {lat['p99_ms']:.3f} ms over {lat['lines']:.0f} lines"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-supervisord", action="store_true")
    parser.add_argument("--no-latency", action="store_true")
    parser.add_argument(
        "--progress",
        action="store_true",
        help="also with the progress fallbacks (json, regex, regex-scan)",
    )
    parser.add_argument("--json", help="write every sample to this file")
    args = parser.parse_args()
    result = run_s8(
        mb=args.mb,
        rounds=args.rounds,
        supervisord=not args.no_supervisord,
        latency=not args.no_latency,
        progress=args.progress,
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    print(_report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
