"""``svctl analyze`` and ``svctl graph``: the pure arithmetic and drawing, then both through
the real svctl against a real daemon starting a chain."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from supervisord_lite.protocol.messages import ProgramStatus
from supervisord_lite.vocabulary import ProgramState, Want
from svctl import analyze, graph
from tests.daemon_harness import running, svctl

if TYPE_CHECKING:
    from pathlib import Path


def _status(
    name: str, asked: float, spawned: float, ready: float | None, **deps: str
) -> ProgramStatus:
    return ProgramStatus(
        name=name,
        state=ProgramState.RUNNING if ready is not None else ProgramState.STARTING,
        want=Want.UP,
        pid=1,
        started_at=spawned,
        uptime=1.0,
        exit_code=None,
        exit_signal=None,
        asked_at=asked,
        ready_since=ready,
        depends_on=deps,
    )


PROGRAMS = [
    _status("web", 100.0, 102.5, 103.0, db="ready", cache="started"),
    _status("db", 100.0, 100.1, 102.4),
    _status("cache", 100.0, 100.1, 100.2),
    _status("worker", 100.0, 100.1, None),
]


def test_times_are_relative_to_the_first_ask_and_ordered_by_ready() -> None:
    origin, rows = analyze.start_times(PROGRAMS)
    assert origin == 100.0
    assert [r.name for r in rows] == ["cache", "db", "web", "worker"]
    web = rows[2]
    assert (round(web.waited or 0, 3), round(web.startup or 0, 3)) == (2.5, 0.5)
    assert rows[3].ready is None
    assert rows[3].startup is None


def test_the_chain_follows_the_dependency_met_last() -> None:
    _, rows = analyze.start_times(PROGRAMS)
    assert [r.name for r in analyze.chain(rows)] == ["web", "db"]  # db was ready after cache
    assert [r.name for r in analyze.chain(rows, "cache")] == ["cache"]
    lines = analyze.render_chain(analyze.chain(rows))
    assert lines == ["web @3.000s +0.500s", "└─db @2.400s +2.300s"]


def test_the_graph_in_each_format() -> None:
    needs = {p.name: p.depends_on for p in PROGRAMS}
    assert json.loads(graph.render(needs, "json"))["edges"] == [
        {"from": "cache", "to": "web", "condition": "started"},
        {"from": "db", "to": "web", "condition": "ready"},
    ]
    assert '"db" -> "web" [label="ready"];' in graph.render(needs, "dot")
    assert "p_db -->|ready| p_web" in graph.render(needs, "mermaid")


CHAIN = """\
[programs.db]
command = ["sleep", "3600"]
start_seconds = 0.3

[programs.web]
command = ["sleep", "3600"]
start_seconds = 0
depends_on = { db = "ready" }
"""


def test_analyze_and_graph_through_svctl(tmp_path: Path) -> None:
    with running(tmp_path, CHAIN) as daemon:
        assert svctl(daemon, "wait", "web", "--ready", "--timeout", "30").returncode == 0
        out = svctl(daemon, "analyze", "--json")
        assert out.returncode == 0, out.stderr
        report = json.loads(out.stdout)
        assert report["critical_chain"] == ["web", "db"]
        web = next(p for p in report["programs"] if p["name"] == "web")
        assert web["waited"] >= 0.3  # it waited for db to be ready
        text = svctl(daemon, "analyze").stdout
        assert "└─db @" in text
        dot = svctl(daemon, "graph", "--format", "dot").stdout
        assert '"db" -> "web" [label="ready"];' in dot
        unknown = svctl(daemon, "analyze", "nosuch")
        assert unknown.returncode == 1
        assert "nosuch" in unknown.stderr
