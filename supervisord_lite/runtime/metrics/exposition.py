"""A scrape as Prometheus metric families, and the exposition a scraper asked for.

prometheus-client does the formats: its ``CollectorRegistry`` with a custom collector over
one ``Scrape`` (built fresh for each scrape, so nothing is kept or sampled between scrapes),
its ``ProcessCollector`` for the daemon's own ``process_*`` metrics (CPU, memory, open fds),
and ``choose_encoder`` to answer the Prometheus text format or OpenMetrics by the scrape's
``Accept`` header. Every metric is listed in docs/metrics.md; a test keeps the two in step.

``render`` reads /proc and cgroup files: it runs in a worker thread.
"""

from __future__ import annotations

import platform
import signal
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
)
from prometheus_client.exposition import choose_encoder

from supervisord_lite.runtime.metrics.runs import OUTCOMES
from supervisord_lite.runtime.metrics.usage import measure
from supervisord_lite.vocabulary import ProgramState, Want

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prometheus_client.metrics_core import Metric

    from supervisord_lite.protocol.messages import ProgramStatus
    from supervisord_lite.runtime.metrics.scrape import Scrape

P = "supervisord_lite_"
_PROGRAM = ["program"]
_STREAM = ["program", "stream"]

#: The log metrics, per program and stream: (is a counter, name, help, ``LogStreamStats`` field).
LOG_METRICS: tuple[tuple[bool, str, str, str], ...] = (
    (True, "program_log_read_bytes_total", "Bytes read from the stream's pipe.", "bytes_read"),
    (True, "program_log_written_bytes_total", "Bytes written to the log file.", "bytes_written"),
    (
        True,
        "program_log_dropped_bytes_total",
        "Bytes lost to the overflow policy or to failed writes.",
        "bytes_dropped",
    ),
    (False, "program_log_queue_bytes", "Bytes queued for the log file now.", "depth"),
    (False, "program_log_queue_peak_bytes", "Most bytes ever queued at once.", "peak_depth"),
    (False, "program_log_queue_capacity_bytes", "The queue's bound (queue_bytes).", "capacity"),
    (
        True,
        "program_log_held_back_total",
        "Times the block policy stopped reading the pipe.",
        "held_back",
    ),
    (True, "program_log_write_errors_total", "Writes to the log file that failed.", "write_errors"),
    (False, "program_log_followers", "Clients following the stream now.", "followers"),
    (True, "program_log_lagged_total", "Times a follower fell behind.", "lagged"),
    (True, "program_log_lagged_bytes_total", "Bytes followers missed.", "lagged_bytes"),
)


def signal_number(name: str) -> int | None:
    """``"KILL"`` -> 9; a bare number stays a number; None for a name this host lacks."""
    if name.isdigit():
        return int(name)
    try:
        return int(signal.Signals[f"SIG{name}"])
    except KeyError:
        return None


def _gauge(name: str, doc: str, labels: list[str] = _PROGRAM) -> GaugeMetricFamily:
    return GaugeMetricFamily(P + name, doc, labels=labels)


def _counter(name: str, doc: str, labels: list[str] = _PROGRAM) -> CounterMetricFamily:
    return CounterMetricFamily(P + name, doc, labels=labels)


class ScrapeCollector:
    """The metric families of one scrape (see docs/metrics.md for each)."""

    def __init__(self, scrape: Scrape) -> None:
        self.scrape = scrape

    def collect(self) -> Iterator[Metric]:
        yield from self._programs(self.scrape.programs)
        yield from self._logs(self.scrape.programs)
        yield from self._daemon()

    def _programs(self, programs: tuple[ProgramStatus, ...]) -> Iterator[Metric]:
        s = self.scrape
        up = _gauge("program_up", "1 while the program's leader process is alive, else 0.")
        ready = _gauge(
            "program_ready", "1 while the program is ready (RUNNING: its probe passed), else 0."
        )
        healthy = _gauge(
            "program_healthy",
            "1 while its liveness probe passes, 0 once it failed; absent without one.",
        )
        probe_ok = _gauge("program_probe_ok", "1 if the last probe passed, else 0.")
        probe_latency = _gauge("program_probe_latency_seconds", "How long the last probe took.")
        probe_time = _gauge("program_probe_time_seconds", "Unix time of the last probe.")
        wanted = _gauge("program_wanted_up", "1 when the program is wanted up, 0 when down.")
        state = _gauge(
            "program_state",
            "1 for the program's current state, 0 for the others.",
            ["program", "state"],
        )
        restarts = _counter(
            "program_restarts_total", "Runs after the first, as svctl status shows them."
        )
        starts = _counter("program_starts_total", "Runs started since the daemon started.")
        spawn_failures = _counter(
            "program_spawn_failures_total", "Starts that failed before the program ran."
        )
        exits = _counter(
            "program_exits_total",
            "Runs ended, by outcome (completed, failed, stopped, killed).",
            ["program", "outcome"],
        )
        ooms = _counter("program_oom_kills_total", "Runs in which the OOM killer killed.")
        exit_code = _gauge("program_last_exit_code", "Exit code of the last run that exited.")
        exit_signal = _gauge(
            "program_last_exit_signal",
            "Signal number that ended the last run, with its name.",
            ["program", "signal"],
        )
        probe_failures = _counter(
            "program_probe_failures_total",
            "Probe looks that failed, by probe (ready, liveness).",
            ["program", "probe"],
        )
        progress_done = _gauge(
            "program_progress_done", "How much of its work the run reports done."
        )
        progress_total = _gauge(
            "program_progress_total", "The run's reported total amount of work."
        )
        start_time = _gauge("program_start_time_seconds", "Unix time the current run started at.")
        uptime = _gauge("program_uptime_seconds", "Seconds the current run has been up.")
        for p in programs:
            name = [p.name]
            up.add_metric(name, 1 if p.pid is not None else 0)
            ready.add_metric(name, 1 if p.ready else 0)
            if p.healthy is not None:
                healthy.add_metric(name, 1 if p.healthy else 0)
            if p.probe is not None:
                probe_ok.add_metric(name, 1 if p.probe.ok else 0)
                probe_latency.add_metric(name, p.probe.latency)
                probe_time.add_metric(name, p.probe.at)
            for probe, failed in sorted(s.probe_failures.get(p.name, {}).items()):
                probe_failures.add_metric([p.name, probe], failed)
            if p.progress is not None and p.progress.done is not None:
                progress_done.add_metric(name, p.progress.done)
            if p.progress is not None and p.progress.total is not None:
                progress_total.add_metric(name, p.progress.total)
            wanted.add_metric(name, 1 if p.want is Want.UP else 0)
            for each in ProgramState:
                state.add_metric([p.name, each.value], 1 if p.state is each else 0)
            restarts.add_metric(name, p.restarts)
            counts = s.counts[p.name]
            starts.add_metric(name, counts.starts)
            spawn_failures.add_metric(name, counts.spawn_failures)
            ooms.add_metric(name, counts.oom_kills)
            for outcome in OUTCOMES:
                exits.add_metric([p.name, outcome.value], counts.exits.get(outcome, 0))
            if p.exit_code is not None:
                exit_code.add_metric(name, p.exit_code)
            if p.exit_signal is not None and (number := signal_number(p.exit_signal)):
                exit_signal.add_metric([p.name, p.exit_signal], number)
            if p.started_at is not None and p.uptime is not None:
                start_time.add_metric(name, p.started_at)
                uptime.add_metric(name, p.uptime)
        yield from (up, ready, wanted, state, restarts, starts, spawn_failures, exits, ooms)
        yield from (healthy, probe_ok, probe_latency, probe_time, probe_failures)
        yield from (progress_done, progress_total)
        yield from (exit_code, exit_signal, start_time, uptime)
        yield from self._usage()

    def _usage(self) -> Iterator[Metric]:
        cpu = _counter(
            "program_cpu_seconds_total",
            "CPU time (user and system) of the current run's processes; a new run starts at 0.",
        )
        memory = _gauge(
            "program_memory_bytes",
            "Memory of the current run: its cgroup's memory.current, else the processes' RSS.",
        )
        processes = _gauge("program_processes", "Processes of the current run alive now.")
        for program, usage in sorted(measure(self.scrape.runs).items()):
            cpu.add_metric([program], usage.cpu_seconds)
            memory.add_metric([program], usage.memory_bytes)
            processes.add_metric([program], usage.processes)
        yield from (cpu, memory, processes)

    def _logs(self, programs: tuple[ProgramStatus, ...]) -> Iterator[Metric]:
        families = [
            (
                (CounterMetricFamily if counter else GaugeMetricFamily)(
                    P + name, doc, labels=_STREAM
                ),
                field,
            )
            for counter, name, doc, field in LOG_METRICS
        ]
        for p in programs:
            for stream in p.logs:
                labels = [p.name, stream.stream]
                for family, field in families:
                    family.add_metric(labels, getattr(stream, field))
        for family, _ in families:
            yield family

    def _daemon(self) -> Iterator[Metric]:
        s = self.scrape
        info = InfoMetricFamily(
            P + "build", "The daemon's version, its Python, and how it contains runs."
        )
        info.add_metric(
            [],
            {
                "version": s.version,
                "python": platform.python_version(),
                "containment": s.containment,
            },
        )
        yield info
        yield GaugeMetricFamily(
            P + "shutting_down", "1 once the daemon is shutting down.", int(s.shutting_down)
        )
        yield GaugeMetricFamily(
            P + "event_loop_lag_seconds",
            "Time one pass through the event loop's run queue took at this scrape.",
            s.loop_lag,
        )
        yield GaugeMetricFamily(
            P + "event_loop_tasks", "Tasks alive in the daemon.", s.tasks_living
        )
        yield GaugeMetricFamily(
            P + "event_loop_tasks_runnable", "Tasks ready to run at this scrape.", s.tasks_runnable
        )
        yield from self._control()
        yield from self._requests()
        yield from self._store()
        yield GaugeMetricFamily(
            P + "event_subscribers", "Clients subscribed to state changes.", s.events.subscribers
        )
        yield CounterMetricFamily(
            P + "events_published_total", "State changes published.", s.events.published
        )
        yield CounterMetricFamily(
            P + "events_dropped_total",
            "State changes a slow subscriber missed.",
            s.events.dropped,
        )

    def _control(self) -> Iterator[Metric]:
        c = self.scrape.control
        yield GaugeMetricFamily(P + "control_connections", "Control connections open now.", c.open)
        yield CounterMetricFamily(
            P + "control_connections_total", "Control connections accepted.", c.accepted
        )
        refused = _counter(
            "control_connections_refused_total",
            "Control connections refused: uid not allowed, or max_connections open.",
            ["reason"],
        )
        refused.add_metric(["uid"], c.refused_uid)
        refused.add_metric(["busy"], c.refused_busy)
        yield refused
        for name, doc, value in (
            ("connections_timed_out", "Control connections closed for taking too long.",
             c.timed_out),
            ("protocol_errors", "Control connections closed for breaking the protocol.",
             c.protocol_errors),
            ("connections_failed", "Control connections that ended on an internal error.",
             c.failed),
            ("throttled", "Times a client's requests waited for one of its own to finish.",
             c.throttled),
            ("accept_exhausted", "Accepts that failed for want of descriptors or memory.",
             c.accept_exhausted),
            ("requests_refused_role", "Requests refused: the connection's role is too low.",
             c.refused_role),
        ):  # fmt: skip
            yield CounterMetricFamily(P + f"control_{name}_total", doc, value)

    def _store(self) -> Iterator[Metric]:
        st = self.scrape.store
        yield GaugeMetricFamily(
            P + "store_pending_records", "History records held back, not yet written.", st.pending
        )
        yield GaugeMetricFamily(
            P + "store_failing", "1 while writes to the state store fail.", int(st.failing)
        )
        for name, doc, value in (
            ("written_records", "History records written to the state store.", st.written),
            ("batches", "Transactions written to the state store.", st.batches),
            ("write_errors", "Writes to the state store that failed.", st.write_errors),
            ("dropped_records", "Records given up: too many were held back.", st.dropped),
            ("refused_records", "Records the state store refused.", st.refused),
        ):
            yield CounterMetricFamily(P + f"store_{name}_total", doc, value)
        writes = self.scrape.store_writes
        latency = HistogramMetricFamily(
            P + "store_write_duration_seconds",
            "Time each write to the state store took, written or failed.",
        )
        latency.add_metric([], writes.cumulative(), writes.total)
        yield latency

    def _requests(self) -> Iterator[Metric]:
        s = self.scrape
        counts = _counter(
            "requests_total",
            "Control requests by op and outcome (ok, an error code, or cancelled).",
            ["op", "outcome"],
        )
        for (op, outcome), n in sorted(s.requests.items()):
            counts.add_metric([op, outcome], n)
        latency = HistogramMetricFamily(
            P + "request_duration_seconds",
            "Time from a control request to its first reply, by op.",
            labels=["op"],
        )
        for op, hist in sorted(s.latencies.items()):
            latency.add_metric([op], hist.cumulative(), hist.total)
        yield counts
        yield latency


def render(scrape: Scrape, accept: str) -> tuple[bytes, str]:
    """The exposition of ``scrape`` in the format ``accept`` asks for: (body, content type)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ScrapeCollector(scrape))
    ProcessCollector(registry=registry)
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type
