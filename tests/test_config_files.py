"""env_file and include: the files a config reads besides itself, read from disk."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from supervisord_lite.config import load, load_path
from supervisord_lite.errors import ConfigError

if TYPE_CHECKING:
    from pathlib import Path


def _problems(path: Path) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        load_path(path)
    return [(p.path, p.message) for p in info.value.problems]


def test_env_files_in_order_then_env_wins(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("A=1\nB=from-first\n# a comment\nexport C='quoted value'\n")
    (tmp_path / "more.env").write_text("B=from-second\nD=${A}x\n")
    config = tmp_path / "c.toml"
    config.write_text(
        '[programs.p]\ncommand = "x"\nenv_file = [".env", "more.env"]\nenv = { A = "env" }\n'
    )
    program = load_path(config).programs["p"]
    assert program.env == {"A": "env", "B": "from-second", "C": "quoted value", "D": "${A}x"}
    assert program.env_file == (str(tmp_path / ".env"), str(tmp_path / "more.env"))


def test_env_file_problems(tmp_path: Path) -> None:
    (tmp_path / "bad.env").write_text("NOVALUE\n")
    config = tmp_path / "c.toml"
    config.write_text('[programs.p]\ncommand = "x"\nenv_file = ["missing.env", "bad.env"]\n')
    assert _problems(config) == [
        (
            "$.programs.p.env_file[0]",
            f"cannot read {tmp_path / 'missing.env'}: No such file or directory",
        ),
        (
            "$.programs.p.env_file[1]",
            f"{tmp_path / 'bad.env'}: 'NOVALUE' has no value (write NOVALUE=)",
        ),
    ]


def test_a_config_given_as_text_cannot_read_env_files() -> None:
    with pytest.raises(ConfigError) as info:
        load('[programs.p]\ncommand = "x"\nenv_file = ["/etc/x.env"]\n')
    [problem] = info.value.problems
    assert problem.path == "$.programs.p.env_file[0]"
    assert "cannot read /etc/x.env" in problem.message


def test_include_adds_programs_from_each_file(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "a.toml").write_text('[programs.a]\ncommand = "a"\ncwd = "."\n')
    (tmp_path / "conf.d" / "b.toml").write_text('[programs.b]\ncommand = "b"\n')
    (tmp_path / "conf.d" / "ignored.txt").write_text("not toml")
    config = tmp_path / "c.toml"
    config.write_text('include = ["conf.d/*.toml"]\n[programs.main]\ncommand = "m"\n')
    loaded = load_path(config)
    assert list(loaded.programs) == ["main", "a", "b"]
    assert loaded.programs["a"].cwd == str(tmp_path / "conf.d")


def test_a_name_defined_twice_names_both_files(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "a.toml").write_text('[programs.web]\ncommand = "a"\n')
    (tmp_path / "conf.d" / "b.toml").write_text('[programs.web]\ncommand = "b"\n')
    config = tmp_path / "c.toml"
    config.write_text('include = ["conf.d/*.toml"]\n')
    assert _problems(config) == [
        ("conf.d/b.toml:$.programs.web", "'web' is already defined in conf.d/a.toml")
    ]


def test_a_name_in_the_main_file_and_an_included_one(tmp_path: Path) -> None:
    (tmp_path / "x.toml").write_text('[programs.web]\ncommand = "a"\n')
    config = tmp_path / "c.toml"
    config.write_text('include = ["x.toml"]\n[programs.web]\ncommand = "m"\n')
    assert _problems(config) == [("x.toml:$.programs.web", f"'web' is already defined in {config}")]


def test_included_files_hold_programs_only_and_their_problems_name_them(tmp_path: Path) -> None:
    (tmp_path / "x.toml").write_text('[daemon]\nsocket = "s"\n[programs.p]\ncommand = 3\n')
    (tmp_path / "broken.toml").write_text("[programs.q\n")
    config = tmp_path / "c.toml"
    config.write_text('include = ["x.toml", "broken.toml"]\n')
    problems = _problems(config)
    assert ("x.toml:$.daemon", "only [programs.NAME] tables may be in an included file") in problems
    assert ("x.toml:$.programs.p.command", "expected an array, got an integer") in problems
    assert any(p[0] == "broken.toml:$" and p[1].startswith("invalid TOML") for p in problems)


def test_include_must_be_a_list_of_patterns(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('include = "conf.d/*.toml"\n')
    assert _problems(config) == [("$.include", "expected an array of file patterns")]
