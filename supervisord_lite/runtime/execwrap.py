"""The exec wrapper: a run's last steps before its program is exec'ed, done in the child.

Some things must be done by the new process itself, between fork and exec: join its cgroup,
set its process attributes (rlimits, nice, ionice, oom_score_adj, capabilities,
no_new_privileges) while it is still root, then switch to the program's user. ``preexec_fn``
is unsafe in a threaded daemon (spawn.py), so the child execs this wrapper first: ``python -I
-S`` with a short script that makes the kernel calls directly (setrlimit, setpriority,
ioprio_set, /proc/self/oom_score_adj, prctl and capset through ctypes) and then execs the
program. Doing it ourselves, rather than through a chain of util-linux tools (prlimit, ionice,
choom, setpriv), takes one exec instead of four, needs nothing installed that a minimal image
may lack, and keeps capabilities across the user switch in the one order that works (keep-caps,
setuid, capset, raise ambient).

Each failure is reported on a status pipe: the wrapper writes what it could not do and exits
127, and the pipe is close-on-exec, so EOF with nothing written means the program was exec'ed.
``wait_exec`` reads it, so a refused attribute is a failed spawn that names the problem,
never a program running without it.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any, Final

import trio

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["wait_exec", "wrap"]

_SCRIPT: Final = r"""
import json, os, sys
spec = json.loads(sys.argv[1])
status = spec["status"]
argv = sys.argv[3:]
what = "cannot start"
try:
    if spec.get("cgroup"):
        what = "cannot join its cgroup"
        with open(spec["cgroup"], "w") as f:
            f.write("0")
    if spec.get("rlimits"):
        import resource
        for name, res, soft, hard in spec["rlimits"]:
            what = "cannot set rlimits.%s to %s (soft) and %s (hard)" % (name, soft, hard)
            inf = resource.RLIM_INFINITY
            resource.setrlimit(res, (inf if soft < 0 else soft, inf if hard < 0 else hard))
    if spec.get("nice") is not None:
        what = "cannot set nice to %d" % spec["nice"]
        os.setpriority(os.PRIO_PROCESS, 0, spec["nice"])
    if spec.get("oom") is not None:
        what = "cannot set oom_score_adj to %d" % spec["oom"]
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(spec["oom"]))
    caps = spec.get("caps") or {}
    if spec.get("ioprio") or caps or spec.get("nnp"):
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        def check(result):
            if result != 0:
                errno = ctypes.get_errno()
                raise OSError(errno, os.strerror(errno))
    if spec.get("ioprio"):
        number, value = spec["ioprio"]
        what = "cannot set ionice"
        check(libc.syscall(number, 1, 0, value))
    if caps.get("bounding") is not None:
        for cap in range(caps["last"] + 1):
            if cap not in caps["bounding"]:
                what = "cannot drop capability %d from the bounding set" % cap
                check(libc.prctl(24, cap, 0, 0, 0))
    ambient = caps.get("ambient") or []
    if ambient:
        what = "cannot keep capabilities across the switch of user"
        check(libc.prctl(8, 1, 0, 0, 0))
    if spec.get("drop"):
        uid, gid, groups = spec["drop"]
        what = "cannot switch to uid %d, gid %d" % (uid, gid)
        os.setgroups(groups)
        os.setgid(gid)
        os.setuid(uid)
    if ambient:
        what = "cannot set capabilities"
        mask = sum(1 << c for c in ambient)
        low, high = mask & 0xFFFFFFFF, mask >> 32
        header = (ctypes.c_uint32 * 2)(0x20080522, 0)
        data = (ctypes.c_uint32 * 6)(low, low, low, high, high, high)
        check(libc.capset(header, data))
        for cap in ambient:
            what = "cannot raise ambient capability %d" % cap
            check(libc.prctl(47, 2, cap, 0, 0))
    if spec.get("nnp"):
        what = "cannot set no_new_privileges"
        check(libc.prctl(38, 1, 0, 0, 0))
    what = "cannot execute %r" % argv[0]
    os.set_inheritable(status, False)
    os.execv(argv[0], argv)
except BaseException as exc:  # any failure is reported: the program must not run without it
    said = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    os.write(status, ("%s: %s" % (what, said)).encode())
    os._exit(127)
"""


def wrap(
    argv: list[str],
    *,
    status: int,
    attributes: Mapping[str, Any],
    cgroup_procs: str | None = None,
    drop_to: tuple[int, int, tuple[int, ...]] | None = None,
) -> list[str]:
    """argv that execs the wrapper, which does its steps and then execs ``argv`` (its
    ``argv[0]`` a resolved path). ``status`` is the write end of the status pipe (pass it to
    the child); ``attributes`` are the process attributes (runtime/attributes.py)."""
    spec = dict(attributes, status=status, cgroup=cgroup_procs)
    if drop_to is not None:
        uid, gid, groups = drop_to
        spec["drop"] = [uid, gid, list(groups)]
    return [sys.executable, "-I", "-S", "-c", _SCRIPT, json.dumps(spec), "--", *argv]


async def wait_exec(status: int) -> str:
    """Read the status pipe's read end (and close it) until the wrapper exec'ed the program
    (""), or said what it could not do."""
    said = b""
    async with trio.lowlevel.FdStream(status) as stream:
        while chunk := await stream.receive_some():
            said += chunk
    return said.decode("utf-8", "replace")


def status_pipe() -> tuple[int, int]:
    """A close-on-exec pipe (read end, write end); only the wrapper gets the write end."""
    return os.pipe2(os.O_CLOEXEC)
