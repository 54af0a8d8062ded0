"""Reload through a real daemon: the plan it shows (``--dry-run``), and the plan it carries out.

A change of only ``hot`` settings keeps the running process (same pid) and takes effect for
what the daemon does next; a ``restart`` change restarts it; ``[daemon]`` settings are applied
or kept as the plan says; a refused file is in the daemon's log. See docs/config.md, "Reload".
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from svctl import Client, ConfigInvalid
from tests.daemon_harness import DAEMON_TABLE, running, write_config
from tests.daemon_harness import svctl_in_process as run
from tests.faults.common import ignores_term, wait_until

if TYPE_CHECKING:
    from pathlib import Path

#: Ignores SIGTERM, so only the stop escalation (SIGKILL at stop_timeout) ends it.
STUBBORN = """\
[programs.stubborn]
command = ["sh", "-c", "trap '' TERM; sleep 3600 & wait"]
start_seconds = 0
stop_timeout = 3600
priority = 0

[programs.api]
command = ["sleep", "3600"]
start_seconds = 0
env = { TOKEN = "hunter2", MODE = "a" }
"""


def test_hot_changes_apply_to_the_running_process(tmp_path: Path) -> None:
    with running(tmp_path, STUBBORN) as daemon, Client(daemon.socket, timeout=30) as client:
        client.wait("stubborn", "api", state="RUNNING", timeout=20)
        (before,) = client.status("stubborn")
        assert before.pid is not None
        wait_until(lambda: ignores_term(before.pid or 0), "the program's trap of TERM")
        edited = STUBBORN.replace("stop_timeout = 3600", "stop_timeout = 0.2")
        write_config(tmp_path, edited.replace("priority = 0", "priority = 5"))

        reply = client.reload()
        plan = {p.name: p for p in reply.programs}
        assert (plan["stubborn"].fate, plan["stubborn"].restart) == ("changed", False)
        assert {(c.field, c.old, c.new, c.effect) for c in plan["stubborn"].changes} == {
            ("priority", "0", "5", "hot"),
            ("stop_timeout", "3600.0", "0.2", "hot"),
        }
        assert plan["api"].fate == "unchanged"
        (after,) = client.status("stubborn")
        assert after.pid == before.pid  # not restarted
        assert "stubborn: " in daemon.log()
        assert "applied without a restart" in daemon.log()

        # The new stop_timeout is in effect: the TERM is ignored, and the stop ends in a KILL
        # after 0.2 s (with the old 3600 s it would not end within the test's bounds).
        (stopped,) = client.stop("stubborn", timeout=30)
        assert stopped.ok, stopped.message
        (last, *_) = reversed(client.history("stubborn", limit=10))
        assert last.exit_signal == "KILL", last


def test_dry_run_shows_the_plan_masks_env_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with running(tmp_path, STUBBORN) as daemon, Client(daemon.socket, timeout=30) as client:
        client.wait("stubborn", "api", state="RUNNING", timeout=20)
        (before,) = client.status("api")
        edited = STUBBORN.replace('TOKEN = "hunter2"', 'TOKEN = "swordfish"')
        edited = edited.replace('["sleep", "3600"]', '["sleep", "3601"]')
        write_config(tmp_path, edited + '\n[programs.extra]\ncommand = ["sleep", "3600"]\n')

        code, out, err = run(capsys, "--socket", daemon.socket, "reload", "--dry-run")
        assert (code, err) == (0, "")
        assert "hunter2" not in out
        assert "swordfish" not in out
        assert out.splitlines() == [
            "dry run: nothing applied",
            "api: changed, would restart",
            '  command: ["sleep","3600"] -> ["sleep","3601"] (restart)',
            "  env.TOKEN: *** -> *** (restart)",
            "extra: added",
            "unchanged: stubborn",
        ]

        code, out, err = run(capsys, "--socket", daemon.socket, "reload", "--dry-run", "--json")
        assert (code, err) == (0, "")
        document = json.loads(out)
        assert document["dry_run"] is True
        assert document["added"] == ["extra"]
        (api,) = (p for p in document["programs"] if p["name"] == "api")
        assert api["restart"] is True
        assert {"field": "env.TOKEN", "old": "***", "new": "***", "effect": "restart"} in (
            api["changes"]
        )
        assert "hunter2" not in out
        assert "swordfish" not in out

        # Nothing was applied: same programs, same process.
        assert {s.name for s in client.status()} == {"stubborn", "api"}
        (same,) = client.status("api")
        assert same.pid == before.pid

        # Applied: the command change restarts, the added program starts.
        code, out, _ = run(capsys, "--socket", daemon.socket, "reload")
        assert code == 0
        assert "api: changed, restarted" in out.splitlines()
        client.wait("api", "extra", state="RUNNING", timeout=20)
        (after,) = client.status("api")
        assert after.pid != before.pid


def test_daemon_settings_apply_live_or_wait_for_a_daemon_restart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with running(tmp_path, STUBBORN) as daemon, Client(daemon.socket, timeout=30) as client:
        client.wait("stubborn", "api", state="RUNNING", timeout=20)
        table = DAEMON_TABLE.replace("shutdown_timeout = 10", "shutdown_timeout = 20")
        table = table.replace('state_db = "state/supervisor.db"', 'state_db = "state/other.db"')
        (tmp_path / "supervisor.toml").write_text(table + "\n" + STUBBORN)

        reply = client.reload()
        daemon_plan = {c.field: c.effect for c in reply.daemon}
        assert daemon_plan == {"shutdown_timeout": "live", "state_db": "daemon-restart"}
        assert all(p.fate == "unchanged" for p in reply.programs)
        assert "state_db" in daemon.log()
        assert "needs a daemon restart" in daemon.log()
        assert not (tmp_path / "state" / "other.db").exists()

        # The running store stays in force, so the next plan still says so; the live one took.
        code, out, _ = run(capsys, "--socket", daemon.socket, "reload", "--dry-run")
        assert code == 0
        assert [line for line in out.splitlines() if line.startswith("[daemon]")] == [
            "[daemon] state_db: "
            f"'{tmp_path}/state/supervisor.db' -> '{tmp_path}/state/other.db' (daemon-restart); "
            f"'{tmp_path}/state/supervisor.db' stays until the daemon restarts"
        ]


def test_a_refused_reload_asked_by_svctl_is_in_the_daemons_log(tmp_path: Path) -> None:
    with running(tmp_path, STUBBORN) as daemon, Client(daemon.socket, timeout=30) as client:
        write_config(tmp_path, STUBBORN + "\n[programs.bad]\ncommand = []\nstop_timout = 1\n")
        with pytest.raises(ConfigInvalid) as caught:
            client.reload(dry_run=True)
        assert "stop_timout" in str(caught.value)
        assert "command" in str(caught.value)
        with pytest.raises(ConfigInvalid):
            client.reload()
        log = daemon.log()
        assert log.count("reload refused, the running config stays in force") == 2
        assert "stop_timout" in log
        assert {s.name for s in client.status()} == {"stubborn", "api"}
