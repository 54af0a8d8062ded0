"""The Prometheus metrics (``[daemon.metrics]``, docs/metrics.md): the config, the counters,
and what a real daemon's scrape shows, in both formats, checked by ``promtool`` and against the
reference page.

``promtool`` comes from Debian's ``prometheus`` package (.ci/run installs it); where it is
missing, the test that needs it skips and says so.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
from typing import TYPE_CHECKING

import pytest
from prometheus_client.parser import text_string_to_metric_families

from supervisord_lite.config import MetricsConfig, load
from supervisord_lite.errors import ConfigError
from supervisord_lite.protocol import messages as m
from supervisord_lite.runtime.metrics.requests import RequestMeter
from supervisord_lite.runtime.metrics.runs import RunCounters
from supervisord_lite.store_records import EventRecorded, Outcome, RunEnded, RunStarted
from svctl import Client
from tests.daemon_harness import ROOT, running
from tests.runtime.metrics_helpers import (
    TCP,
    get,
    metrics_daemon,
    samples_of,
    scrape,
    scrape_until,
    value,
)

if TYPE_CHECKING:
    from pathlib import Path


PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is missing (Debian's prometheus package)"
)


# -- the config -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("listen", "expected"),
    [
        ("127.0.0.1:9105", "127.0.0.1:9105"),
        ("localhost:0", "localhost:0"),
        ("[::1]:9105", "[::1]:9105"),
        ("run/metrics.sock", "/base/run/metrics.sock"),
        ("/run/m.sock", "/run/m.sock"),
    ],
)
def test_listen_takes_host_port_or_a_socket_path(listen: str, expected: str) -> None:
    config = load(f'[daemon.metrics]\nlisten = "{listen}"\n', base_dir="/base")
    assert config.daemon.metrics == MetricsConfig(listen=expected)


def test_metrics_are_off_without_listen() -> None:
    assert load("").daemon.metrics.listen is None
    assert load("[daemon.metrics]\n").daemon.metrics.listen is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('listen = "9105"', ("$.daemon.metrics.listen", "expected HOST:PORT")),
        ('listen = "host:70000"', ("$.daemon.metrics.listen", "expected HOST:PORT")),
        ('listen = ""', ("$.daemon.metrics.listen", "must not be empty")),
        ("listen = 9105", ("$.daemon.metrics.listen", "expected a string, got an integer")),
        ('port = "x"', ("$.daemon.metrics.port", "unknown field")),
    ],
)
def test_a_bad_metrics_table_names_the_field(text: str, problem: tuple[str, str]) -> None:
    with pytest.raises(ConfigError) as info:
        load(f"[daemon.metrics]\n{text}\n")
    [(path, message)] = [(p.path, p.message) for p in info.value.problems]
    assert path == problem[0]
    assert message.startswith(problem[1])


# -- the counters -----------------------------------------------------------------------------


def test_run_counters_count_what_the_history_records() -> None:
    counters = RunCounters()
    for op in (
        RunStarted(run_id=1, program="web", pid=10, pgid=10, at=0.0),
        RunEnded(run_id=1, program="web", outcome=Outcome.FAILED, at=1.0, exit_code=3),
        EventRecorded(program="web", kind="spawn_failed", at=2.0),
        EventRecorded(program="web", kind="oom_killed", at=2.0),
        EventRecorded(program="web", kind="backoff", at=2.0),
        RunStarted(run_id=2, program="gone", pid=11, pgid=11, at=0.0),
    ):
        counters.observe(op)
    web = counters.get("web")
    assert (web.starts, web.spawn_failures, web.oom_kills) == (1, 1, 1)
    assert web.exits == {"completed": 0, "failed": 1, "stopped": 0, "killed": 0}
    counters.prune({"web"})
    assert set(counters.programs) == {"web"}
    assert counters.get("gone").starts == 0


async def test_requests_are_timed_to_their_first_reply() -> None:
    now = [0.0]
    meter = RequestMeter(clock=lambda: now[0])
    sent: list[m.ServerMessage] = []

    async def send(msg: m.ServerMessage) -> None:
        sent.append(msg)

    with meter.measure(m.Status(id=1), send) as measured:
        now[0] = 0.002
        await measured(m.StatusReply(id=1, programs=()))
        now[0] = 9.0
        await measured(m.End(id=1))
    with meter.measure(m.Stop(id=2, names=("x",)), send) as measured:
        await measured(m.Error(id=2, code=m.ErrorCode.NO_SUCH_PROGRAM, message="no"))
    with meter.measure(m.Ping(id=3), send):
        pass
    assert len(sent) == 3
    assert meter.outcomes == {
        ("status", "ok"): 1,
        ("stop", "no_such_program"): 1,
        ("ping", "cancelled"): 1,
    }
    status = meter.latencies["status"]
    assert status.total == 0.002
    assert dict(status.cumulative())["0.001"] == 0
    assert dict(status.cumulative())["0.0025"] == 1
    assert dict(status.cumulative())["+Inf"] == 1
    assert "ping" not in meter.latencies


# -- what a scrape shows ----------------------------------------------------------------------


@pytest.mark.parametrize("containment", ["auto", "subreaper"])
def test_a_scrape_shows_each_program(tmp_path: Path, containment: str) -> None:
    p = "supervisord_lite_program_"
    with metrics_daemon(tmp_path, f'containment = "{containment}"\n' + TCP) as daemon:
        written = p + "log_written_bytes_total"
        scrape_until(daemon, written, 5, program="talker", stream="stderr")
        samples = scrape_until(daemon, written, 6, program="talker", stream="stdout")
        with Client(daemon.socket, timeout=20) as client:
            measured = {p.name: p.usage for p in client.status(usage=True)}
            plain = client.status("web")[0].usage
    # A status that asks for usage gets what a scrape shows (svctl top shows it).
    web = measured["web"]
    assert web is not None
    assert (web.processes >= 1, web.memory_bytes > 0, web.cpu_seconds >= 0) == (True,) * 3
    assert (measured["crasher"], plain) == (None, None)
    assert value(samples, p + "up", program="web") == 1
    assert value(samples, p + "ready", program="web") == 1
    assert value(samples, p + "up", program="crasher") == 0
    assert value(samples, p + "state", program="web", state="RUNNING") == 1
    assert value(samples, p + "state", program="web", state="STOPPED") == 0
    assert value(samples, p + "state", program="crasher", state="EXITED") == 1
    assert value(samples, p + "starts_total", program="crasher") == 1
    assert value(samples, p + "exits_total", program="crasher", outcome="failed") == 1
    assert value(samples, p + "exits_total", program="web", outcome="failed") == 0
    assert value(samples, p + "last_exit_code", program="crasher") == 3
    assert value(samples, p + "uptime_seconds", program="web") >= 0
    assert (p + "uptime_seconds", frozenset({("program", "crasher")})) not in samples
    # The run's resources: its processes (the sh that exec'd sleep, or sleep itself).
    assert value(samples, p + "processes", program="web") >= 1
    assert value(samples, p + "memory_bytes", program="web") > 0
    assert value(samples, p + "cpu_seconds_total", program="web") >= 0
    assert value(samples, p + "log_read_bytes_total", program="talker", stream="stdout") == 6
    assert value(samples, p + "log_written_bytes_total", program="talker", stream="stderr") == 5
    assert value(samples, p + "log_queue_capacity_bytes", program="talker", stream="stdout") > 0
    [build] = [dict(k[1]) for k in samples if k[0] == "supervisord_lite_build_info"]
    assert build["containment"] in ("cgroup", "subreaper")
    if containment == "subreaper":
        assert build["containment"] == "subreaper"
    assert value(samples, "process_open_fds") > 0
    assert value(samples, "supervisord_lite_event_loop_lag_seconds") >= 0


def test_probes_show_health_and_their_last_look(tmp_path: Path) -> None:
    # The ready probe fails its first look (it leaves a file behind), then passes; the
    # counter program reports progress on its stdout.
    programs = r"""
[programs.probed]
command = ["sleep", "3600"]
stop_timeout = 5
ready = { exec = ["sh", "-c", "test -e looked || { touch looked; exit 1; }"], interval = 0.1 }
liveness = { exec = ["true"], interval = 0.2 }

[programs.counter]
command = ["sh", "-c", "echo '{\"progress\": {\"done\": 3, \"total\": 10}}'; exec sleep 3600"]
stop_timeout = 5
progress = { from = "stdout", format = "json" }
"""
    p = "supervisord_lite_program_"
    with running(tmp_path, programs, TCP) as daemon:
        with Client(daemon.socket, timeout=20) as client:
            client.wait("probed", state="RUNNING", timeout=15)
        scrape_until(daemon, p + "progress_total", 10, program="counter")
        samples = scrape_until(daemon, p + "healthy", 1, program="probed")
    assert value(samples, p + "ready", program="probed") == 1
    assert value(samples, p + "probe_ok", program="probed") == 1
    assert value(samples, p + "probe_latency_seconds", program="probed") >= 0
    assert value(samples, p + "probe_time_seconds", program="probed") > 0
    assert value(samples, p + "probe_failures_total", program="probed", probe="ready") == 1
    assert value(samples, p + "probe_failures_total", program="probed", probe="liveness") == 0
    assert value(samples, p + "progress_done", program="counter") == 3
    assert (p + "probe_failures_total", frozenset({("program", "counter")})) not in samples


def test_restarts_and_stops_are_counted(tmp_path: Path) -> None:
    with metrics_daemon(tmp_path) as daemon:
        with Client(daemon.socket, timeout=20) as client:
            client.restart("web")
            client.restart("web")
            client.stop("talker")
            client.history("web")  # answered once every record before it is written
        samples = samples_of(scrape(daemon))
    p = "supervisord_lite_program_"
    assert value(samples, p + "restarts_total", program="web") == 2
    assert value(samples, p + "starts_total", program="web") == 3
    assert value(samples, p + "exits_total", program="web", outcome="stopped") == 2
    assert value(samples, p + "exits_total", program="talker", outcome="stopped") == 1
    assert value(samples, p + "wanted_up", program="talker") == 0
    assert value(samples, p + "state", program="talker", state="STOPPED") == 1
    writes = "supervisord_lite_store_write_duration_seconds"
    assert value(samples, writes + "_count") >= 1
    assert value(samples, writes + "_bucket", le="+Inf") == value(samples, writes + "_count")


def test_requests_are_counted_by_op_and_outcome(tmp_path: Path) -> None:
    with metrics_daemon(tmp_path) as daemon:
        with Client(daemon.socket, timeout=20) as client:
            client.status()
            with contextlib.suppress(Exception):
                client.stop("nope")
        samples = samples_of(scrape(daemon))
    requests = "supervisord_lite_requests_total"
    assert value(samples, requests, op="status", outcome="ok") >= 1
    assert value(samples, requests, op="stop", outcome="no_such_program") == 1
    count = "supervisord_lite_request_duration_seconds_count"
    assert value(samples, count, op="stop") == 1
    inf = value(samples, "supervisord_lite_request_duration_seconds_bucket", op="stop", le="+Inf")
    assert inf == 1
    assert value(samples, "supervisord_lite_control_connections_total") >= 2


@needs_promtool
def test_the_exposition_passes_promtool(tmp_path: Path) -> None:
    with metrics_daemon(tmp_path) as daemon:
        with Client(daemon.socket, timeout=20) as client:
            client.status()
            client.restart("web")
        text = scrape(daemon)
    assert PROMTOOL is not None
    checked = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_openmetrics_when_the_accept_header_asks(tmp_path: Path) -> None:
    with metrics_daemon(tmp_path) as daemon:
        accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
        status, headers, body = get(daemon, accept)
        plain_status, plain_headers, _ = get(daemon)
    assert status == 200
    assert headers["content-type"].startswith("application/openmetrics-text; version=1.0.0")
    assert body.endswith("# EOF\n")
    assert plain_status == 200
    assert plain_headers["content-type"].startswith("text/plain; version=0.0.4")


def test_every_metric_is_documented(tmp_path: Path) -> None:
    with metrics_daemon(tmp_path) as daemon:
        with Client(daemon.socket, timeout=20) as client:
            client.status()
        text = scrape(daemon)
    suffix = {"counter": "_total", "info": "_info"}
    exposed = {f.name + suffix.get(f.type, "") for f in text_string_to_metric_families(text)}
    page = (ROOT / "docs" / "metrics.md").read_text()
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", page, re.MULTILINE))
    assert exposed == documented
