"""Replicas and handed-over sockets in the config, pure: names, expansion, the checks, the
reload plan's ``scale``, and the store's kept counts."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from supervisord_lite.config import load
from supervisord_lite.errors import ConfigError
from supervisord_lite.reloadplan import plan
from supervisord_lite.replicas import instances, program_of, split_instance
from supervisord_lite.store import Store
from supervisord_lite.store_records import EventRecorded, ReplicasSet

if TYPE_CHECKING:
    from pathlib import Path

WEB = """
[programs.web]
command = ["./api", "--port=80{replica}", "--id={name}-{replica}", "{other}"]
replicas = 3
env = { PORT = "80{replica}", KEEP = "{x}" }
"""


def problems(text: str) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        load(text, base_dir="/srv")
    return [(p.path, p.message) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("name", "split"),
    [
        ("web:0", ("web", 0)),
        ("web:12", ("web", 12)),
        ("web", None),
        ("web:", None),
        (":1", None),
        ("web:01", None),
        ("web:-1", None),
    ],
)
def test_instance_names(name: str, split: tuple[str, int] | None) -> None:
    assert split_instance(name) == split
    assert program_of(name) == (split[0] if split else name)


def test_each_instance_expands_replica_and_name_only() -> None:
    config = load(WEB, base_dir="/srv")
    web = config.programs["web"]
    made = instances(web)
    assert [i.name for i in made] == ["web:0", "web:1", "web:2"]
    assert made[2].command == ("./api", "--port=802", "--id=web-2", "{other}")
    assert made[1].env == {"PORT": "801", "KEEP": "{x}"}
    assert [i.log.stdout for i in made] == [f"/srv/logs/web:{i}.stdout.log" for i in range(3)]
    assert [i.name for i in instances(web, 5)] == [f"web:{i}" for i in range(5)]
    assert instances(web, 0) == ()


def test_a_program_without_replicas_is_not_expanded() -> None:
    config = load('[programs.one]\ncommand = ["echo", "{replica}"]\n', base_dir="/srv")
    [one] = instances(config.programs["one"])
    assert one is config.programs["one"]
    assert one.log.stdout == "/srv/logs/one.stdout.log"


def test_replica_mistakes_are_config_errors() -> None:
    found = problems(
        """
[programs.web]
command = ["api"]
replicas = 2
log = { stdout = "/var/log/web.log" }
[programs.db]
command = ["db"]
replicas = 1001
[programs.client]
command = ["c"]
depends_on = { web = "ready" }
"""
    )
    assert (
        "$.programs.web.log.stdout",
        "each instance needs a file of its own: put {replica} in the path",
    ) in found
    assert any(path == "$.programs.db.replicas" for path, _ in found)
    assert (
        "$.programs.client.depends_on.web",
        "'web' has replicas: depending on replicated programs is not supported",
    ) in found


def test_sockets_are_checked_and_resolved() -> None:
    config = load(
        """
[programs.web]
command = ["api"]
[[programs.web.sockets]]
listen = "tcp://[::1]:8000"
name = "http"
[[programs.web.sockets]]
listen = "run/web.sock"
mode = 0o600
""",
        base_dir="/srv",
    )
    first, second = config.programs["web"].sockets
    assert (first.listen, first.name, first.backlog) == ("tcp://[::1]:8000", "http", 1024)
    assert (second.listen, second.mode) == ("/srv/run/web.sock", 0o600)


def test_socket_mistakes_are_config_errors() -> None:
    found = problems(
        """
[programs.web]
command = ["api"]
[[programs.web.sockets]]
listen = "8001"
name = "a:b"
[[programs.web.sockets]]
listen = "tcp://host:99999"
"""
    )
    assert [path for path, _ in found] == [
        "$.programs.web.sockets[0].listen",
        "$.programs.web.sockets[0].name",
        "$.programs.web.sockets[1].listen",
    ]
    found = problems(
        """
[programs.web]
command = ["api"]
ready = { fd = 4 }
sockets = [{ listen = "tcp://0.0.0.0:8000" }, { listen = "tcp://0.0.0.0:8001" }]
[programs.other]
command = ["o"]
sockets = [{ listen = "tcp://0.0.0.0:8000" }]
"""
    )
    assert sorted(found) == [
        (
            "$.programs.other.sockets[0].listen",
            "same address as $.programs.web.sockets[0].listen (tcp://0.0.0.0:8000)",
        ),
        ("$.programs.web.ready.fd", "fd 4 is taken by a socket (fds 3 to 4)"),
    ]


def test_the_plan_scales_on_a_replicas_change_and_restarts_on_a_toggle() -> None:
    old = load(WEB, base_dir="/srv")
    more = load(WEB.replace("replicas = 3", "replicas = 5\nrolling = true"), base_dir="/srv")
    [web] = plan(old, more).programs
    assert {(c.field, c.effect) for c in web.changes} == {("replicas", "scale"), ("rolling", "hot")}
    assert (web.restart, web.scale) == (False, True)
    single = load(WEB.replace("replicas = 3", ""), base_dir="/srv")
    [web] = plan(old, single).programs
    assert web.restart
    assert ("replicas", "3", "(none)", "restart") in {
        (c.field, c.old, c.new, c.effect) for c in web.changes
    }


def test_the_store_keeps_counts_and_finds_instances_history(tmp_path: Path) -> None:
    with Store.open(tmp_path / "state.db") as store:
        store.apply([ReplicasSet(program="web", count=5, config_count=3)])
        store.apply([ReplicasSet(program="web", count=4, config_count=3)])
        store.apply([ReplicasSet(program="gone", count=1, config_count=1)])
        store.apply([ReplicasSet(program="gone", count=None)])
        assert store.replica_counts() == {"web": (4, 3)}
        store.apply(
            [
                EventRecorded(program=name, kind="note", at=1.0)
                for name in ("web", "web:0", "web:11", "web2", "webx:1", "we")
            ]
        )
        assert [e.program for e in store.history("web", 10, instances=True)] == [
            "web",
            "web:0",
            "web:11",
        ]
        assert [e.program for e in store.history("web", 10)] == ["web"]
