"""Process attributes, read back from /proc of the running program (and ``ionice -p``); what
the kernel refuses in the child is a failed spawn naming it; what this daemon may not grant is
a config problem with its path."""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING

import pytest
import trio

from supervisord_lite.config import load
from supervisord_lite.protocol.messages import ProgramState
from supervisord_lite.runtime.attributes import host_problems
from tests.supervisor_harness import supervising

if TYPE_CHECKING:
    from pathlib import Path

RUNNING, FATAL = ProgramState.RUNNING, ProgramState.FATAL
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")

CAP_NET_BIND_SERVICE, CAP_CHOWN, CAP_SYS_RESOURCE = 10, 0, 24


def read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def proc_status(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as f:
        return {k: v.strip() for k, _, v in (line.partition(":") for line in f)}


def proc_limits(pid: int) -> dict[str, tuple[str, str]]:
    """/proc/PID/limits: "Max open files" -> (soft, hard)."""
    with open(f"/proc/{pid}/limits") as f:
        rows = f.read().splitlines()[1:]
    return {row[:26].strip(): tuple(row[26:].split()[:2]) for row in rows}  # type: ignore[misc]


def nice_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[16])  # field 19, nice


def lacks(cap: int) -> bool:
    return not int(proc_status(os.getpid())["CapEff"], 16) & (1 << cap)


@needs_root
async def test_attributes_are_set_before_exec(tmp_path: Path) -> None:
    programs = """
[programs.root]
command = ["sleep", "3600"]
start_seconds = 0
nice = 7
ionice = { class = "best-effort", level = 6 }
oom_score_adj = 300
rlimits = { nofile = { soft = 1024, hard = 2048 }, core = 0 }
capabilities = { bounding = ["CAP_CHOWN", "net_bind_service"] }
no_new_privileges = true
umask = 0o027
log = { stdout = "none", stderr = "none" }

[programs.nobody]
command = ["sleep", "3600"]
start_seconds = 0
user = "nobody"
nice = -3
capabilities = { ambient = ["CAP_NET_BIND_SERVICE"] }
log = { stdout = "none", stderr = "none" }
"""
    async with supervising(tmp_path, programs) as supervisor:
        root = supervisor.runners["root"].snapshot.pid
        nobody = supervisor.runners["nobody"].snapshot.pid
        assert root is not None
        assert nobody is not None
        assert nice_of(root) == 7
        if shutil.which("ionice"):
            said = await trio.run_process(["ionice", "-p", str(root)], capture_stdout=True)
            assert said.stdout.decode().strip() == "best-effort: prio 6"
        assert read(f"/proc/{root}/oom_score_adj") == "300"
        limits = proc_limits(root)
        assert limits["Max open files"] == ("1024", "2048")
        assert limits["Max core file size"] == ("0", "0")
        status = proc_status(root)
        wanted = (1 << CAP_CHOWN) | (1 << CAP_NET_BIND_SERVICE)
        assert int(status["CapBnd"], 16) == wanted
        assert int(status["CapEff"], 16) == wanted  # root holds its bounding set, no more
        assert status["NoNewPrivs"] == "1"
        assert status["Umask"] == "0027"
        # As nobody, with one capability kept across the switch, and a nice below the daemon's.
        status = proc_status(nobody)
        assert status["Uid"].split()[0] == "65534"
        for kind in ("CapAmb", "CapEff", "CapPrm", "CapInh"):
            assert int(status[kind], 16) == 1 << CAP_NET_BIND_SERVICE, kind
        assert status["NoNewPrivs"] == "0"
        assert nice_of(nobody) == -3


async def test_what_the_kernel_refuses_in_the_child_is_a_failed_spawn(tmp_path: Path) -> None:
    above = int(read("/proc/sys/fs/nr_open")) + 1
    programs = f"""
[programs.web]
command = ["sleep", "3600"]
autostart = false
start_retries = 0
rlimits = {{ nofile = {above} }}
log = {{ stdout = "none", stderr = "none" }}
"""
    async with supervising(tmp_path, programs) as supervisor:
        (result,) = await supervisor.start(["web"])
        assert result.state is FATAL
        entries = await supervisor.store.query(lambda store: store.history("web", 10))
        assert [e.reason for e in entries if e.kind == "spawn_failed"] == [
            f"cannot set rlimits.nofile to {above} (soft) and {above} (hard):"
            " not allowed to raise maximum limit"
        ]


def test_what_this_daemon_may_not_grant_is_a_config_problem() -> None:
    with open("/proc/sys/fs/nr_open") as f:
        nr_open = int(f.read())
    with open("/proc/self/oom_score_adj") as f:
        own_oom = int(f.read())
    config = load(
        f"""
[programs.web]
command = ["sleep", "3600"]
oom_score_adj = {max(-1000, own_oom - 1)}
rlimits = {{ nofile = {nr_open + 1} }}
"""
    )
    found = {p.path: p.message for p in host_problems(config)}
    assert found.pop("$.programs.web.rlimits.nofile") == (
        f"above this kernel's fs.nr_open ({nr_open})"
    )
    if lacks(CAP_SYS_RESOURCE):
        assert found.pop("$.programs.web.oom_score_adj") == (
            f"lower than the daemon's own ({own_oom}) needs CAP_SYS_RESOURCE, which it lacks"
        )
        assert "$.programs.web.rlimits.nofile" not in found
    assert found == {}
