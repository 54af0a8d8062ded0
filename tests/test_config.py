"""TOML in -> Config, or a ConfigError naming every problem with its path."""

from __future__ import annotations

import os
import signal
from typing import TYPE_CHECKING, Any

import msgspec
import pytest

from supervisord_lite import signames
from supervisord_lite.config import (
    Backoff,
    Config,
    DaemonConfig,
    LogConfig,
    ProgramConfig,
    load,
    load_path,
)
from supervisord_lite.errors import ConfigError
from supervisord_lite.vocabulary import AccessRole

if TYPE_CHECKING:
    from pathlib import Path

BASE = "/srv/app"
MIB = 1024 * 1024


def _load(text: str) -> Config:
    return load(text, base_dir=BASE)


def _problems(text: str) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        _load(text)
    assert info.value.source == "<string>"
    return [(p.path, p.message) for p in info.value.problems]


# ---------------------------------------------------------------------------------------------
# Valid files


def test_empty_file_gives_defaults_resolved_against_base_dir() -> None:
    config = _load("")
    assert config.programs == {}
    assert config.source == "<string>"
    assert config.base_dir == BASE
    assert config.daemon == DaemonConfig(
        socket="/run/supervisord-lite/ctl.sock",
        socket_mode=0o600,
        allow_uids=(),
        state_db=f"{BASE}/state/supervisor.db",
        log_dir=f"{BASE}/logs",
        shutdown_timeout=30.0,
    )


def test_minimal_program_gets_every_default() -> None:
    config = _load('[programs.web]\ncommand = ["python3", "-m", "http.server"]\n')
    assert config.programs == {
        "web": ProgramConfig(
            name="web",
            command=("python3", "-m", "http.server"),
            cwd=None,
            env={},
            user=None,
            group=None,
            umask=None,
            autostart=True,
            autorestart="on-failure",
            exit_codes=(0,),
            start_seconds=1.0,
            start_retries=3,
            backoff=Backoff(initial=1.0, factor=2.0, max=30.0, floor=1.0),
            stop_signal="TERM",
            stop_timeout=10.0,
            kill_timeout=5.0,
            priority=100,
            log=LogConfig(
                stdout=f"{BASE}/logs/web.stdout.log",
                stderr=f"{BASE}/logs/web.stderr.log",
                merge=False,
                max_bytes=50 * MIB,
                backups=10,
                queue_bytes=MIB,
                overflow="block",
                timestamps=False,
            ),
        )
    }


FULL = """
[daemon]
socket = "/run/sl/ctl.sock"
socket_mode = 0o660
allow_uids = [1000, 1001]
state_db = "var/state.db"
log_dir = "/var/log/sl"
shutdown_timeout = 5

[programs.worker]
command = ["worker", "--fast"]
cwd = "work"
env = { PORT = "8000", EMPTY = "" }
user = "nobody"
group = "65534"
umask = 0o027
autostart = false
autorestart = "always"
exit_codes = [0, 3]
start_seconds = 0
start_retries = 0
backoff = { initial = 0.5, factor = 1, max = 0.5, floor = 0 }
stop_signal = "SIGINT"
stop_timeout = 2.5
kill_timeout = 1
priority = -5

[programs.worker.log]
stdout = "out/worker.log"
stderr = "/var/log/worker.err"
max_bytes = 0
backups = 0
queue_bytes = 4096
overflow = "drop-oldest"
timestamps = true
"""


def test_full_file_sets_every_field() -> None:
    config = _load(FULL)
    assert config.daemon == DaemonConfig(
        socket="/run/sl/ctl.sock",
        socket_mode=0o660,
        allow_uids=(1000, 1001),
        state_db=f"{BASE}/var/state.db",
        log_dir="/var/log/sl",
        shutdown_timeout=5.0,
    )
    assert config.programs["worker"] == ProgramConfig(
        name="worker",
        command=("worker", "--fast"),
        cwd=f"{BASE}/work",
        env={"PORT": "8000", "EMPTY": ""},
        user="nobody",
        group="65534",
        umask=0o027,
        autostart=False,
        autorestart="always",
        exit_codes=(0, 3),
        start_seconds=0.0,
        start_retries=0,
        backoff=Backoff(initial=0.5, factor=1.0, max=0.5, floor=0.0),
        stop_signal="INT",
        stop_timeout=2.5,
        kill_timeout=1.0,
        priority=-5,
        log=LogConfig(
            stdout=f"{BASE}/out/worker.log",
            stderr="/var/log/worker.err",
            merge=False,
            max_bytes=0,
            backups=0,
            queue_bytes=4096,
            overflow="drop-oldest",
            timestamps=True,
        ),
    )


def _program(body: str, name: str = "p") -> ProgramConfig:
    return _load(f"[programs.{name}]\n{body}\n").programs[name]


@pytest.mark.parametrize(
    ("body", "field", "expected"),
    [
        ("command = \"python3 -c 'print(1)'\"", "command", ("python3", "-c", "print(1)")),
        ('command = "  sleep   10 "', "command", ("sleep", "10")),
        ('command = "echo a;b $HOME"', "command", ("echo", "a;b", "$HOME")),
        ('command = ["echo", ""]', "command", ("echo", "")),
        ('command = "x"\ncwd = "sub/../w"', "cwd", f"{BASE}/w"),
        ('command = "x"\ncwd = "/abs/dir/"', "cwd", "/abs/dir"),
        ('command = "x"\ncwd = "."', "cwd", BASE),
        ('command = "x"\nstop_signal = "TERM"', "stop_signal", "TERM"),
        ('command = "x"\nstop_signal = "SIGTERM"', "stop_signal", "TERM"),
        ('command = "x"\nstop_signal = "term"', "stop_signal", "TERM"),
        ('command = "x"\nstop_signal = "sigkill"', "stop_signal", "KILL"),
        ('command = "x"\nstop_signal = "Usr1"', "stop_signal", "USR1"),
        ('command = "x"\numask = 0', "umask", 0),
        ('command = "x"\nexit_codes = []', "exit_codes", ()),
        ('command = "x"\nbackoff.max = 5', "backoff", Backoff(max=5.0)),
    ],
)
def test_program_field_is_converted(body: str, field: str, expected: Any) -> None:
    assert getattr(_program(body), field) == expected


@pytest.mark.parametrize(
    ("log", "stdout", "stderr"),
    [
        ("{}", f"{BASE}/logs/p.stdout.log", f"{BASE}/logs/p.stderr.log"),
        (
            '{ stdout = "auto", stderr = "auto" }',
            f"{BASE}/logs/p.stdout.log",
            f"{BASE}/logs/p.stderr.log",
        ),
        ('{ stdout = "none", stderr = "none" }', None, None),
        ('{ stdout = "a.log", stderr = "../b.log" }', f"{BASE}/a.log", "/srv/b.log"),
        ('{ stdout = "/abs/out.log" }', "/abs/out.log", f"{BASE}/logs/p.stderr.log"),
        ("{ merge = true }", f"{BASE}/logs/p.stdout.log", None),
        ('{ merge = true, stdout = "all.log" }', f"{BASE}/all.log", None),
        ('{ merge = true, stdout = "none" }', None, None),
        ('{ stdout = "inherit", stderr = "inherit" }', "inherit", "inherit"),
        ('{ merge = true, stdout = "inherit" }', "inherit", None),
        ('{ stdout = "./inherit" }', f"{BASE}/inherit", f"{BASE}/logs/p.stderr.log"),
        ("{ merge = false }", f"{BASE}/logs/p.stdout.log", f"{BASE}/logs/p.stderr.log"),
    ],
)
def test_log_targets(log: str, stdout: str | None, stderr: str | None) -> None:
    program = _program(f'command = "x"\nlog = {log}')
    assert (program.log.stdout, program.log.stderr) == (stdout, stderr)


def test_any_number_of_streams_may_inherit_the_daemons_output() -> None:
    config = _load(
        '[programs.a]\ncommand = "x"\nlog = { stdout = "inherit", stderr = "inherit" }\n'
        '[programs.b]\ncommand = "x"\nlog = { stdout = "inherit", merge = true }\n'
    )
    assert [p.log.stdout for p in config.programs.values()] == ["inherit", "inherit"]


def test_auto_logs_follow_a_custom_log_dir() -> None:
    program = _load('[daemon]\nlog_dir = "/var/log/x"\n[programs.p]\ncommand = "x"').programs["p"]
    assert program.log.stdout == "/var/log/x/p.stdout.log"


@pytest.mark.parametrize("name", ["a", "A9", "web.v2", "my_prog-1", "0", "x" * 64])
def test_valid_program_names(name: str) -> None:
    assert _load(f'[programs."{name}"]\ncommand = "x"').programs[name].name == name


def test_programs_keep_file_order_and_sort_by_priority() -> None:
    config = _load(
        '[programs.b]\ncommand = "x"\n'
        '[programs.c]\ncommand = "x"\npriority = 200\n'
        '[programs.a]\ncommand = "x"\n'
    )
    assert list(config.programs) == ["b", "c", "a"]
    assert [p.name for p in config.programs_by_priority()] == ["c", "a", "b"]


def test_load_accepts_bytes() -> None:
    assert _load_bytes(b'[programs.p]\ncommand = "x"\n').programs["p"].command == ("x",)


def _load_bytes(data: bytes) -> Config:
    return load(data, base_dir=BASE)


def test_base_dir_defaults_to_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load('[daemon]\nsocket = "s.sock"')
    assert config.base_dir == str(tmp_path)
    assert config.daemon.socket == str(tmp_path / "s.sock")


def test_relative_base_dir_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert load("", base_dir="etc").base_dir == str(tmp_path / "etc")


def test_load_path_resolves_against_the_files_folder(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "sl.toml"
    path.parent.mkdir()
    path.write_text(
        '[daemon]\nsocket = "run/ctl.sock"\n[programs.p]\ncommand = "x"\ncwd = "work"\n'
    )
    config = load_path(path)
    assert config.source == str(path)
    assert config.base_dir == str(path.parent)
    assert config.programs["p"].cwd == str(path.parent / "work")
    assert config.daemon.socket == str(path.parent / "run" / "ctl.sock")


def test_config_structs_are_frozen() -> None:
    config = _load('[programs.p]\ncommand = "x"')
    with pytest.raises(AttributeError):
        config.programs["p"].priority = 1  # type: ignore[misc]


def test_structs_reject_unknown_fields_when_decoded_directly() -> None:
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.convert({"initial": 1.0, "typo": 1}, Backoff)


# ---------------------------------------------------------------------------------------------
# Bad files: every problem, with its path and message


P = '[programs.web]\ncommand = "x"\n'

BAD: list[tuple[str, str, list[tuple[str, str]]]] = [
    ("unknown top-level", "[deamon]\n", [("$.deamon", "unknown field")]),
    ("unknown daemon field", "[daemon]\nsockt = 'x'\n", [("$.daemon.sockt", "unknown field")]),
    (
        "unknown program field",
        P + "stop_timout = 3\n",
        [("$.programs.web.stop_timout", "unknown field")],
    ),
    ("unknown log field", P + "log.stdot = 'x'\n", [("$.programs.web.log.stdot", "unknown field")]),
    (
        "unknown backoff field",
        P + "backoff.maximum = 1\n",
        [("$.programs.web.backoff.maximum", "unknown field")],
    ),
    (
        "name in the table",
        P + "name = 'other'\n",
        [("$.programs.web.name", "not allowed here: the program's name is its table key")],
    ),
    (
        "wrong type: number",
        P + "stop_timeout = 'ten'\n",
        [("$.programs.web.stop_timeout", "expected a number, got a string")],
    ),
    (
        "wrong type: integer",
        P + "start_retries = 1.5\n",
        [("$.programs.web.start_retries", "expected an integer, got a number")],
    ),
    (
        "wrong type: bool",
        P + "autostart = 1\n",
        [("$.programs.web.autostart", "expected a boolean, got an integer")],
    ),
    (
        "wrong type: string",
        P + "user = 1000\n",
        [("$.programs.web.user", "expected a string, got an integer")],
    ),
    (
        "wrong type: array",
        P + "exit_codes = 0\n",
        [("$.programs.web.exit_codes", "expected an array, got an integer")],
    ),
    (
        "wrong type: date",
        P + "priority = 1979-05-27\n",
        [("$.programs.web.priority", "expected an integer, got a date")],
    ),
    ("wrong type: table", "daemon = 3\n", [("$.daemon", "expected a table, got an integer")]),
    ("programs not a table", "programs = []\n", [("$.programs", "expected a table, got an array")]),
    (
        "program not a table",
        "[programs]\nweb = 'x'\n",
        [("$.programs.web", "expected a table, got a string")],
    ),
    (
        "log not a table",
        P + "log = 'auto'\n",
        [("$.programs.web.log", "expected a table, got a string")],
    ),
    (
        "env not a table",
        P + "env = ['A=1']\n",
        [("$.programs.web.env", "expected a table, got an array")],
    ),
    (
        "env value",
        P + "env = { PORT = 8000 }\n",
        [("$.programs.web.env.PORT", "expected a string, got an integer")],
    ),
    (
        "env name with =",
        P + "env = { 'A=B' = '1' }\n",
        [('$.programs.web.env["A=B"]', "invalid variable name")],
    ),
    (
        "env name empty",
        P + "env = { '' = '1' }\n",
        [('$.programs.web.env[""]', "invalid variable name")],
    ),
    ("gt 0", P + "stop_timeout = 0\n", [("$.programs.web.stop_timeout", "must be > 0")]),
    ("ge 0", P + "start_seconds = -0.5\n", [("$.programs.web.start_seconds", "must be >= 0")]),
    ("ge 0 int", P + "start_retries = -1\n", [("$.programs.web.start_retries", "must be >= 0")]),
    (
        "daemon gt 0",
        "[daemon]\nshutdown_timeout = -1\n",
        [("$.daemon.shutdown_timeout", "must be > 0")],
    ),
    (
        "history_runs ge 0",
        "[daemon]\nhistory_runs = -5\n",
        [("$.daemon.history_runs", "must be >= 0")],
    ),
    (
        "socket mode",
        "[daemon]\nsocket_mode = 0o1777\n",
        [("$.daemon.socket_mode", "must be <= 0o777")],
    ),
    ("umask", P + "umask = -1\n", [("$.programs.web.umask", "must be >= 0")]),
    ("uid", "[daemon]\nallow_uids = [1000, -1]\n", [("$.daemon.allow_uids[1]", "must be >= 0")]),
    (
        "exit code",
        P + "exit_codes = [0, 256]\n",
        [("$.programs.web.exit_codes[1]", "must be <= 255")],
    ),
    (
        "queue bytes",
        P + "log.queue_bytes = 100\n",
        [("$.programs.web.log.queue_bytes", "must be >= 4096")],
    ),
    (
        "backoff factor",
        P + "backoff.factor = 0.5\n",
        [("$.programs.web.backoff.factor", "must be >= 1")],
    ),
    (
        "backoff max",
        P + "backoff = { initial = 10, max = 5 }\n",
        [("$.programs.web.backoff.max", "must be >= initial (10)")],
    ),
    ("empty socket", "[daemon]\nsocket = ''\n", [("$.daemon.socket", "must not be empty")]),
    ("empty user", P + "user = ''\n", [("$.programs.web.user", "must not be empty")]),
    (
        "bad signal",
        P + "stop_signal = 'TREM'\n",
        [("$.programs.web.stop_signal", "unknown signal 'TREM'")],
    ),
    (
        "signal number",
        P + "stop_signal = 15\n",
        [("$.programs.web.stop_signal", "expected a string, got an integer")],
    ),
    (
        "realtime signal",
        P + "stop_signal = 'RTMIN'\n",
        [("$.programs.web.stop_signal", "unknown signal 'RTMIN'")],
    ),
    (
        "bad program name",
        "[programs.'-web']\ncommand = 'x'\n",
        [
            (
                "$.programs.-web",
                "invalid program name '-web': 1 to 64 letters, digits, '_', '.' or '-',"
                " starting with a letter or digit",
            )
        ],
    ),
    (
        "program name with a space",
        "[programs.'my web']\ncommand = 'x'\n",
        [
            (
                '$.programs["my web"]',
                "invalid program name 'my web': 1 to 64 letters, digits, '_', '.' or '-',"
                " starting with a letter or digit",
            )
        ],
    ),
    (
        "missing command",
        "[programs.web]\n",
        [("$.programs.web.command", "missing: this field is required")],
    ),
    (
        "empty command list",
        "[programs.web]\ncommand = []\n",
        [("$.programs.web.command", "must not be empty")],
    ),
    (
        "blank command string",
        "[programs.web]\ncommand = '   '\n",
        [("$.programs.web.command", "must not be empty")],
    ),
    (
        "empty argv[0]",
        "[programs.web]\ncommand = ['', 'x']\n",
        [("$.programs.web.command[0]", "must not be empty")],
    ),
    (
        "command item type",
        "[programs.web]\ncommand = ['x', 1]\n",
        [("$.programs.web.command[1]", "expected a string, got an integer")],
    ),
    (
        "unbalanced quote",
        '[programs.web]\ncommand = "echo \'hi"\n',
        [("$.programs.web.command", "cannot split the command string: No closing quotation")],
    ),
    (
        "NUL in command",
        '[programs.web]\ncommand = ["x\\u0000y"]\n',
        [("$.programs.web.command", "must not contain a NUL character")],
    ),
    (
        "bad autorestart",
        P + "autorestart = 'sometimes'\n",
        [
            (
                "$.programs.web.autorestart",
                "must be one of 'always', 'on-failure', 'never', got 'sometimes'",
            )
        ],
    ),
    (
        "bad overflow",
        P + "log.overflow = 'drop'\n",
        [
            (
                "$.programs.web.log.overflow",
                "must be one of 'block', 'drop-oldest', 'drop-newest', got 'drop'",
            )
        ],
    ),
    (
        "empty log path",
        P + "log.stdout = ''\n",
        [("$.programs.web.log.stdout", "must not be empty")],
    ),
    (
        "merge with explicit stderr",
        P + "log = { merge = true, stderr = 'err.log' }\n",
        [
            (
                "$.programs.web.log.stderr",
                "cannot be set when merge = true (stderr goes into stdout)",
            )
        ],
    ),
    (
        "merge with stderr none",
        P + "log = { merge = true, stderr = 'none' }\n",
        [
            (
                "$.programs.web.log.stderr",
                "cannot be set when merge = true (stderr goes into stdout)",
            )
        ],
    ),
    (
        "two programs share a stdout file",
        "[programs.a]\ncommand = 'x'\nlog.stdout = 'out.log'\n"
        "[programs.b]\ncommand = 'x'\nlog.stdout = 'out.log'\n",
        [("$.programs.b.log.stdout", f"same file as $.programs.a.log.stdout ({BASE}/out.log)")],
    ),
    (
        "stdout is another program's auto stderr",
        "[programs.a]\ncommand = 'x'\n"
        "[programs.b]\ncommand = 'x'\nlog.stdout = 'logs/a.stderr.log'\n",
        [
            (
                "$.programs.b.log.stdout",
                f"same file as $.programs.a.log.stderr ({BASE}/logs/a.stderr.log)",
            )
        ],
    ),
    (
        "one program's stdout and stderr on one file",
        P + "log = { stdout = 'x.log', stderr = 'x.log' }\n",
        [("$.programs.web.log.stderr", f"same file as $.programs.web.log.stdout ({BASE}/x.log)")],
    ),
    (
        "TOML syntax error",
        "[programs.web]\ncommand = \n",
        [("$", "invalid TOML: Invalid value (at line 2, column 11)")],
    ),
    (
        "TOML duplicate table",
        "[daemon]\n[daemon]\n",
        [("$", "invalid TOML: Cannot declare ('daemon',) twice (at line 2, column 8)")],
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), [(t, e) for _, t, e in BAD], ids=[i for i, _, _ in BAD]
)
def test_bad_file_reports_path_and_message(text: str, expected: list[tuple[str, str]]) -> None:
    assert _problems(text) == expected


def test_every_problem_is_reported_in_file_order() -> None:
    text = """
[daemon]
socket_mode = "600"

[programs.web]
command = ["web"]
stop_timout = 3
stop_signal = "TREM"
exit_codes = [0, 300]

[programs.worker]
command = []
autorestart = "sometimes"
log = { merge = true, stderr = "x.log", queue_bytes = 1 }
"""
    assert _problems(text) == [
        ("$.daemon.socket_mode", "expected an integer, got a string"),
        ("$.programs.web.stop_timout", "unknown field"),
        ("$.programs.web.stop_signal", "unknown signal 'TREM'"),
        ("$.programs.web.exit_codes[1]", "must be <= 255"),
        ("$.programs.worker.command", "must not be empty"),
        (
            "$.programs.worker.autorestart",
            "must be one of 'always', 'on-failure', 'never', got 'sometimes'",
        ),
        ("$.programs.worker.log.queue_bytes", "must be >= 4096"),
        (
            "$.programs.worker.log.stderr",
            "cannot be set when merge = true (stderr goes into stdout)",
        ),
    ]


def test_three_mistakes_in_two_programs() -> None:
    text = """
[programs.a]
command = "x"
stop_timeout = -1
kill_timeout = "5"

[programs.b]
command = 3
"""
    assert _problems(text) == [
        ("$.programs.a.stop_timeout", "must be > 0"),
        ("$.programs.a.kill_timeout", "expected a number, got a string"),
        ("$.programs.b.command", "expected an array, got an integer"),
    ]


def test_error_message_lists_the_source_and_each_problem() -> None:
    with pytest.raises(ConfigError) as info:
        load('[daemon]\nbogus = 1\nsocket = ""', source="sl.toml", base_dir=BASE)
    assert info.value.exit_code == 2
    assert str(info.value) == (
        "sl.toml: 2 problems\n  $.daemon.bogus: unknown field\n  $.daemon.socket: must not be empty"
    )


def test_not_utf8() -> None:
    with pytest.raises(ConfigError) as info:
        _load_bytes(b"a = '\xff'\n")
    [problem] = info.value.problems
    assert problem.path == "$"
    assert problem.message.startswith("not UTF-8 text:")


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p / "missing.toml", "No such file or directory"),
        (lambda p: p, "Is a directory"),
    ],
)
def test_load_path_unreadable(tmp_path: Path, make: Any, reason: str) -> None:
    path = make(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_path(path)
    assert info.value.source == str(path)
    assert [(p.path, p.message) for p in info.value.problems] == [
        ("$", f"cannot read the file: {reason}")
    ]


def test_load_path_reports_problems_with_the_path_as_source(tmp_path: Path) -> None:
    path = tmp_path / "sl.toml"
    path.write_text("[daemon]\nx = 1\n")
    with pytest.raises(ConfigError) as info:
        load_path(os.fspath(path))
    assert info.value.source == str(path)


# ---------------------------------------------------------------------------------------------
# signal names


def test_signal_table_matches_this_platform() -> None:
    for name, number in signames.SIGNALS.items():
        assert getattr(signal, f"SIG{name}") == number, name


def test_signal_table_covers_every_classic_signal() -> None:
    classic = {
        s.name.removeprefix("SIG")
        for s in signal.Signals
        if s < signal.SIGRTMIN and s.name not in {"SIGIOT", "SIGPOLL", "SIGCLD"}
    }
    assert classic == set(signames.SIGNALS)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("TERM", "TERM"),
        ("SIGTERM", "TERM"),
        ("term", "TERM"),
        (" sigHup ", "HUP"),
        ("SIG", None),
        ("TREM", None),
        ("", None),
    ],
)
def test_normalise(text: str, name: str | None) -> None:
    assert signames.normalise(text) == name


def test_signal_number_and_name() -> None:
    assert signames.signal_number("SIGKILL") == 9
    assert signames.signal_number("usr2") == 12
    assert signames.signal_name(15) == "TERM"
    assert signames.signal_name(64) is None
    with pytest.raises(ValueError, match="unknown signal 'NOPE'"):
        signames.signal_number("NOPE")


def test_progress_table_is_read_with_from_as_its_key() -> None:
    from supervisord_lite.config import ProgressConfig

    program = _program('command = "x"\nprogress = { from = "stderr", format = "json" }')
    assert program.progress == ProgressConfig(source="stderr", format="json")
    assert program.notify_socket is True
    pattern = r"(?P<done>\d+)"
    program = _program(f'command = "x"\nprogress = {{ format = "regex", pattern = \'{pattern}\' }}')
    assert program.progress == ProgressConfig(format="regex", pattern=pattern)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('progress = { format = "regex" }', ("progress.pattern", "required with format = regex")),
        ('progress = { format = "regex", pattern = "(x" }', ("progress.pattern", "not a valid")),
        ('progress = { format = "regex", pattern = "(?P<x>y)" }', ("progress.pattern", "needs")),
        ('progress = { format = "json", pattern = "x" }', ("progress.pattern", "only with")),
        ('progress = { from = "std", format = "json" }', ("progress.from", "must be one of")),
        ('progress = { source = "stdout", format = "json" }', ("progress.source", "unknown")),
        ('progress = { from = "stdout" }', ("progress.format", "missing")),
        (
            'log.merge = true\nprogress = { from = "stderr", format = "json" }',
            ("progress.from", "needs log.stderr captured"),
        ),
        ("notify_socket = false\nready.notify = true", ("notify_socket", "must be true")),
    ],
)
def test_bad_progress_and_notify_socket_settings(body: str, expected: tuple[str, str]) -> None:
    [(path, message)] = _problems(f'[programs.p]\ncommand = "x"\n{body}\n')
    assert path == f"$.programs.p.{expected[0]}"
    assert message.startswith(expected[1]), message


def test_roles_come_from_uid_groups_and_allow_uids() -> None:
    daemon = load(
        "[daemon]\nallow_uids = [1001]\n"
        "[daemon.access]\nread = { uids = [1002], gids = [50] }\n"
        "control = { uids = [1003], gids = [60] }\n"
    ).daemon
    control, read = AccessRole.CONTROL, AccessRole.READ
    assert daemon.role_of(0, (0,), own_uid=0) is control
    assert daemon.role_of(999, (999,), own_uid=999) is control  # the daemon's own user
    assert daemon.role_of(1001, (1001,), own_uid=0) is control
    assert daemon.role_of(1003, (1003,), own_uid=0) is control
    assert daemon.role_of(2000, (2000, 60), own_uid=0) is control
    assert daemon.role_of(2000, (2000, 50, 60), own_uid=0) is control  # the higher role wins
    assert daemon.role_of(1002, (1002,), own_uid=0) is read
    assert daemon.role_of(2000, (50,), own_uid=0) is read
    assert daemon.role_of(2000, (2000,), own_uid=0) is None
