"""supervisord configs translated: every option, the docs' sample, realistic configs started."""

from __future__ import annotations

import configparser
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from supervisord_lite import convert
from supervisord_lite.config import load
from tests.daemon_harness import ROOT, running, svctl

HERE = Path(__file__).resolve().parent


def _translate(text: str, **kwargs: object) -> convert.Conversion:
    parser = configparser.RawConfigParser(inline_comment_prefixes=(";", "#"))
    parser.read_string(text)
    return convert.translate([("/etc/supervisor/x.conf", parser)], **kwargs)  # type: ignore[arg-type]


def _program(text: str, name: str = "p") -> tuple[dict[str, object], list[str]]:
    command = "" if text.startswith("command=") else "command=sleep 1\n"
    done = _translate(f"[program:{name}]\n{command}{text}")
    programs = done.config["programs"]
    assert isinstance(programs, dict)
    return programs.get(name, {}), [n.message for n in done.notes]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("command=/usr/bin/app --port 80", {"command": ["/usr/bin/app", "--port", "80"]}),
        ("priority=999", {"priority": 100}),
        ("priority=1", {"priority": 1098}),
        ("autostart=false", {"autostart": False}),
        ("startsecs=5", {"start_seconds": 5.0}),
        ("startretries=7", {"start_retries": 7}),
        ("autorestart=true", {"autorestart": "always"}),
        ("autorestart=false", {"autorestart": "never"}),
        ("autorestart=unexpected", {"autorestart": "on-failure"}),
        ("exitcodes=0,2", {"exit_codes": [0, 2]}),
        ("stopsignal=quit", {"stop_signal": "QUIT"}),
        ("stopwaitsecs=3", {"stop_timeout": 3.0}),
        ("user=www-data", {"user": "www-data"}),
        ("directory=/srv/app", {"cwd": "/srv/app"}),
        ("umask=022", {"umask": 0o22}),
        ('environment=A="1 2",B=x', {"env": {"A": "1 2", "B": "x"}}),
        ("redirect_stderr=true", {"log": {"merge": True}}),
        ("stdout_logfile=AUTO", {"log": {"stdout": "auto"}}),
        ("stdout_logfile=NONE", {"log": {"stdout": "none"}}),
        ("stdout_logfile=/dev/stdout", {"log": {"stdout": "inherit"}}),
        ("stderr_logfile=/dev/stderr", {"log": {"stderr": "inherit"}}),
        ("stdout_logfile=/var/log/p.log", {"log": {"stdout": "/var/log/p.log"}}),
        ("stdout_logfile_maxbytes=50MB", {"log": {"max_bytes": 50 * 1024 * 1024}}),
        ("stdout_logfile_maxbytes=0", {"log": {"max_bytes": 0}}),
        ("stdout_logfile_backups=4", {"log": {"backups": 4}}),
        ("stderr_logfile_maxbytes=1KB", {"log": {"max_bytes": 1024}}),
        ("stderr_logfile_backups=2", {"log": {"backups": 2}}),
    ],
)
def test_each_translated_option(line: str, expected: dict[str, object]) -> None:
    table, notes = _program(line)
    for key, value in expected.items():
        assert table[key] == value
    assert notes == []


def test_every_supervisord_program_option_is_translated_or_explained() -> None:
    samples = {
        "numprocs": "1",
        "numprocs_start": "0",
        "process_name": "%(program_name)s",
        "environment": "A=1",
        "command": "sleep 1",
    }
    for option, rule in convert.PROGRAM_OPTIONS.items():
        _, notes = _program(f"{option}={samples.get(option, '1')}")
        if isinstance(rule, tuple):
            assert any(n.startswith(f"{option}: not translated: ") for n in notes), option
        else:
            assert not any(option in n for n in notes), (option, notes)


def test_unknown_options_and_sections_are_reported() -> None:
    done = _translate("[program:p]\ncommand=x\nbogus=1\n[weird]\na=1\n[fcgi-program:f]\n")
    messages = [str(n) for n in done.notes]
    assert "/etc/supervisor/x.conf [program:p]: bogus: unknown option, not translated" in messages
    assert "/etc/supervisor/x.conf [weird]: unknown section, not translated" in messages
    assert any("[fcgi-program:f]: not translated: no FastCGI" in m for m in messages)


def test_expansions() -> None:
    done = _translate(
        "[program:app]\ncommand=run %(program_name)s %(ENV_STAGE)s %(host_node_name)s"
        " %(here)s %(nope)s\n",
        environ={"STAGE": "prod"},
        hostname="box1",
    )
    programs = done.config["programs"]
    assert isinstance(programs, dict)
    assert programs["app"]["command"] == [
        "run",
        "app",
        "prod",
        "box1",
        "/etc/supervisor",
        "%(nope)s",
    ]
    assert [str(n) for n in done.notes] == [
        "/etc/supervisor/x.conf [program:app]: %(nope)s: unknown expansion, left as written"
    ]


def test_numprocs_becomes_one_program_per_process() -> None:
    done = _translate(
        "[program:q]\ncommand=consume --id %(process_num)02d\n"
        "process_name=%(program_name)s_%(process_num)02d\nnumprocs=3\nnumprocs_start=1\n"
    )
    programs = done.config["programs"]
    assert isinstance(programs, dict)
    assert {n: p["command"] for n, p in programs.items()} == {
        "q_01": ["consume", "--id", "01"],
        "q_02": ["consume", "--id", "02"],
        "q_03": ["consume", "--id", "03"],
    }
    assert [n.message for n in done.notes] == [
        "numprocs = 3: translated as 3 programs (q_01, q_02, q_03)"
    ]


def test_numprocs_without_process_num_is_refused_as_supervisord_does() -> None:
    _, notes = _program("numprocs=2")
    assert notes == [
        "numprocs > 1 needs %(process_num)... in process_name (supervisord refuses it too);"
        " translated as one program"
    ]


@pytest.mark.parametrize("name", ["sample_supervisord.conf", "webapp.conf", "consumer.conf"])
def test_real_configs_translate_to_valid_configs(name: str, tmp_path: Path) -> None:
    source = tmp_path / name
    shutil.copytree(HERE, tmp_path, dirs_exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "supervisord_lite", "convert", str(source)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    target = tmp_path / "lite.toml"
    target.write_text(done.stdout)
    check = subprocess.run(
        [sys.executable, "-m", "supervisord_lite", "-c", str(target), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert check.returncode == 0, check.stderr + done.stdout
    config = load(done.stdout, base_dir=str(tmp_path))
    assert config.programs
    for line in done.stderr.splitlines():
        assert line.startswith("supervisord-lite convert: ")


def test_the_sample_includes_its_conf_d(tmp_path: Path) -> None:
    config = load(
        convert.to_toml(
            convert.translate(convert.read_config(str(HERE / "sample_supervisord.conf"))), "s"
        )
    )
    assert set(config.programs) == {"theprogramname", "extra"}
    assert config.programs["extra"].log.stdout == "inherit"
    assert config.daemon.socket_mode == 0o700
    assert config.programs["theprogramname"].umask == 0o22


def test_a_translated_queue_consumer_starts(tmp_path: Path) -> None:
    done = convert.translate(convert.read_config(str(HERE / "consumer.conf")))
    text = convert.to_toml(done, "consumer.conf")
    with running(tmp_path, programs=text) as daemon:
        status = svctl(
            daemon,
            "wait",
            "consumer-1",
            "consumer-2",
            "consumer-3",
            "--state",
            "running",
            "--timeout",
            "20",
        )
        assert status.returncode == 0, status.stderr + daemon.log()
        listed = svctl(daemon, "status", "--json")
        flat = json.loads(listed.stdout)["programs"]
        assert {r["name"]: r["state"] for r in flat} == {
            "consumer-1": "RUNNING",
            "consumer-2": "RUNNING",
            "consumer-3": "RUNNING",
        }


@pytest.mark.parametrize(
    ("content", "says"),
    [(None, "cannot read"), ("[program:x\ncommand=y\n", "not a supervisord config")],
)
def test_unreadable_configs_exit_2(tmp_path: Path, content: str | None, says: str) -> None:
    path = tmp_path / "s.conf"
    if content is not None:
        path.write_text(content)
    done = subprocess.run(
        [sys.executable, "-m", "supervisord_lite", "convert", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert says in done.stderr
    assert "Traceback" not in done.stderr


def test_toml_output_quotes_odd_names_and_writes_modes_in_octal() -> None:
    done = _translate("[program:a.b]\ncommand=x\numask=077\n")
    text = convert.to_toml(done, "x.conf")
    assert '[programs."a.b"]' in text
    assert "umask = 0o77" in text
    assert load(text).programs["a.b"].umask == 0o77


def test_the_migration_guide_maps_every_program_option() -> None:
    guide = (ROOT / "docs" / "migrating-from-supervisord.md").read_text()
    for option in convert.PROGRAM_OPTIONS:
        assert f"| `{option}` |" in guide, option
