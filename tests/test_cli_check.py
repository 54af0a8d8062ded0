"""``supervisord-lite -c CONFIG --check``: one line on success, every problem on failure, 0 / 2."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import supervisord_lite
from supervisord_lite.cli import main
from supervisord_lite.errors import AlreadyRunning, SupervisorLiteError

if TYPE_CHECKING:
    from supervisord_lite.config import Config

ROOT = Path(__file__).resolve().parent.parent

GOOD = """
[daemon]
socket = "run/ctl.sock"

[programs.web]
command = ["python3", "-m", "http.server"]

[programs.worker]
command = "python3 worker.py"
"""

BAD = """
[programs.web]
command = []
stop_timout = 3

[programs.worker]
command = "x"
stop_signal = "TREM"
"""


def _write(folder: Path, text: str, name: str = "sl.toml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "summary"),
    [
        (GOOD, "2 programs (web, worker), socket {dir}/run/ctl.sock"),
        ("", "0 programs, socket /run/supervisord-lite/ctl.sock"),
        (
            "[programs.one]\ncommand = 'x'\n",
            "1 program (one), socket /run/supervisord-lite/ctl.sock",
        ),
    ],
)
def test_check_ok(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, summary: str
) -> None:
    path = _write(tmp_path, text)
    assert main(["-c", str(path), "--check"]) == 0
    out, err = capsys.readouterr()
    assert out == f"ok: {path}: {summary.format(dir=tmp_path)}\n"
    assert err == ""


def test_check_prints_every_problem_prefixed_with_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, BAD)
    assert main(["-c", str(path), "--check"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"{path}: $.programs.web.command: must not be empty",
        f"{path}: $.programs.web.stop_timout: unknown field",
        f"{path}: $.programs.worker.stop_signal: unknown signal 'TREM'",
    ]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (
            "[daemon\n",
            "invalid TOML: Expected ']' at the end of a table declaration (at line 1, column 8)",
        ),
    ],
)
def test_check_toml_syntax_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, line: str
) -> None:
    path = _write(tmp_path, text)
    assert main(["-c", str(path), "--check"]) == 2
    assert capsys.readouterr().err == f"{path}: {line}\n"


@pytest.mark.parametrize(
    ("name", "reason"),
    [("missing.toml", "No such file or directory"), (".", "Is a directory")],
)
def test_unreadable_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, reason: str
) -> None:
    path = tmp_path / name
    assert main(["-c", str(path), "--check"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"{path}: cannot read the file: {reason}\n"


@pytest.mark.parametrize(
    "argv", [[], ["--check"], ["-c"], ["-c", "x.toml", "--bogus"], ["-c", "a", "extra"]]
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: supervisord-lite")
    assert "Traceback" not in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"supervisord-lite {supervisord_lite.__version__}\n"


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "--check" in capsys.readouterr().out


def _fake_runtime(monkeypatch: pytest.MonkeyPatch, run: object) -> None:
    """Stand in for the runtime package, which this test must not start."""
    fake = types.ModuleType("supervisord_lite.runtime")
    fake.run = run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "supervisord_lite.runtime", fake)
    monkeypatch.setattr(supervisord_lite, "runtime", fake, raising=False)


def test_without_check_the_runtime_runs_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Config] = []

    def run(config: Config, *, reset_store: bool = False) -> int:
        seen.append(config)
        return 7

    _fake_runtime(monkeypatch, run)
    path = _write(tmp_path, GOOD)
    assert main(["-c", str(path)]) == 7
    [config] = seen
    assert list(config.programs) == ["web", "worker"]


@pytest.mark.parametrize(
    ("error", "line", "code"),
    [
        (AlreadyRunning("/run/x.sock", 42), "already running (pid 42) on /run/x.sock", 2),
        (SupervisorLiteError("something broke"), "something broke", 1),
    ],
)
def test_runtime_errors_are_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    error: SupervisorLiteError,
    line: str,
    code: int,
) -> None:
    def run(config: Config, *, reset_store: bool = False) -> int:
        raise error

    _fake_runtime(monkeypatch, run)
    assert main(["-c", str(_write(tmp_path, GOOD))]) == code
    assert capsys.readouterr().err == f"supervisord-lite: {line}\n"


def test_invalid_config_without_check_does_not_start_the_runtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def run(config: Config, *, reset_store: bool = False) -> int:
        raise AssertionError("runtime started with an invalid config")

    _fake_runtime(monkeypatch, run)
    assert main(["-c", str(_write(tmp_path, BAD))]) == 2
    assert len(capsys.readouterr().err.splitlines()) == 3


def _subprocess(*args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=30, env=env, check=False
    )


@pytest.mark.parametrize(("text", "code"), [(GOOD, 0), (BAD, 2)])
def test_check_as_a_subprocess(tmp_path: Path, text: str, code: int) -> None:
    path = _write(tmp_path, text)
    result = _subprocess("-m", "supervisord_lite", "-c", str(path), "--check")
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    if code == 0:
        assert result.stdout.startswith(f"ok: {path}: 2 programs")
    else:
        assert len(result.stderr.splitlines()) == 3


def test_check_never_imports_trio(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    code = (
        "import sys\n"
        "from supervisord_lite.cli import main\n"
        f"rc = main(['-c', {str(path)!r}, '--check'])\n"
        "print(rc, 'trio' in sys.modules, 'supervisord_lite.runtime' in sys.modules)\n"
    )
    result = _subprocess("-c", code)
    assert result.stdout.splitlines()[-1] == "0 False False", result.stderr
