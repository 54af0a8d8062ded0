"""S9: descendants that leave the process group, and a double-forked daemon: who survives a stop."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from bench import procs
from bench.core import Metric
from bench.peers.base import Program
from bench.scenarios import until

if TYPE_CHECKING:
    from bench.core import Trial

ID = "S9"
TITLE = "escaped descendants"
FAMILY = "no-orphans"
METRICS = [
    Metric(
        "survivors_on",
        "surviving descendants (of 3), group/children kill on",
        "count",
        "none",
        False,
    ),
    Metric("survivors_off", "surviving descendants (of 3), option off", "count", "none", False),
]
NOTES = [
    "Two programs: `sh` starting one child in its group and one that calls setsid, then "
    "waiting; and `sh` that double-forks a setsid daemon and execs sleep. The three descendants "
    "carry SVBENCH_DESC=1; 2 s after stop-all returned, those alive are counted, then killed by "
    "pid (so they are not counted again as leftovers).",
    "The option is supervisord's stopasgroup+killasgroup, circus' stop_children; ours has no "
    "option (a stop always signals the group).",
    "circus: stop_children signals the watcher's process first and then looks each child up "
    "again under it; when the process dies on that signal its children have already been "
    "re-parented, are not found, and are never signalled.",
    "pm2: the option is treekill (on: the process tree found by parent pid is signalled; off: "
    "the pid only).",
    "s6: no process-group kill (s6-supervise signals the program's pid only), so only 'off' is "
    "measured.",
]

DESC = b"SVBENCH_DESC=1"


def programs(group_kill: bool) -> list[Program]:
    return [
        Program(
            name="escaper",
            argv=(
                "sh",
                "-c",
                "SVBENCH_DESC=1 sleep 3600 & SVBENCH_DESC=1 setsid sleep 3600 & wait",
            ),
            group_kill=group_kill,
            stop_timeout=2.0,
        ),
        Program(
            name="daemonizer",
            argv=("sh", "-c", "(SVBENCH_DESC=1 setsid sleep 3600 &); exec sleep 3600"),
            group_kill=group_kill,
            stop_timeout=2.0,
        ),
    ]


def run(t: Trial) -> None:
    for key, on in (("survivors_on", True), ("survivors_off", False)):
        missing = "group_kill_on" if on else "group_kill_off"
        if missing in t.peer_cls.unsupported:
            t.unsupported(key, t.peer_cls.unsupported[missing])
            continue
        peer = t.daemon(programs(on), sub=key)
        peer.wait_all("RUNNING", 30)
        until(lambda: len(procs.find_marked(t.marker, extra=DESC)) >= 3, 10, "3 descendants")
        peer.stop_all(True)
        deadline = time.monotonic() + 2.0
        while procs.find_marked(t.marker, extra=DESC) and time.monotonic() < deadline:
            time.sleep(0.05)
        survivors = procs.find_marked(t.marker, extra=DESC)
        t.record(key, len(survivors))
        t.info[key] = [procs.cmdline(p) for p in survivors]
        procs.kill_pids(survivors)
        t.stop_daemon(peer)
