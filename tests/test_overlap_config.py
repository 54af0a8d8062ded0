"""``overlap`` and ``overlap_max`` in the config, and how an extra run is derived from its
program (replicas.extra_run); pure."""

from __future__ import annotations

import pytest

from supervisord_lite.config import load
from supervisord_lite.errors import ConfigError
from supervisord_lite.replicas import extra_run


@pytest.mark.parametrize(
    ("table", "where", "says"),
    [
        ("overlap = true", "overlap", "needs schedule or every"),
        ('every = "1m"\noverlap = true\nreplicas = 2', "overlap", "cannot be set with replicas"),
        ('every = "1m"\noverlap = true\noverlap_max = 0', "overlap_max", ">= 1"),
        ('every = "1m"\noverlap = true\noverlap_max = 101', "overlap_max", "<= 100"),
        ('every = "1m"\noverlap_max = 2', "overlap_max", "needs overlap = true"),
        ('every = "1m"\noverlap = "yes"', "overlap", "bool"),
    ],
)
def test_overlap_mistakes_are_named(table: str, where: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(f'[programs.job]\ncommand = "job"\n{table}\n')
    assert [p.path for p in caught.value.problems] == [f"$.programs.job.{where}"]
    assert says in caught.value.problems[0].message


def test_overlap_is_off_and_bounded_by_default() -> None:
    job = load('[programs.job]\ncommand = "job"\nevery = "1m"\n').programs["job"]
    assert (job.overlap, job.overlap_max) == (False, 4)
    cron = load('[programs.job]\ncommand = "job"\nschedule = "* * * * *"\noverlap = true\n')
    assert cron.programs["job"].overlap


def test_an_extra_run_has_a_name_and_log_files_of_its_own_and_no_schedule() -> None:
    config = load(
        '[daemon]\nlog_dir = "/logs"\n[programs.job]\ncommand = ["job", "{replica}"]\n'
        'every = "1m"\noverlap = true\nlog = { stderr = "/var/log/job-errors" }\n'
        'watch = ["/srv/job/*.py"]\n',
    )
    job = config.programs["job"]
    extra = extra_run(job, 2)
    assert extra.name == "job:2"
    assert extra.command == job.command  # not a replica: nothing is expanded
    assert extra.log.stdout == "/logs/job:2.stdout.log"
    assert extra.log.stderr == "/var/log/job-errors:2"
    assert (extra.schedule, extra.every, extra.watch) == (None, None, ())
    assert not extra.scheduled


def test_an_extra_run_keeps_inherited_and_discarded_output_so() -> None:
    job = load(
        '[programs.job]\ncommand = "job"\nevery = "1m"\noverlap = true\n'
        'log = { stdout = "inherit", stderr = "none" }\n'
    ).programs["job"]
    extra = extra_run(job, 1)
    assert (extra.log.stdout, extra.log.stderr) == ("inherit", None)
