"""The README's test command is the one CI runs, and the README states both commands."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return [line for line in text.splitlines() if line.startswith("python3 -m venv .venv && ")]


def test_readme_states_run_and_test_commands() -> None:
    commands = _commands()
    assert any("supervisord-lite -c examples/demo.toml" in c for c in commands)
    assert any("pytest" in c and "[test]" in c for c in commands)


def test_ci_runs_exactly_the_readme_test_command() -> None:
    test_command = next(c for c in _commands() if "pytest" in c)
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci_lines


def test_demo_config_exists() -> None:
    assert (ROOT / "examples" / "demo.toml").is_file()
