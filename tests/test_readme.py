"""The README's test command is the one CI runs, and the README states both commands."""

from __future__ import annotations

import re
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


def _requirement_names() -> set[str]:
    """What ``pip install '.[test]'`` asks for by name: the dependencies, the test extra and
    the extras it names of this project itself (``supervisord-lite[web]``)."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    specs = [*project["dependencies"]]
    wanted, seen = ["test"], set()
    while wanted:
        extra = wanted.pop()
        seen.add(extra)
        for spec in extras[extra]:
            own = re.fullmatch(rf"{project['name']}\[([\w,-]+)\]", spec)
            if own:
                wanted.extend(e for e in own[1].split(",") if e not in seen)
            else:
                specs.append(spec)
    return {_normalise(re.split(r"[<>=!~\[ ;]", spec, maxsplit=1)[0]) for spec in specs}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_installs_are_pinned_by_the_checked_in_constraints() -> None:
    for command in _commands():
        assert "-c constraints.txt" in command, command
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not an exact pin: {line}"
            pins[_normalise(name)] = version
    assert _requirement_names() <= pins.keys()
