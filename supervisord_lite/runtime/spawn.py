"""Starting one program: argv, cwd, environment, umask, user, and its own process group.

Everything is passed through ``subprocess`` options (``process_group=0``, ``user``, ``group``,
``extra_groups``, ``umask``): no ``preexec_fn``, which is unsafe in a threaded process, and never
``PR_SET_PDEATHSIG``, which trio's spawning thread would trigger (docs/architecture.md,
"Kernel facts"). What the child must do itself before exec (join a cgroup as root and then
switch user, set process attributes) is done by the exec wrapper (execwrap.py).

Running as another user switches uid, gid *and* supplementary groups, and sets HOME, USER and
LOGNAME; if any of it cannot be done the program does not start, so it never runs as root by
accident.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio

from supervisord_lite.errors import SpawnError
from supervisord_lite.runtime.attributes import has_attributes, wrapper_attributes
from supervisord_lite.runtime.cgroups import trampoline
from supervisord_lite.runtime.containment import RUN_MARKER
from supervisord_lite.runtime.execwrap import status_pipe, wait_exec, wrap

if TYPE_CHECKING:
    from collections.abc import Mapping

    from supervisord_lite.config import ProgramConfig
    from supervisord_lite.runtime.cgroups import Cgroup

#: Put in every program's environment, so its descendants can be told apart from anyone else's
#: even after they leave its process group.
PROGRAM_MARKER = "SUPERVISORD_LITE_PROGRAM"


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a program runs as."""

    uid: int
    gid: int
    groups: tuple[int, ...]
    name: str
    home: str


def resolve_identity(user: str | None, group: str | None) -> Identity | None:
    """Look up the user (and group) a program runs as; None means "as the daemon".

    Raises:
        SpawnError: the user or group does not exist, or the daemon may not switch to it.
    """
    if user is None and group is None:
        return None
    try:
        entry = pwd.getpwuid(int(user)) if user and user.isdigit() else None
        if entry is None:
            entry = pwd.getpwnam(user) if user else pwd.getpwuid(os.getuid())
    except KeyError as exc:
        raise SpawnError(f"no such user {user!r}") from exc
    gid = entry.pw_gid
    if group is not None:
        try:
            gid = int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
        except KeyError as exc:
            raise SpawnError(f"no such group {group!r}") from exc
    if os.geteuid() != 0 and (entry.pw_uid != os.geteuid() or gid != os.getegid()):
        raise SpawnError(f"cannot run as {entry.pw_name!r}: the daemon is not root")
    groups = tuple(sorted(set(os.getgrouplist(entry.pw_name, gid))))
    return Identity(entry.pw_uid, gid, groups, entry.pw_name, entry.pw_dir)


def build_env(
    program: ProgramConfig, identity: Identity | None, inherited: Mapping[str, str]
) -> dict[str, str]:
    """The daemon's environment, then the identity's variables, then the program's own."""
    env = dict(inherited)
    env.pop("NOTIFY_SOCKET", None)
    if identity is not None:
        env.update(HOME=identity.home, USER=identity.name, LOGNAME=identity.name)
    env.update(program.env)
    env[PROGRAM_MARKER] = program.name
    return env


#: Run in the new process before the program: moves the handed-over sockets to fds 3, 4, ...
#: (systemd's convention), sets LISTEN_FDS, LISTEN_PID (this process: exec keeps the pid) and
#: LISTEN_FDNAMES, then execs the program. Python, not sh: dash cannot redirect from a
#: descriptor above 9. argv: count, fds..., names, path, program argv...
_HAND_OVER = """\
import fcntl, os, sys
n = int(sys.argv[1])
fds = [int(f) for f in sys.argv[2 : 2 + n]]
high = [fcntl.fcntl(f, fcntl.F_DUPFD, 3 + n) for f in fds]
for f in fds:
    os.close(f)
for i, f in enumerate(high):
    os.dup2(f, 3 + i)
    os.close(f)
os.environ.update(LISTEN_FDS=str(n), LISTEN_PID=str(os.getpid()), LISTEN_FDNAMES=sys.argv[2 + n])
os.execv(sys.argv[3 + n], sys.argv[4 + n :])
"""


def hand_over(sockets: tuple[tuple[int, str], ...], path: str, argv: list[str]) -> list[str]:
    """argv that hands ``sockets`` (our fd, its name) over as fds 3.. and then execs ``path``
    with ``argv``."""
    fds = [str(fd) for fd, _ in sockets]
    names = ":".join(name for _, name in sockets)
    script = [sys.executable, "-I", "-S", "-c", _HAND_OVER, str(len(sockets)), *fds, names]
    return [*script, path, *argv]


def _resolve(command: str, env: Mapping[str, str], cwd: str) -> str:
    """The executable ``command`` names, found as exec would (PATH from the program's env).

    Raises:
        SpawnError: there is no such executable, so a trampoline would only fail later.
    """
    if "/" in command:
        path = command if os.path.isabs(command) else os.path.join(cwd, command)
        if os.access(path, os.X_OK) and not os.path.isdir(path):
            return path
        raise SpawnError(f"cannot start {command!r}: not an executable file")
    found = shutil.which(command, path=env.get("PATH", os.defpath))
    if found is None:
        raise SpawnError(f"cannot start {command!r}: not found in PATH")
    return found


async def spawn(
    program: ProgramConfig,
    *,
    cwd: str,
    stdout: int,
    stderr: int,
    marker: str,
    cgroup: Cgroup | None = None,
    env: Mapping[str, str] | None = None,
    extra_env: Mapping[str, str] | None = None,
    give_fd: tuple[int, int] | None = None,
    sockets: tuple[tuple[int, str], ...] = (),
) -> trio.Process:
    """Start ``program`` as the leader of a new process group; stdin is /dev/null.

    ``stdout``/``stderr`` are file descriptors (or ``subprocess.DEVNULL``/``STDOUT``);
    ``marker`` goes into the environment as the run's marker; with ``cgroup`` the process moves
    itself into that cgroup before the program is exec'ed. ``extra_env`` is what the daemon
    gives the run besides (its notify socket); ``give_fd`` = (N, ours) hands our descriptor
    to the program as its descriptor N (a ``sh`` redirection, so N is 3 to 9). ``sockets``
    (our descriptor, its name) are handed over as descriptors 3, 4, ... with ``LISTEN_FDS``,
    ``LISTEN_PID`` and ``LISTEN_FDNAMES`` (``hand_over``).

    Raises:
        SpawnError: the program could not be started, for any reason the kernel gives (no
            such file, out of descriptors, memory or processes); the message names it.
    """
    identity = resolve_identity(program.user, program.group)
    child_env = build_env(program, identity, os.environ if env is None else env)
    child_env.update(extra_env or {})
    child_env[RUN_MARKER] = marker
    cwd = program.cwd or cwd
    argv = list(program.command)
    stdin: int = subprocess.DEVNULL
    if give_fd is not None:
        # The descriptor comes in as stdin (a number every sh can redirect from: dash takes
        # one digit only), is moved to N, and stdin goes back to /dev/null.
        target, stdin = give_fd
        argv = ["/bin/sh", "-c", f'exec {target}>&0 0</dev/null; exec "$0" "$@"', *argv]
    if sockets:
        argv = hand_over(sockets, _resolve(argv[0], child_env, cwd), argv)
    # Only root switches identities; a daemon running as the program's own user just runs it.
    switch = identity if identity is not None and os.geteuid() == 0 else None
    status: tuple[int, int] | None = None
    if has_attributes(program) or (cgroup is not None and switch is not None):
        # The exec wrapper joins the cgroup, sets the attributes, then switches identity.
        status = status_pipe()
        argv = wrap(
            [_resolve(argv[0], child_env, cwd), *argv[1:]],
            status=status[1],
            attributes=wrapper_attributes(program),
            cgroup_procs=cgroup.procs_file if cgroup is not None else None,
            drop_to=(switch.uid, switch.gid, switch.groups) if switch is not None else None,
        )
        switch = None
    elif cgroup is not None:
        argv = trampoline(cgroup, [_resolve(argv[0], child_env, cwd), *argv[1:]])
    try:
        process = await _open(
            program,
            argv,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            cwd=cwd,
            env=child_env,
            pass_fds=(*(fd for fd, _ in sockets), *(status[1:] if status is not None else ())),
            switch=switch,
        )
    except BaseException:
        if status is not None:
            os.close(status[0])
        raise
    finally:
        if status is not None:
            os.close(status[1])  # the child's; EOF must not wait for us
    if status is not None:
        refused = await wait_exec(status[0])
        if refused:
            with trio.CancelScope(shield=True):
                await process.wait()  # it exits 127 at once
            raise SpawnError(refused)
    return process


async def _open(
    program: ProgramConfig,
    argv: list[str],
    *,
    stdin: int,
    stdout: int,
    stderr: int,
    cwd: str,
    env: Mapping[str, str],
    pass_fds: tuple[int, ...],
    switch: Identity | None,
) -> trio.Process:
    """``open_process`` with the kernel's refusals as SpawnError."""
    try:
        return await trio.lowlevel.open_process(
            argv,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            cwd=cwd,
            env=env,
            process_group=0,
            close_fds=True,
            pass_fds=pass_fds,
            user=switch.uid if switch else None,
            group=switch.gid if switch else None,
            extra_groups=list(switch.groups) if switch else None,
            umask=-1 if program.umask is None else program.umask,
        )
    except OSError as exc:
        what = exc.filename or program.command[0]
        raise SpawnError(f"cannot start {what!r}: {exc.strerror or exc}") from exc
    except (subprocess.SubprocessError, ValueError) as exc:
        raise SpawnError(f"cannot start {program.command[0]!r}: {exc}") from exc
    except RuntimeError as exc:
        # trio forks from a worker thread, and starting one fails like a fork under a pids
        # limit (which counts threads), but as "can't start new thread".
        raise SpawnError(f"cannot start {program.command[0]!r}: {exc}") from exc
