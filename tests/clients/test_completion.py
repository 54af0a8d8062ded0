"""Shell completion and the manual page, generated from the parser ``--help`` uses: the bash
script run by a real bash against a real daemon, the zsh and fish scripts and the man page
checked for what they must hold."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from typing import TYPE_CHECKING

import pytest

from svctl.cli import build_parser, main
from tests.daemon_harness import ROOT, SVCTL, svctl_command

if TYPE_CHECKING:
    from pathlib import Path

    from tests.daemon_harness import Daemon

SUBCOMMANDS = [
    name
    for action in build_parser()._subparsers._group_actions  # type: ignore[union-attr]
    for name in getattr(action, "choices", {})
]
NAMES_COMMAND = "svctl --timeout 0.5 completion --programs"


def _script(capsys: pytest.CaptureFixture[str], shell: str) -> str:
    assert main(["completion", shell]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return out


def _complete(script: Path, words: list[str], env: dict[str, str]) -> list[str]:
    """What bash offers for ``words`` (the last one being completed)."""
    code = (
        f"source {script}; COMP_WORDS=({' '.join(words)}); COMP_CWORD={len(words) - 1};"
        ' COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}; _shtab_svctl;'
        ' printf "%s\\n" "${COMPREPLY[@]}"'
    )
    done = subprocess.run(["bash", "-c", code], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_bash_completes_commands_options_and_the_daemons_program_names(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, running_daemon: Daemon
) -> None:
    script = tmp_path / "svctl.bash"
    script.write_text(_script(capsys, "bash"))
    assert subprocess.run(["bash", "-n", str(script)], check=False).returncode == 0
    _, env = svctl_command(None)
    env["SVCTL_SOCKET"] = running_daemon.socket
    env["PATH"] = f"{SVCTL.parent}{os.pathsep}{env['PATH']}"
    assert _complete(script, ["svctl", "re"], env) == ["restart", "reload"]
    assert _complete(script, ["svctl", "restart", "w"], env) == ["web", "worker"]
    assert "--mark-stream" in _complete(script, ["svctl", "logs", "--mark"], env)
    # No daemon: nothing to offer, and no error on the terminal.
    env["SVCTL_SOCKET"] = str(tmp_path / "nobody.sock")
    assert _complete(script, ["svctl", "restart", "w"], env) == []


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_hold_every_command_and_ask_the_daemon_for_names(
    capsys: pytest.CaptureFixture[str], shell: str
) -> None:
    script = _script(capsys, shell)
    assert NAMES_COMMAND in script
    for name in SUBCOMMANDS:
        assert name in script
    if shutil.which(shell) is not None:
        check = subprocess.run([shell, "-n"], input=script, text=True, capture_output=True)
        assert check.returncode == 0, check.stderr


def test_program_names_for_completion(
    capsys: pytest.CaptureFixture[str], running_daemon: Daemon, tmp_path: Path
) -> None:
    assert main(["--socket", running_daemon.socket, "completion", "--programs"]) == 0
    assert capsys.readouterr().out.split() == [
        "web",
        "worker",
        "crasher",
        "flaky",
        "talker",
        "stubborn",
    ]
    code = main(["--socket", str(tmp_path / "nobody.sock"), "completion", "--programs"])
    assert code == 3
    assert capsys.readouterr() == ("", "")


def test_completion_needs_a_shell(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion"]) == 2
    assert "name a shell" in capsys.readouterr().err


def test_the_manual_page_documents_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--print-man"]) == 0
    page = capsys.readouterr().out
    assert page.startswith((".TH SVCTL 1 ", '.TH SVCTL "1" '))
    assert "svctl \\- control a supervisord\\-lite daemon" in page
    for name in SUBCOMMANDS:
        assert f"svctl {name}" in page.replace("\\-", "-")
    if shutil.which("groff") is not None:
        shown = subprocess.run(
            ["groff", "-man", "-Tutf8", "-ww"], input=page, capture_output=True, text=True
        )
        assert shown.returncode == 0
        assert shown.stderr == ""
        assert "exit codes:" in shown.stdout


def test_the_readme_command_table_names_every_subcommand() -> None:
    rows = [
        line
        for line in (ROOT / "README.md").read_text().splitlines()
        if line.startswith("| `svctl ")
    ]
    listed = " ".join(row.split(" | ")[0] for row in rows)
    for name in SUBCOMMANDS:
        assert re.search(rf"svctl (\S*/)?{name}\b", listed), name
