"""Roles on the control socket through the real svctl and daemon: a ``read`` caller looks and
is refused what acts, with the role named; ``--read-only`` drops even root to ``read``; a
supplementary group counts (docs/config.md, ``[daemon.access]``)."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from typing import TYPE_CHECKING

import pytest

from tests.daemon_harness import ROOT, start_daemon, stop_daemon, svctl, write_config

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.daemon_harness import Daemon

NOBODY = 65534
OPERATORS = 4242  # a group nobody is put in for one command
CLIENTS = ROOT / "clients"
ONE = '[programs.one]\ncommand = ["sleep", "3600"]\nstart_seconds = 0\n'

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="acting as another uid needs root")


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    # nobody cannot reach pytest's private tmp folders: the socket gets a public folder.
    public = tempfile.mkdtemp(prefix="svl-", dir="/tmp")
    os.chmod(public, 0o755)
    sock = os.path.join(public, "run", "ctl.sock")
    access = (
        f"socket_mode = 0o666\n[daemon.access]\nread = {{ uids = [{NOBODY}] }}\n"
        f"control = {{ gids = [{OPERATORS}] }}\n"
    )
    config = write_config(tmp_path, ONE, daemon_extra=access)
    config.write_text(config.read_text().replace('"run/ctl.sock"', f'"{sock}"'))
    running = start_daemon(config, socket=sock)
    try:
        yield running
    finally:
        stop_daemon(running)
        shutil.rmtree(public, ignore_errors=True)


def _nobody_env() -> dict[str, str]:
    """The checkout and this venv's packages on the path: no install needed."""
    site = [p for p in sys.path if p.endswith("site-packages")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(CLIENTS), *site])}
    env.pop("SVCTL_SOCKET", None)
    return env


@functools.cache
def _nobody_python() -> list[str]:
    """A python that nobody may run and that imports svctl (the test's own may sit under a
    private folder, as pyenv's under /root does); skips when there is none."""
    env = _nobody_env()
    for python in (sys.executable, "/usr/bin/python3"):
        try:
            probe = subprocess.run(
                [python, "-c", "import svctl.cli"], env=env, user=NOBODY, group=NOBODY,
                extra_groups=[], capture_output=True, timeout=60, cwd="/",
            )  # fmt: skip
        except OSError:
            continue
        if probe.returncode == 0:
            return [python, "-m", "svctl.cli"]
    pytest.skip("no python that nobody may run imports svctl from this checkout")


def _as_nobody(
    daemon: Daemon, *args: str, groups: list[int] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_nobody_python(), "--socket", str(daemon.socket), *args],
        capture_output=True,
        text=True,
        env=_nobody_env(),
        user=NOBODY,
        group=NOBODY,
        extra_groups=groups or [],
        timeout=60,
        cwd="/",
    )


def test_a_read_caller_looks_and_is_refused_acting(daemon: Daemon) -> None:
    status = _as_nobody(daemon, "status", "--json")
    assert status.returncode == 0, status.stderr
    assert '"one"' in status.stdout
    assert _as_nobody(daemon, "reload", "--dry-run").returncode == 0
    stop = _as_nobody(daemon, "stop", "one")
    assert stop.returncode == 1
    assert "'stop' needs the control role; this connection has read (uid 65534)" in stop.stderr
    assert "RUNNING" in svctl(daemon, "status", "one").stdout  # nothing was stopped


def test_a_supplementary_group_gives_its_role(daemon: Daemon) -> None:
    stop = _as_nobody(daemon, "stop", "one", groups=[OPERATORS])
    assert stop.returncode == 0, stop.stderr
    assert "STOPPED" in svctl(daemon, "status", "one").stdout


def test_read_only_drops_even_root_to_read(daemon: Daemon) -> None:
    assert svctl(daemon, "--read-only", "status").returncode == 0
    stop = svctl(daemon, "--read-only", "stop", "one")
    assert stop.returncode == 1
    assert "'stop' needs the control role; this connection has read (uid 0)" in stop.stderr
    shutdown = svctl(daemon, "status", "--read-only")  # after the subcommand too
    assert shutdown.returncode == 0
    assert "RUNNING" in svctl(daemon, "status", "one").stdout
