"""The reload plan: every config field classified once, and what each change does."""

from __future__ import annotations

import msgspec
import pytest

from supervisord_lite import config
from supervisord_lite.config import load
from supervisord_lite.reloadplan import (
    DAEMON_FIELDS,
    PROGRAM_FIELDS,
    DaemonChange,
    FieldChange,
    plan,
)

BASE = "/srv/app"


def _fields(struct: type[msgspec.Struct], prefix: str = "") -> set[str]:
    names: set[str] = set()
    for field in msgspec.structs.fields(struct):
        if field.name == "name":
            continue
        if field.type in (config.LogConfig, config.Backoff, config.StartLimit, config.RestartWhen):
            names |= _fields(field.type, f"{field.name}.")
        else:
            names.add(prefix + field.name)
    return names


def test_every_program_field_is_classified() -> None:
    assert set(PROGRAM_FIELDS) == _fields(config.ProgramConfig)


def test_every_daemon_field_is_classified() -> None:
    assert set(DAEMON_FIELDS) == _fields(config.DaemonConfig)


OLD = """
[programs.keep]
command = "k"
[programs.edit]
command = "e"
priority = 5
env = { TOKEN = "s3cret", KEEP = "1" }
[programs.gone]
command = "g"
"""


def _plan(old: str, new: str) -> object:
    return plan(load(old, base_dir=BASE), load(new, base_dir=BASE))


def test_fates() -> None:
    new = OLD.replace('[programs.gone]\ncommand = "g"', '[programs.fresh]\ncommand = "f"')
    result = plan(load(OLD, base_dir=BASE), load(new, base_dir=BASE))
    assert result.names("added") == ("fresh",)
    assert result.names("removed") == ("gone",)
    assert result.names("unchanged") == ("edit", "keep")
    assert result.names("changed") == ()


@pytest.mark.parametrize(
    ("edit", "changes", "restart"),
    [
        ("priority = 5", [], False),
        ("priority = 9", [FieldChange(field="priority", old="5", new="9", effect="hot")], False),
        (
            'priority = 5\nstop_signal = "INT"',
            [FieldChange(field="stop_signal", old="'TERM'", new="'INT'", effect="hot")],
            False,
        ),
        (
            "priority = 5\nbackoff.max = 60",
            [FieldChange(field="backoff.max", old="30.0", new="60.0", effect="hot")],
            False,
        ),
        (
            "priority = 5\nlog.max_bytes = 1024",
            [FieldChange(field="log.max_bytes", old="52428800", new="1024", effect="hot")],
            False,
        ),
        (
            'priority = 5\nlog.stdout = "/tmp/x.log"',
            [
                FieldChange(
                    field="log.stdout",
                    old="'/srv/app/logs/edit.stdout.log'",
                    new="'/tmp/x.log'",
                    effect="restart",
                )
            ],
            True,
        ),
        (
            "priority = 5\ncwd = '/opt'",
            [FieldChange(field="cwd", old="(none)", new="'/opt'", effect="restart")],
            True,
        ),
    ],
)
def test_changes(edit: str, changes: list[FieldChange], restart: bool) -> None:
    new = OLD.replace("priority = 5", edit)
    [edited] = [
        p
        for p in plan(load(OLD, base_dir=BASE), load(new, base_dir=BASE)).programs
        if p.name == "edit"
    ]
    assert list(edited.changes) == changes
    assert edited.restart is restart


def test_env_values_are_masked() -> None:
    new = OLD.replace(
        'env = { TOKEN = "s3cret", KEEP = "1" }', 'env = { TOKEN = "0ther", NEW = "x", KEEP = "1" }'
    )
    [edited] = [
        p
        for p in plan(load(OLD, base_dir=BASE), load(new, base_dir=BASE)).programs
        if p.name == "edit"
    ]
    assert list(edited.changes) == [
        FieldChange(field="env.NEW", old="(unset)", new="***", effect="restart"),
        FieldChange(field="env.TOKEN", old="***", new="***", effect="restart"),
    ]
    assert "s3cret" not in repr(edited)
    assert "0ther" not in repr(edited)


def test_daemon_changes_say_whether_they_apply_live() -> None:
    old = '[daemon]\nsocket = "a.sock"\nshutdown_timeout = 5\n'
    new = '[daemon]\nsocket = "b.sock"\nshutdown_timeout = 9\n'
    result = plan(load(old, base_dir=BASE), load(new, base_dir=BASE))
    assert result.daemon == (
        DaemonChange(
            field="socket",
            old="'/srv/app/a.sock'",
            new="'/srv/app/b.sock'",
            effect="daemon-restart",
        ),
        DaemonChange(field="shutdown_timeout", old="5.0", new="9.0", effect="live"),
    )
    assert result.needs_daemon_restart == ("socket",)


def test_webhook_changes_apply_live_and_hide_their_secrets() -> None:
    hook = '[[webhooks]]\nname = "ops"\nurl = "http://x/"\nsecret = "{}"\n'
    old, same, new = hook.format("s3cret"), hook.format("s3cret"), hook.format("0ther")
    assert plan(load(old, base_dir=BASE), load(same, base_dir=BASE)).daemon == ()
    more = new + '[[webhooks]]\nurl = "http://y/"\n'
    result = plan(load(old, base_dir=BASE), load(more, base_dir=BASE))
    assert result.daemon == (
        DaemonChange(field="webhooks", old="ops", new="ops, http://y/", effect="live"),
    )
    changed = plan(load(old, base_dir=BASE), load(new, base_dir=BASE))
    assert changed.daemon[0].new == "ops (changed)"
    assert "s3cret" not in repr(changed)
    assert result.needs_daemon_restart == ()


def test_a_moved_log_dir_restarts_only_programs_with_auto_log_paths() -> None:
    old = '[daemon]\nlog_dir = "logs"\n[programs.auto]\ncommand = "a"\n'
    old += '[programs.fixed]\ncommand = "f"\nlog = { stdout = "/var/log/f.out", stderr = "none" }\n'
    new = old.replace('log_dir = "logs"', 'log_dir = "logs2"')
    result = plan(load(old, base_dir=BASE), load(new, base_dir=BASE))
    restart = {p.name: p.restart for p in result.programs}
    assert restart == {"auto": True, "fixed": False}
    assert [c.effect for c in result.daemon] == ["live"]
