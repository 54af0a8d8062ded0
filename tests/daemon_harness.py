"""A real supervisord-lite daemon in a subprocess, for client and end-to-end tests.

The daemon runs as ``python -m supervisord_lite -c CONFIG`` in its own session, with a unique
token in its environment that every program it spawns inherits. Teardown asks for an orderly
shutdown (bounded), then SIGKILLs, until none is left: every process in the daemon's cgroup
trees (``cgroup.kill``), every process of its session, and every process whose
``/proc/PID/environ`` carries the token, so a test leaves nothing running whatever happened,
and nothing is ever killed by name.

The token alone is not enough: a process in the middle of an ``execve`` shows an empty
``/proc/PID/environ`` for a moment (the new image has no environment yet), so a program the
killed daemon had just spawned (its trampoline exec'ing the program) can be missed by one
scan. The session and the cgroup do not change across an exec, and an environment that reads
empty while the command line does too (an exec under way) is read again until it is there.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from supervisord_lite.runtime.cgroups import TREE_PREFIX, CgroupTree, cgroup_of, find_cgroup2_mount
from svctl import Client, SvctlError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    import pytest

TOKEN_VAR = "SVL_TEST_TOKEN"
ROOT = Path(__file__).resolve().parent.parent

DAEMON_TABLE = """\
[daemon]
socket = "run/ctl.sock"
state_db = "state/supervisor.db"
log_dir = "logs"
shutdown_timeout = 10
"""

PROGRAMS = """\
[programs.web]
command = ["sleep", "3600"]
start_seconds = 0.2
stop_timeout = 5

[programs.worker]
command = ["sleep", "3600"]
start_seconds = 0.2
stop_timeout = 5

[programs.crasher]
command = ["sh", "-c", "exit 3"]
autorestart = "never"
start_seconds = 0

[programs.flaky]
command = ["sh", "-c", "exit 1"]
autostart = false
start_seconds = 1
start_retries = 1
backoff = { initial = 0.1, floor = 0.1, max = 0.2 }

[programs.stubborn]
command = ["sh", "-c", "trap '' TERM; sleep 3600"]
start_seconds = 0.2
stop_timeout = 2
kill_timeout = 5
"""
"""The default programs: web and worker run; crasher exits 3 at once; flaky (not autostarted)
fails every start and ends FATAL; stubborn ignores SIGTERM, so stopping it takes the SIGKILL
after 2 s."""


#: Every cgroup tree a daemon of this session made, with the test that started the daemon;
#: none may remain when the session ends.
CGROUP_TREES: dict[str, str] = {}


def cgroup_trees(pid: int) -> list[str]:
    """The cgroup trees (``supervisord-lite.<pid>.*``) that the process ``pid`` made in its
    own cgroup; empty without cgroup2."""
    mount = find_cgroup2_mount()
    own = cgroup_of(pid, mount) if mount is not None else None
    if own is None:
        return []
    return sorted(str(p) for p in Path(own).glob(f"{TREE_PREFIX}{pid}.*"))


@dataclass
class Daemon:
    """A daemon started by :func:`start_daemon`."""

    config: Path
    socket: str
    token: str
    process: subprocess.Popen[bytes]
    log_path: Path
    #: The cgroup trees it made (none under ``containment = "subreaper"``).
    trees: list[str]

    def log(self) -> str:
        """What the daemon wrote to stdout and stderr so far (for failure messages)."""
        return self.log_path.read_text(errors="replace")


def write_config(folder: Path, programs: str = PROGRAMS, daemon_extra: str = "") -> Path:
    """A config whose socket, store and logs all live inside ``folder``; ``daemon_extra``
    holds more ``[daemon]`` settings, one per line."""
    path = folder / "supervisor.toml"
    path.write_text(DAEMON_TABLE + daemon_extra + "\n" + programs)
    return path


def start_daemon(
    config: Path,
    *,
    socket: str | None = None,
    ready_within: float = 20.0,
    args: Sequence[str] = (),
) -> Daemon:
    """Start the daemon on ``config`` and return once it answers a ping.

    ``socket`` is the path the config sets (default: ``run/ctl.sock`` next to the config);
    ``args`` go on the daemon's command line after ``-c CONFIG``.
    Raises AssertionError, with the daemon's output, if it exits or stays silent.
    """
    token = uuid.uuid4().hex
    env = {**os.environ, TOKEN_VAR: token}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), str(ROOT / "clients"), env.get("PYTHONPATH", "")) if p
    )
    log_path = config.parent / "daemon.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "supervisord_lite", "-c", str(config), *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=config.parent,
        )
    # A tree named for this pid that exists already is another daemon's, which had the pid
    # before (the daemon makes its own only after importing, long after the fork).
    foreign = set(cgroup_trees(process.pid))
    daemon = Daemon(
        config=config,
        socket=socket or str(config.parent / "run" / "ctl.sock"),
        token=token,
        process=process,
        log_path=log_path,
        trees=[],
    )
    try:
        _wait_ready(daemon, ready_within)
        # The tree is made before the socket answers.
        daemon.trees = [t for t in cgroup_trees(process.pid) if t not in foreign]
        made_by = os.environ.get("PYTEST_CURRENT_TEST", "?").rsplit(" ", 1)[0]
        CGROUP_TREES.update(dict.fromkeys(daemon.trees, made_by))
    except BaseException:
        stop_daemon(daemon, grace=0)
        raise
    return daemon


def _wait_ready(daemon: Daemon, within: float) -> None:
    deadline = time.monotonic() + within
    last: SvctlError | None = None
    while time.monotonic() < deadline:
        if daemon.process.poll() is not None:
            raise AssertionError(
                f"the daemon exited with {daemon.process.returncode}:\n{daemon.log()}"
            )
        try:
            with Client(daemon.socket, timeout=2.0) as client:
                client.ping()
        except SvctlError as exc:
            last = exc
            time.sleep(0.05)
        else:
            return
    raise AssertionError(f"the daemon did not answer within {within}s ({last}):\n{daemon.log()}")


def stop_daemon(daemon: Daemon, *, grace: float = 15.0) -> None:
    """Ask for a shutdown (bounded by ``grace``), then kill whatever is left of the test."""
    try:
        if grace > 0 and daemon.process.poll() is None:
            with contextlib.suppress(SvctlError), Client(daemon.socket, timeout=grace) as client:
                client.shutdown(wait=True)
            with contextlib.suppress(subprocess.TimeoutExpired):
                daemon.process.wait(timeout=grace)
    finally:
        if not _pid_reused(daemon):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(daemon.process.pid, signal.SIGKILL)
        for tree in daemon.trees:
            _kill_tree(tree)
        kill_all(lambda: sorted({*session_members(daemon), *pids_with_token(daemon.token)}))
        daemon.process.wait(timeout=10)
        if daemon.process.returncode < 0:
            # Killed, so it could not remove its cgroups: remove them for it. A daemon that
            # exited on its own must have removed them (the session checks it).
            for tree in daemon.trees:
                _remove_tree(tree)


def _kill_tree(path: str) -> None:
    """SIGKILL every process in a daemon's cgroup tree (``cgroup.kill`` takes the whole
    subtree at once, and a fork cannot race it)."""
    with contextlib.suppress(FileNotFoundError):
        Path(path, "cgroup.kill").write_text("1")


def _pid_reused(daemon: Daemon) -> bool:
    """Whether the reaped daemon's pid is another process' now. While a process of its group
    or session lives, the kernel does not hand the number out again; so a live process with
    that pid means the group and session are gone, and the number is someone else's (another
    test's daemon, say)."""
    return daemon.process.returncode is not None and os.path.exists(f"/proc/{daemon.process.pid}")


def session_members(daemon: Daemon) -> list[int]:
    """Every live process in the daemon's session: the daemon and what it spawned, unless
    a program made a session of its own (the token finds those)."""
    sid = daemon.process.pid
    if _pid_reused(daemon):
        return []
    members = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        fields = _stat(proc.name)
        if fields is not None and fields[0] not in ("Z", "X") and fields[1] == sid:
            members.append(int(proc.name))
    return members


def _stat(pid: str) -> tuple[str, int, int] | None:
    """(state, session, flags) of a process from /proc/PID/stat; None once it is gone."""
    try:
        raw = Path("/proc", pid, "stat").read_bytes()
    except OSError:
        return None
    # The command name is in parentheses and may itself contain ") ": split at the last one.
    rest = raw[raw.rfind(b")") + 2 :].split()
    return rest[0].decode(), int(rest[3]), int(rest[6])


def _remove_tree(path: str, within: float = 10.0) -> None:
    """Remove a killed daemon's cgroup tree once the processes killed in it have left."""
    tree = CgroupTree(path)
    deadline = time.monotonic() + within
    while any(group.populated() for _, _, group in tree.runs()):
        if time.monotonic() > deadline:
            raise AssertionError(f"processes survive SIGKILL in {path}")
        time.sleep(0.01)
    assert tree.close(), f"{path} could not be removed"


SVCTL = Path(sys.executable).with_name("svctl")


def svctl_command(daemon: Daemon | None, *args: str) -> tuple[list[str], dict[str, str]]:
    """The argv and environment that run svctl like a user (``-c CONFIG`` finds the socket)."""
    command = [str(SVCTL)] if SVCTL.exists() else [sys.executable, "-m", "svctl.cli"]
    where = ["-c", str(daemon.config)] if daemon is not None else []
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'clients'}"}
    env.pop("SVCTL_SOCKET", None)
    return [*command, *where, *args], env


def svctl(
    daemon: Daemon | None, *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run svctl like a user, bounded."""
    argv, env = svctl_command(daemon, *args)
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)


def svctl_in_process(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``svctl ARGV`` in this process (its ``main``): the exit status, stdout, stderr."""
    from svctl.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


#: Linux's PF_KTHREAD, in the flags of /proc/PID/stat: a kernel thread has no environment.
_KERNEL_THREAD = 0x00200000


def _environ(pid: str, *, within: float = 1.0) -> bytes:
    """A process' environment. One that reads empty while the command line does too is in
    the middle of an exec (neither is set up yet): it is read again until the exec is over
    (``within``). A program whose environment is empty for good has a command line."""
    deadline = time.monotonic() + within
    while True:
        environ = _read_proc(pid, "environ")
        if environ or time.monotonic() > deadline:
            return environ
        fields = _stat(pid)
        if fields is None or fields[0] in ("Z", "X") or fields[2] & _KERNEL_THREAD:
            return environ  # gone, exited, or a kernel thread: empty for good
        if _read_proc(pid, "cmdline"):
            return _read_proc(pid, "environ")  # the exec may have ended since the first look
        time.sleep(0.001)


def _read_proc(pid: str, name: str) -> bytes:
    """/proc/PID/<name>, or nothing if the process is gone (or not ours to read)."""
    try:
        return Path("/proc", pid, name).read_bytes()
    except OSError:
        return b""


def pids_with_env(entry: str) -> list[int]:
    """Every live process (but this one) with an environment entry starting with ``entry``."""
    needle = entry.encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        if any(item.startswith(needle) for item in _environ(proc.name).split(b"\0")):
            found.append(int(proc.name))
    return found


def kill_all(find: Callable[[], list[int]], *, within: float = 10.0) -> None:
    """SIGKILL every process ``find`` names until it names none (a dying one may fork)."""
    deadline = time.monotonic() + within
    while pids := find():
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if time.monotonic() > deadline:
            raise AssertionError(f"processes of the test survive SIGKILL: {pids}")
        time.sleep(0.01)


def pids_with_token(token: str) -> list[int]:
    """Every live process whose environment holds ``SVL_TEST_TOKEN=token``."""
    return pids_with_env(f"{TOKEN_VAR}={token}")


def kill_by_token(token: str, *, within: float = 10.0) -> None:
    """SIGKILL every process carrying ``token`` until none is left."""
    kill_all(lambda: pids_with_token(token), within=within)


@contextlib.contextmanager
def running(folder: Path, programs: str = PROGRAMS, daemon_extra: str = "") -> Iterator[Daemon]:
    """A daemon on a fresh config in ``folder`` for the length of the block."""
    daemon = start_daemon(write_config(folder, programs, daemon_extra))
    try:
        yield daemon
    finally:
        stop_daemon(daemon)
