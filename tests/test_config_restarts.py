"""The restart keys of the config: critical, exit_when, backoff.jitter, start_retries =
"infinite", permafail and restart_when, with their sizes and durations."""

from __future__ import annotations

import pytest

from supervisord_lite import config
from supervisord_lite.config_restarts import PermafailConfig, RestartWhen
from supervisord_lite.errors import ConfigError, Problem

P = '[programs.web]\ncommand = ["sleep", "1"]\n'


def test_every_restart_key_loads() -> None:
    loaded = config.load(
        '[daemon]\nexit_when = "all-exited"\n'
        + P
        + 'critical = true\nstart_retries = "infinite"\nbackoff = { jitter = 0.25 }\n'
        'permafail = { deaths = 3, window = "2m", exit_codes = [78], signals = ["sigsegv"] }\n'
        'restart_when = { memory = "512MiB", memory_interval = "500ms" }\n'
    )
    web = loaded.programs["web"]
    assert loaded.daemon.exit_when == "all-exited"
    assert web.critical
    assert web.start_retries == "infinite"
    assert web.backoff.jitter == 0.25
    assert web.permafail == PermafailConfig(
        deaths=3, window=120.0, exit_codes=(78,), signals=("SEGV",)
    )
    assert web.restart_when == RestartWhen(memory=512 << 20, memory_interval=0.5)


def test_the_defaults_change_nothing() -> None:
    web = config.load(P).programs["web"]
    assert config.load(P).daemon.exit_when == "any-critical"
    assert not web.critical
    assert web.permafail is None
    assert web.restart_when.memory is None
    assert web.backoff.jitter == 0.0


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (2 << 20, 2 << 20),
        ("2M", 2 << 20),
        ("2MiB", 2 << 20),
        ("1.5GiB", 3 << 29),
        ("2MB", 2_000_000),
    ],
)
def test_sizes(size: object, expected: int) -> None:
    text = P + f"restart_when = {{ memory = {size!r} }}\n".replace("'", '"')
    assert config.load(text).programs["web"].restart_when.memory == expected


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (
            'start_retries = "forever"',
            Problem(
                "$.programs.web.start_retries",
                "expected an integer >= 0 or \"infinite\", got 'forever'",
            ),
        ),
        ("backoff = { jitter = 1.5 }", Problem("$.programs.web.backoff.jitter", "must be <= 1")),
        (
            "permafail = { deaths = 2, window = 5 }",
            Problem(
                "$.programs.web.permafail", "needs exit_codes or signals (or both) to match deaths"
            ),
        ),
        (
            'permafail = { deaths = 2, window = "5 weeks", exit_codes = [1] }',
            Problem(
                "$.programs.web.permafail.window",
                'expected seconds or a duration as "500ms", "60s", "5m", "1h"; got \'5 weeks\'',
            ),
        ),
        (
            'permafail = { deaths = 2, window = 5, signals = ["NOPE"] }',
            Problem("$.programs.web.permafail.signals[0]", "unknown signal 'NOPE'"),
        ),
        (
            "permafail = { deaths = 101, window = 5, exit_codes = [1] }",
            Problem("$.programs.web.permafail.deaths", "must be <= 100"),
        ),
        (
            'restart_when = { memory = "lots" }',
            Problem(
                "$.programs.web.restart_when.memory",
                'expected bytes or a size as "512MiB", "2G", "100MB"; got \'lots\'',
            ),
        ),
        (
            "restart_when = { memory = 4096 }",
            Problem("$.programs.web.restart_when.memory", "must be >= 1048576"),
        ),
        (
            "restart_when = { memory_interval = 0 }",
            Problem("$.programs.web.restart_when.memory_interval", "must be > 0"),
        ),
    ],
)
def test_mistakes_are_named(line: str, problem: Problem) -> None:
    with pytest.raises(ConfigError) as info:
        config.load(P + line + "\n")
    assert info.value.problems == (problem,)


def test_exit_when_is_one_of_two() -> None:
    with pytest.raises(ConfigError) as info:
        config.load('[daemon]\nexit_when = "never"\n')
    assert info.value.problems == (
        Problem("$.daemon.exit_when", "must be one of 'any-critical', 'all-exited', got 'never'"),
    )
