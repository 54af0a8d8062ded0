"""A daemon run by a user other than root, with the default socket path, listens in that
user's ``$XDG_RUNTIME_DIR``, and ``svctl`` run by the same user finds it there: both run as
uid 65534 (``setpriv``), in a folder of their own."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from tests.daemon_harness import ROOT, SVCTL, TOKEN_VAR, kill_by_token
from tests.faults.common import wait_until

NOBODY = 65534
AS_NOBODY = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv"
)


def test_a_user_daemon_listens_in_xdg_runtime_dir_and_svctl_finds_it() -> None:
    home = Path(tempfile.mkdtemp(prefix="svl-user-", dir="/tmp"))
    try:
        runtime = home / "run"
        runtime.mkdir(mode=0o700)
        for path in (home, runtime):
            os.chown(path, NOBODY, NOBODY)
        config = home / "supervisor.toml"
        config.write_text(
            '[daemon]\nstate_db = "state/db"\nlog_dir = "logs"\n\n'
            '[programs.web]\ncommand = ["sleep", "3600"]\nstart_seconds = 0\n'
        )
        token = uuid.uuid4().hex
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'clients'}",
            "XDG_RUNTIME_DIR": str(runtime),
            "HOME": str(home),
            TOKEN_VAR: token,
        }
        log = (home / "daemon.log").open("wb")
        daemon = subprocess.Popen(
            [*AS_NOBODY, sys.executable, "-m", "supervisord_lite", "-c", str(config)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=home,
        )
        log.close()
        socket = runtime / "supervisord-lite" / "ctl.sock"
        try:
            wait_until(
                lambda: socket.exists() or daemon.poll() is not None, "the socket", within=30
            )
            assert socket.exists(), (home / "daemon.log").read_text()
            assert socket.stat().st_uid == NOBODY

            def svctl(*args: str) -> subprocess.CompletedProcess[str]:
                argv = [*AS_NOBODY, str(SVCTL), *args]
                return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)

            done = svctl("wait", "web", "--timeout", "20")
            assert done.returncode == 0, done.stderr
            assert svctl("status").stdout.splitlines()[1].split()[:2] == ["web", "RUNNING"]
            assert svctl("shutdown").returncode == 0
            assert daemon.wait(timeout=30) == 0
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(daemon.pid, signal.SIGKILL)
            kill_by_token(token)
            daemon.wait(timeout=10)
    finally:
        shutil.rmtree(home, ignore_errors=True)
