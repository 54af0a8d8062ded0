"""Program groups (program_groups.py) and the new schedule and watch keys of the config."""

from __future__ import annotations

import pytest

from supervisord_lite.config import load
from supervisord_lite.errors import ConfigError, NoSuchGroup
from supervisord_lite.program_groups import expand, group_names

CONFIG = """
[programs.web]
command = "web"
groups = ["front", "web"]

[programs.api]
command = "api"
groups = ["front"]

[programs.worker]
command = "worker"
groups = ["web"]
"""


def test_a_group_expands_to_its_members_in_config_order() -> None:
    programs = load(CONFIG).programs
    assert expand(["front:"], programs) == ("web", "api")
    assert expand(["worker", "front:", "web"], programs) == ("worker", "web", "api")
    assert group_names(programs) == ["front", "web"]


def test_the_colon_tells_a_group_from_a_program_of_the_same_name() -> None:
    programs = load(CONFIG).programs
    assert expand(["web"], programs) == ("web",)
    assert expand(["web:"], programs) == ("web", "worker")
    assert expand(["web:0"], programs) == ("web:0",)  # not a group: left to the lookup


def test_an_unknown_group_names_the_groups_there_are() -> None:
    with pytest.raises(NoSuchGroup, match=r"no group named 'back' \(groups: front, web\)"):
        expand(["back:", "web"], load(CONFIG).programs)


def test_group_names_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"programs.a.groups: invalid value"):
        load('[programs.a]\ncommand = "a"\ngroups = ["bad name"]\n')


@pytest.mark.parametrize(
    ("table", "where"),
    [
        ('schedule = "61 * * * *"', "schedule"),
        ('schedule = "* * * * *"\nevery = "5m"', "every"),
        ('every = "5 minutes"', "every"),
        ('schedule = "* * * * *"\nschedule_tz = "Mars/Olympus"', "schedule_tz"),
        ('catch_up = "all"', "catch_up"),
        ('reload_check = ["true"]', "reload_check"),
        ("watch_debounce = -1", "watch_debounce"),
    ],
)
def test_schedule_and_watch_mistakes_are_named(table: str, where: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(f'[programs.job]\ncommand = "job"\n{table}\n')
    assert [p.path for p in caught.value.problems] == [f"$.programs.job.{where}"]


def test_watch_globs_resolve_against_the_cwd() -> None:
    config = load(
        '[programs.app]\ncommand = "app"\ncwd = "srv"\nwatch = ["src/**/*.py", "/etc/app.conf"]\n'
        'watch_ignore = ["src/gen/*"]\nreload_check = ["python3", "-m", "compileall", "src"]\n',
        base_dir="/opt",
    )
    app = config.programs["app"]
    assert app.watch == ("/opt/srv/src/**/*.py", "/etc/app.conf")
    assert app.watch_ignore == ("/opt/srv/src/gen/*",)
