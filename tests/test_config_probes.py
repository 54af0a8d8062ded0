"""Config of readiness, liveness, watchdog and dependencies: valid tables and every problem."""

from __future__ import annotations

import pytest

from supervisord_lite.config import load
from supervisord_lite.config_probes import LivenessProbe, ReadyProbe, split_address
from supervisord_lite.errors import ConfigError

BASE = "/srv/app"


def _problems(text: str) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        load(text, base_dir=BASE)
    return [(p.path, p.message) for p in info.value.problems]


P = '[programs.web]\ncommand = "x"\n'


@pytest.mark.parametrize(
    ("body", "kind", "expected"),
    [
        ("ready.notify = true", "notify", ReadyProbe(notify=True)),
        ("ready.fd = 3", "fd", ReadyProbe(fd=3)),
        ('ready.exec = ["pg_isready"]', "exec", ReadyProbe(exec=("pg_isready",))),
        (
            "ready = { http = 'http://127.0.0.1:80/h', http_status = [200, 204], interval = 0.5 }",
            "http",
            ReadyProbe(http="http://127.0.0.1:80/h", http_status=(200, 204), interval=0.5),
        ),
        ('ready.tcp = "[::1]:5432"', "tcp", ReadyProbe(tcp="[::1]:5432")),
        (
            'ready = { log = "listening on \\\\d+", start_timeout = 5 }',
            "log",
            ReadyProbe(log="listening on \\d+", start_timeout=5.0),
        ),
    ],
)
def test_ready_probes(body: str, kind: str, expected: ReadyProbe) -> None:
    probe = load(P + body, base_dir=BASE).programs["web"].ready
    assert probe == expected
    assert probe is not None
    assert probe.kind == kind


def test_liveness_and_watchdog() -> None:
    text = P + "ready.notify = true\nwatchdog = 2\nwatchdog_signal = 'sigquit'\n"
    text += "liveness = { tcp = '127.0.0.1:80', failure_threshold = 2 }\n"
    program = load(text, base_dir=BASE).programs["web"]
    assert program.liveness == LivenessProbe(tcp="127.0.0.1:80", failure_threshold=2)
    assert program.watchdog == 2.0
    assert program.watchdog_signal == "QUIT"


def test_a_program_without_the_new_keys_has_none_of_them() -> None:
    program = load(P, base_dir=BASE).programs["web"]
    assert program.ready is None
    assert program.liveness is None
    assert program.watchdog is None
    assert program.depends_on == {}


def test_http_probe_accepts_2xx_unless_told() -> None:
    assert ReadyProbe(http="http://h/").accepts(204)
    assert not ReadyProbe(http="http://h/").accepts(301)
    assert ReadyProbe(http="http://h/", http_status=(301,)).accepts(301)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "ready.interval = 1",
            (
                "$.programs.web.ready",
                "needs exactly one of notify, fd, exec, http, tcp, log; got none",
            ),
        ),
        (
            "ready = { notify = true, fd = 3 }",
            (
                "$.programs.web.ready",
                "needs exactly one of notify, fd, exec, http, tcp, log; got notify, fd",
            ),
        ),
        (
            "ready.http = 'ftp://x/'",
            (
                "$.programs.web.ready.http",
                "expected an http:// or https:// URL with a host, got 'ftp://x/'",
            ),
        ),
        (
            "ready.http = 'http://h:99x/'",
            ("$.programs.web.ready.http", "invalid port in 'http://h:99x/'"),
        ),
        (
            "ready.tcp = 'localhost'",
            (
                "$.programs.web.ready.tcp",
                "expected HOST:PORT (e.g. 127.0.0.1:8000 or [::1]:8000), got 'localhost'",
            ),
        ),
        (
            "ready.log = '('",
            (
                "$.programs.web.ready.log",
                "invalid regular expression: missing ), unterminated subpattern at position 0",
            ),
        ),
        (
            "ready = { tcp = 'h:1', http_status = [200] }",
            ("$.programs.web.ready.http_status", "only with an http probe"),
        ),
        ("ready.fd = 2", ("$.programs.web.ready.fd", "must be >= 3")),
        (
            "ready.interval = 0\nready.notify = true",
            ("$.programs.web.ready.interval", "must be > 0"),
        ),
        ("ready.bogus = 1", ("$.programs.web.ready.bogus", "unknown field")),
        ("liveness.notify = true", ("$.programs.web.liveness.notify", "unknown field")),
        (
            "liveness.failure_threshold = 3",
            ("$.programs.web.liveness", "needs exactly one of exec, http, tcp; got none"),
        ),
        (
            "watchdog = 3",
            ("$.programs.web.watchdog", "needs ready.notify = true (WATCHDOG=1 comes that way)"),
        ),
        ("watchdog_signal = 'NOPE'", ("$.programs.web.watchdog_signal", "unknown signal 'NOPE'")),
        (
            "on_dependency_failure = 'panic'",
            (
                "$.programs.web.on_dependency_failure",
                "must be one of 'stop', 'restart', 'ignore', got 'panic'",
            ),
        ),
        (
            "depends_on = { db = 'up' }",
            (
                "$.programs.web.depends_on.db",
                "must be one of 'started', 'ready', 'healthy', 'completed', "
                "'completed_successfully', got 'up'",
            ),
        ),
        (
            "depends_on = { db = 'ready' }",
            ("$.programs.web.depends_on", "no program named 'db' (known: web)"),
        ),
    ],
)
def test_problems(body: str, expected: tuple[str, str]) -> None:
    assert _problems(P + body) == [expected]


def test_a_cycle_is_named() -> None:
    text = """
[programs.a]
command = "a"
depends_on = { b = "ready" }
[programs.b]
command = "b"
depends_on = { c = "started" }
[programs.c]
command = "c"
depends_on = { a = "completed" }
"""
    assert _problems(text) == [("$.programs.a.depends_on", "dependency cycle: a -> b -> c -> a")]


def test_a_dependency_on_a_program_with_its_own_problems_is_not_unknown() -> None:
    text = P + "depends_on = { db = 'ready' }\n[programs.db]\ncommand = 3\n"
    assert _problems(text) == [("$.programs.db.command", "expected an array, got an integer")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:80", ("127.0.0.1", 80)),
        ("[::1]:8000", ("::1", 8000)),
        ("db.internal:5432", ("db.internal", 5432)),
        ("h:0", None),
        ("h:65536", None),
        (":80", None),
        ("h:", None),
        ("[]:80", None),
    ],
)
def test_split_address(text: str, expected: tuple[str, int] | None) -> None:
    assert split_address(text) == expected
