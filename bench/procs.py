"""Processes a trial started: marked, found, measured, and killed by pid.

Every daemon gets ``SVBENCH_MARKER=<uuid>`` in its environment; everything it starts inherits
it (circus only with ``copy_env``, which the adapter sets), so after a trial every process whose
``/proc/PID/environ`` holds the marker is one the trial left behind. Only the harness' own
``os.kill(pid, ...)`` on those pids ends them, never a name match.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
import time
from dataclasses import dataclass, field

MARKER_VAR = "SVBENCH_MARKER"


def _environ(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return f.read()
    except OSError:
        return b""


def _stat(pid: int) -> tuple[str, int] | None:
    """(state letter, ppid) from /proc/PID/stat, or None if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    rest = raw[raw.rfind(b")") + 2 :].split()
    return rest[0].decode(), int(rest[1])


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def comm(pid: int) -> str:
    """The process' command name (``/proc/PID/comm``), or "" if it is gone."""
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def alive(pid: int) -> bool:
    """Running or sleeping: a zombie has exited and counts as dead."""
    st = _stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def all_pids() -> list[int]:
    return [int(n) for n in os.listdir("/proc") if n.isdigit()]


def find_marked(marker: str, *, extra: bytes | None = None) -> list[int]:
    """Live pids whose environment holds ``SVBENCH_MARKER=marker`` (and ``extra``, if given)."""
    needle = f"{MARKER_VAR}={marker}\0".encode()
    me = os.getpid()
    found = []
    for pid in all_pids():
        if pid == me:
            continue
        env = _environ(pid) + b"\0"
        if needle in env and (extra is None or extra + b"\0" in env) and alive(pid):
            found.append(pid)
    return sorted(found)


def descendants(root: int) -> list[int]:
    """Live descendants of ``root`` (by ppid), found from /proc."""
    children: dict[int, list[int]] = {}
    for pid in all_pids():
        st = _stat(pid)
        if st is not None:
            children.setdefault(st[1], []).append(pid)
    out: list[int] = []
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return [p for p in out if alive(p)]


@dataclass
class Leftovers:
    pids: list[int] = field(default_factory=list)
    cmdlines: list[str] = field(default_factory=list)


def kill_pids(pids: list[int], *, timeout: float = 3.0) -> None:
    """SIGKILL each pid and wait (bounded) until none is alive."""
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.01)


def sweep(marker: str, also: list[int] = ()) -> Leftovers:  # type: ignore[assignment]
    """Find every process of a trial (marker, plus ``also``), record it, and kill it by pid."""
    pids = sorted(set(find_marked(marker)) | {p for p in also if alive(p)})
    left = Leftovers(pids=pids, cmdlines=[cmdline(p) for p in pids])
    kill_pids(pids)
    return left


class DeathClock:
    """Time (monotonic) at which a process really died, from a thread blocked on its pidfd."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.died_at: float | None = None
        self._fd = os.pidfd_open(pid)
        self._thread = threading.Thread(target=self._wait, daemon=True)
        self._thread.start()

    def _wait(self) -> None:
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        while not poller.poll(60_000):
            pass
        self.died_at = time.monotonic()

    def wait(self, timeout: float) -> float | None:
        self._thread.join(timeout)
        return self.died_at

    def close(self) -> None:
        if self.died_at is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)


# -- what a daemon costs ------------------------------------------------------------------------


def _task_counts(pid: int) -> dict[int, tuple[int, int]]:
    """Per thread: (ns on CPU from schedstat, voluntary context switches)."""
    out: dict[int, tuple[int, int]] = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                cpu_ns = int(f.read().split()[0])
            vol = 0
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches:"):
                        vol = int(line.split()[1])
                        break
        except (OSError, ValueError, IndexError):
            continue
        out[int(tid)] = (cpu_ns, vol)
    return out


def _proc_cpu_ticks(pid: int) -> float:
    """utime+stime of the whole process (dead threads included) in seconds."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        rest = f.read().rsplit(b")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


class IdleMeter:
    """CPU and voluntary switches of a daemon over a window, summed over all its threads (and
    over all its processes, for a daemon that is a tree of them, such as s6).

    Threads are sampled once a second from /proc (which does not wake the daemon), so a thread
    that is born or dies inside the window is still counted from its first to its last sample.
    """

    def __init__(self, pids: int | list[int]) -> None:
        self.pids = [pids] if isinstance(pids, int) else list(pids)
        self.first: dict[int, tuple[int, int]] = {}
        self.last: dict[int, tuple[int, int]] = {}
        self.ticks0 = 0.0
        self.ticks1 = 0.0
        self.t0 = self.t1 = 0.0

    def _sample(self) -> None:
        counts_now: dict[int, tuple[int, int]] = {}
        for pid in self.pids:
            counts_now.update(_task_counts(pid))
        for tid, counts in counts_now.items():
            self.first.setdefault(tid, (0, 0) if self.t0 and tid not in self.first else counts)
            self.last[tid] = counts

    def _ticks(self) -> float:
        total = 0.0
        for pid in self.pids:
            with contextlib.suppress(OSError):
                total += _proc_cpu_ticks(pid)
        return total

    def run(self, seconds: float) -> dict[str, float]:
        self.ticks0 = self._ticks()
        self.t0 = 0.0
        self._sample()
        self.t0 = time.monotonic()
        end = self.t0 + seconds
        while (now := time.monotonic()) < end:
            time.sleep(min(1.0, end - now))
            self._sample()
        self.t1 = time.monotonic()
        self.ticks1 = self._ticks()
        window = self.t1 - self.t0
        cpu_ns = sum(self.last[t][0] - self.first[t][0] for t in self.last)
        vol = sum(self.last[t][1] - self.first[t][1] for t in self.last)
        return {
            "window_s": window,
            "cpu_schedstat_s": cpu_ns / 1e9,
            "cpu_stat_s": self.ticks1 - self.ticks0,
            "voluntary_switches": float(vol),
            "voluntary_per_s": vol / window,
            "threads": float(len(self.last)),
        }


def memory(pids: int | list[int]) -> dict[str, float]:
    """RSS, USS and PSS in MiB, summed over ``pids`` (RSS counts shared pages once per
    process; USS and PSS do not)."""
    import psutil

    mib = 1024 * 1024
    out = {"rss": 0.0, "uss": 0.0, "pss": 0.0}
    for pid in [pids] if isinstance(pids, int) else pids:
        info = psutil.Process(pid).memory_full_info()
        out["rss"] += info.rss / mib
        out["uss"] += info.uss / mib
        out["pss"] += info.pss / mib
    return out
