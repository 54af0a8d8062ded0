"""``RESULTS.md`` from ``results.json``: the machine, the targets, a table per scenario, plots."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import env
from bench.stats import fmt, fmt_summary, round_ratios, summarise

if TYPE_CHECKING:
    from collections.abc import Callable

REFERENCE = "supervisord"
PEER_TITLES = {"lite": "supervisord-lite", "supervisord": "supervisord", "circus": "circus"}


@dataclass(frozen=True)
class Target:
    sid: str
    key: str
    text: str
    kind: str  # ratio: median of per-round ratios to supervisord; median; max (every trial)
    op: str  # <= | < | >= | ==
    value: float


TARGETS = [
    Target(
        "S1",
        "start_blocking",
        "start 100 blocking → all running ≤ 0.5× supervisord",
        "ratio",
        "<=",
        0.5,
    ),
    Target("S2", "all_p50", "status-all p50 ≤ 0.3 ms", "median", "<=", 0.3),
    Target("S2", "one_p50", "single status p50 ≤ 0.1 ms", "median", "<=", 0.1),
    Target("S2", "cli", "cold `svctl status` ≤ 0.4× supervisorctl", "ratio", "<=", 0.4),
    Target("S3", "cpu_schedstat", "idle 100 children: CPU ≤ 0.2× supervisord", "ratio", "<=", 0.2),
    Target("S3", "wakeups", "idle: < 0.1 voluntary switches/s", "median", "<", 0.1),
    Target("S4", "uss_large", "USS with 1000 children ≤ 1.25× supervisord", "ratio", "<=", 1.25),
    Target("S4", "per_child", "≤ 8 KiB USS per extra child", "median", "<=", 8.0),
    Target(
        "S5",
        "overshoot_blocking",
        "SIGTERM ignored, 1 s timeout: overshoot ≤ 1 ms",
        "median",
        "<=",
        1.0,
    ),
    Target("S6", "stop_blocking", "stop 100 ≤ 0.05 s", "median", "<=", 0.05),
    Target("S6", "shutdown", "daemon shutdown with 100 running ≤ 0.2 s", "median", "<=", 0.2),
    Target(
        "S7", "kernel_to_poll_tight", "kernel exit → visible in status ≤ 1 ms", "median", "<=", 1.0
    ),
    Target(
        "S7", "kernel_to_push", "kernel exit → pushed to a subscriber ≤ 1 ms", "median", "<=", 1.0
    ),
    Target("S7", "code_in_status", "exit code reported (every trial)", "min", ">=", 1.0),
    Target("S8", "vs_cat", "200 MB of log lines ≥ 1.0× cat's throughput", "median", ">=", 1.0),
    Target("S8", "lost", "0 bytes lost (every trial)", "max", "==", 0.0),
    Target("S9", "survivors_on", "escaped descendants surviving a stop: 0", "max", "==", 0.0),
    Target("S10", "duplicates", "duplicates after kill -9 and restart: 0", "max", "==", 0.0),
]


def _values(samples: list[list[float]]) -> list[float]:
    return [v for _, v in samples]


def _met(value: float, op: str, limit: float) -> bool:
    return {
        "<=": value <= limit,
        "<": value < limit,
        ">=": value >= limit,
        "==": value == limit,
    }[op]


def evaluate(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with our figure, the peers' figures, and whether it was met."""
    out = []
    for t in TARGETS:
        metric = data["scenarios"].get(t.sid, {}).get("metrics", {}).get(t.key)
        if metric is None:
            continue
        row: dict[str, Any] = {"target": t.text, "scenario": t.sid, "metric": t.key}
        samples = metric["samples"]
        for peer in data["peers"]:
            s = summarise(_values(samples.get(peer, [])))
            row[peer] = s.as_dict() if s else None
            if s is None:
                row[peer + "_why"] = metric["unsupported"].get(peer, "no samples (see errors)")
        ours = _values(samples.get("lite", []))
        value: float | None = None
        if t.kind == "ratio":
            ratios = round_ratios(samples.get("lite", []), samples.get(REFERENCE, []))
            s = summarise(ratios)
            value = s.median if s else None
            row["ratio"] = s.as_dict() if s else None
        elif ours:
            value = {"median": summarise(ours).median, "max": max(ours), "min": min(ours)}[  # type: ignore[union-attr]
                t.kind
            ]
        row["value"] = value
        row["met"] = None if value is None else _met(value, t.op, t.value)
        if value is not None and not row["met"]:
            row["by"] = value - t.value
        out.append(row)
    return out


def draw_plots(json_path: Path, plot_dir: Path, log: Callable[[str], None]) -> dict[str, str]:
    """One PNG per scenario family, drawn by ``bench/plots.py`` in the peers' environment
    (matplotlib is installed there only); ``{family: path}``, empty when it cannot."""
    python = env.peers_python()
    if not python.exists():
        log("bench: no plots: the peers' environment (with matplotlib) is not installed")
        return {}
    plot_dir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [str(python), str(env.BENCH / "plots.py"), str(json_path), str(plot_dir)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        log(f"bench: plots failed: {done.stderr.strip()[-500:]}")
        return {}
    plots = {}
    for line in done.stdout.splitlines():
        family, _, path = line.partition("\t")
        if path:
            plots[family] = path
    return plots


def _cell(metric: dict[str, Any], peer: str, notes: list[str]) -> str:
    s = summarise(_values(metric["samples"].get(peer, [])))
    if s is not None:
        return fmt_summary(s)
    why = metric["unsupported"].get(peer)
    if why is None:
        return "no samples (see Errors)"
    if why not in notes:
        notes.append(why)
    return f"n/a [{notes.index(why) + 1}]"


def render(data: dict[str, Any], plots: dict[str, str], base: Path) -> str:
    from bench.profile import CASES_FOR

    peers = list(data["peers"])
    others = [p for p in peers if p != REFERENCE]
    profiles: dict[str, str] = data.get("profiles", {})
    m = data["machine"]
    v = data.get("versions", {})
    p = data["params"]
    lines = [
        "# supervisord-lite against supervisord and circus",
        "",
        f"Run {data['run_id']} on {data['started_at'][:10]} ({data['started_at']} UTC), "
        f"{data['duration_s']:.0f} s in all, command `{data['command']}`.",
        "",
        f"Machine: {m['cpu']}, {m['cpus']} CPUs, {m['memory_gib']} GiB, Linux {m['kernel']}, "
        f"Python {m['python']}, psutil {m['psutil']}; load average at start "
        f"{[round(x, 2) for x in m['loadavg']]}, at end "
        f"{[round(x, 2) for x in m.get('loadavg_end', [])]}.",
        "",
        "Versions: " + "; ".join(f"{k} {val}" for k, val in v.items()) + ".",
        "",
        f"Parameters: {p['rounds']} rounds (peer order rotated each round), N={p['n']}, "
        f"status calls {p['s2_calls']}, cold CLI runs {p['s2_cli']}/round, idle window "
        f"{p['s3_window']:g} s, N-large {p['s4_large']}, S5 {p['s5_reps']}/variant/round, "
        f"S6 {p['s6_reps']} stop-alls/variant/round and {p['s6_shutdowns']} shutdown/round, "
        f"S7 {p['s7_reps']}/round, S8 {p['s8_mb']} MB, S10 N={p['s10_n']}"
        + (" (--quick: a smoke test; its figures mean little)." if p["quick"] else "."),
        "",
        "Cells: median (min–max; n) over every sample of every round. Ratio columns: this peer "
        "÷ supervisord, per round (the median of each side's samples in that round; the peers "
        "ran back to back), then median (min–max) over the rounds. n/a cells say why below "
        "the table. Everything ran on a shared machine: read medians and ratios.",
        "",
    ]
    for note in data.get("notes_run", []):
        lines += [f"Note on this run: {note}", ""]
    for name, info in data["peers"].items():
        if not info["available"]:
            lines += [f"**{name} was unavailable**: {info['reason']}", ""]

    lines += [
        "## Targets",
        "",
        "Ours against the issue's targets; the peers' medians beside it. A ratio target is "
        "the median over rounds of ours ÷ supervisord in that round.",
        "",
        "| target | ours | supervisord | circus | verdict |",
        "|---|---|---|---|---|",
    ]

    def show(row: dict[str, Any], peer: str) -> str:
        s = row.get(peer)
        if s is None:
            return "n/a" if peer in data["peers"] else "not run"
        return fmt(s["median"])

    for row in evaluate(data):
        verdict = "not measured"
        if row["met"] is not None:
            shown = fmt(row["value"]) + ("×" if row.get("ratio") else "")
            verdict = f"{'met' if row['met'] else 'MISSED'} ({shown}"
            if not row["met"]:
                verdict += f", off by {fmt(abs(row['by']))}"
            verdict += ")"
        case = CASES_FOR.get((row["scenario"], row["metric"]))
        if row["met"] is False and case in profiles:
            verdict += f"; profile: [{case}](#profile-{case})"
        lines.append(
            f"| {row['scenario']}: {row['target']} | {show(row, 'lite')} "
            f"| {show(row, 'supervisord')} | {show(row, 'circus')} | {verdict} |"
        )
    lines.append("")

    for sid, sc in data["scenarios"].items():
        notes: list[str] = []
        head = ["metric", *[PEER_TITLES.get(x, x) for x in peers]]
        if REFERENCE in peers:
            head += [f"{x} ÷ supervisord" for x in others]
        lines += [
            f"## {sid}: {sc['title']}",
            "",
            "| " + " | ".join(head) + " |",
            "|" + "---|" * len(head),
        ]
        for metric in sc["metrics"].values():
            label = f"{metric['label']} [{metric['unit']}]"
            cells = [label, *[_cell(metric, x, notes) for x in peers]]
            if REFERENCE in peers:
                for x in others:
                    ratios = round_ratios(
                        metric["samples"].get(x, []), metric["samples"].get(REFERENCE, [])
                    )
                    s = summarise(ratios) if metric["ratio"] else None
                    cells.append(
                        "–" if s is None else f"{fmt(s.median)}× ({fmt(s.min)}–{fmt(s.max)})"
                    )
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        for i, why in enumerate(notes, 1):
            lines.append(f"[{i}] {why}  ")
        if notes:
            lines.append("")
        for note in data["notes"].get(sid, []):
            lines.append(f"- {note}")
        if data["notes"].get(sid):
            lines.append("")

    if profiles:
        lines += [
            "## Profiles of the missed targets",
            "",
            "Taken right after the run by `bench/profile.py` (ours only, the way the scenario "
            "drives it): py-spy samples of the daemon, or tracemalloc for memory and "
            "`-X importtime` for the CLI.",
            "",
        ]
        for case, text in profiles.items():
            lines += [f'<a id="profile-{case}"></a>', "", f"### {case}", "", text, ""]

    lines += ["## Leftovers after a clean shutdown", ""]
    if data["leftovers"]:
        lines += ["| scenario | peer | round | count | processes |", "|---|---|---|---|---|"]
        for left in data["leftovers"]:
            shown = "; ".join(sorted(set(left["cmdlines"])))[:200]
            lines.append(
                f"| {left['scenario']} | {left['peer']} | {left['round'] + 1} | "
                f"{left['count']} | {shown} |"
            )
    else:
        lines.append("None: after every trial no marked process was alive.")
    lines.append("")
    lines += ["## Errors", ""]
    if data["errors"]:
        lines += ["| scenario | peer | round | error |", "|---|---|---|---|"]
        for err in data["errors"]:
            text = err["error"].replace("|", "\\|").replace("\n", " ")[:300]
            lines.append(f"| {err['scenario']} | {err['peer']} | {err['round'] + 1} | {text} |")
    else:
        lines.append("None.")
    lines.append("")
    if plots:
        lines += ["## Plots", ""]
        for family, path in plots.items():
            rel = Path(path).resolve().relative_to(base.resolve())
            lines += [f"![{family}]({rel})", ""]
    lines += [
        "## How it was measured",
        "",
        "- Every daemon ran in the foreground as a child of the harness, one at a time, in a "
        "fresh temp dir under /tmp, driven by its own client library in the harness process "
        "over a Unix socket: ours with `svctl.Client`, supervisord with XML-RPC through "
        "supervisor's own transport, circus with `circus.client.CircusClient` (zmq ipc://).",
        "- Timings are wall-clock (time.monotonic / perf_counter) in the harness, so they "
        "include each client's own cost.",
        "- Each trial put `SVBENCH_MARKER=<uuid>` in its daemon's environment (circus: "
        "copy_env); after its clean, bounded shutdown every process still holding the marker "
        "was recorded as a leftover and killed by pid.",
        "- supervisord: the harness stops all programs before it shuts the daemon down in every "
        "scenario but S6 (its shutdown stops one group per 1 s pass).",
        "- Raw samples, per-trial details and the machine are in results.json.",
        "",
    ]
    return "\n".join(lines)
