"""``RESULTS.md`` from ``results.json``: the machine, the targets, a table per scenario, plots."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import env
from bench.stats import fmt, fmt_summary, round_ratios, summarise
from bench.targets import evaluate

if TYPE_CHECKING:
    from collections.abc import Callable

OURS = "lite"
REFERENCE = "supervisord"
PEER_TITLES = {
    "lite": "supervisord-lite",
    "supervisord": "supervisord",
    "circus": "circus",
    "pm2": "PM2",
    "s6": "s6",
}


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


def _values(samples: list[list[float]]) -> list[float]:
    return [v for _, v in samples]


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


def _target_cells(
    row: dict[str, Any],
    peers: list[str],
    profiles: dict[str, str],
    cases: dict[tuple[str, str], str],
    with_floor: bool,
) -> list[str]:
    """One row of a targets table: target, ours, [floor], each peer, verdict."""

    def median(peer: str) -> str:
        s = row.get(peer)
        return "n/a" if s is None else fmt(s["median"])

    unit = row["unit"]
    cells = [f"{row['scenario']}: {row['target']} [{unit}]", median(OURS)]
    if with_floor:
        ours = row.get(OURS)
        floors = []
        for f in row["floors"]:
            text = f"{f['label'].removeprefix('floor: ')}: {fmt(f['median'])} {f['unit']}"
            if ours is not None and f["unit"] == unit:
                text += f" (ours − floor: {fmt(ours['median'] - f['median'])})"
            floors.append(text)
        cells.append("; ".join(floors) or "–")
    cells += [median(x) for x in peers if x != OURS]
    verdict = {True: "met", False: "MISSED", None: "not judged"}[row["met"]]
    verdict += ": " + "; ".join(row["found"])
    case = cases.get((row["scenario"], row["metric"]))
    if row["met"] is False and case in profiles:
        verdict += f"; profile: [{case}](#profile-{case})"
    cells.append(verdict)
    return [c.replace("|", "\\|") for c in cells]


def render(data: dict[str, Any], plots: dict[str, str], base: Path) -> str:
    from bench.profile import CASES_FOR

    peers = list(data["peers"])
    # ratio columns: ours ÷ every other peer (without ours: every peer ÷ supervisord)
    base_peer = next((x for x in (OURS, REFERENCE) if x in peers), peers[0] if peers else OURS)
    others = [p for p in peers if p != base_peer]
    profiles: dict[str, str] = data.get("profiles", {})
    m = data["machine"]
    v = data.get("versions", {})
    p = data["params"]
    names = ", ".join(PEER_TITLES.get(x, x) for x in peers if x != OURS)
    lines = [
        f"# supervisord-lite against {names or 'no peer'}",
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
        "Cells: median (min–max; n) over every sample of every round. Ratio columns: "
        f"{PEER_TITLES.get(base_peer, base_peer)} ÷ each other peer, per round (the median of "
        "each side's samples in that round; the peers ran back to back), then median "
        "(min–max) over the rounds: below 1 means ours is lower (faster, smaller). n/a cells "
        "say why below the table. Everything ran on a shared machine: read medians and ratios.",
        "",
    ]
    for note in data.get("notes_run", []):
        lines += [f"Note on this run: {note}", ""]
    for name, info in data["peers"].items():
        if not info["available"]:
            lines += [f"**{name} was unavailable**: {info['reason']}", ""]

    rows = evaluate(data)
    for issue, title, intro in (
        (
            True,
            "## Targets (issue 11: ahead of every peer, measured side by side)",
            "Ours against issue 11's targets, with every peer's median beside it. A ratio is "
            "the median over rounds of ours ÷ that peer in the same round; 'below every peer' "
            "needs that ratio below 1 against each peer measured in this run. Where a row is "
            "bounded by CPython itself, the floor column is CPython alone on this machine, "
            "measured in the same run.",
        ),
        (False, "## Standing targets", "Earlier targets that still hold."),
    ):
        chosen = [r for r in rows if r["issue"] is issue]
        if not chosen:
            continue
        head = [
            "target",
            "ours",
            "floor (CPython)",
            *[PEER_TITLES.get(x, x) for x in peers if x != OURS],
            "verdict",
        ]
        if not issue:
            head.remove("floor (CPython)")
        lines += [title, "", intro, "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for row in chosen:
            lines.append(
                "| " + " | ".join(_target_cells(row, peers, profiles, CASES_FOR, issue)) + " |"
            )
        lines.append("")

    for sid, sc in data["scenarios"].items():
        notes: list[str] = []
        head = ["metric", *[PEER_TITLES.get(x, x) for x in peers]]
        head += [f"{base_peer} ÷ {x}" for x in others]
        lines += [
            f"## {sid}: {sc['title']}",
            "",
            "| " + " | ".join(head) + " |",
            "|" + "---|" * len(head),
        ]
        for metric in sc["metrics"].values():
            label = f"{metric['label']} [{metric['unit']}]"
            cells = [label, *[_cell(metric, x, notes) for x in peers]]
            for x in others:
                ratios = round_ratios(
                    metric["samples"].get(base_peer, []), metric["samples"].get(x, [])
                )
                s = summarise(ratios) if metric["ratio"] else None
                cells.append("–" if s is None else f"{fmt(s.median)}× ({fmt(s.min)}–{fmt(s.max)})")
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
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
        "fresh temp dir under /tmp, driven by its own client: ours with `svctl.Client`, "
        "supervisord with XML-RPC through supervisor's own transport, circus with "
        "`circus.client.CircusClient` (zmq ipc://), all three in the harness process over a "
        "Unix socket; PM2 (its God daemon, `lib/Daemon.js`, with its own PM2_HOME) through "
        "its own API in a long-lived Node helper (`bench/peers/pm2_helper.js`, JSON lines on "
        "a pipe); s6 (`s6-svscan` on a scan dir) through its tools, one process per call "
        "(status-all and bulk start/stop: one `sh` loop of them).",
        "- Timings are wall-clock (time.monotonic / perf_counter) in the harness, so they "
        "include each client's own cost.",
        "- Each trial put `SVBENCH_MARKER=<uuid>` in its daemon's environment (circus: "
        "copy_env; PM2: also the helper's, whose environment PM2 gives the apps); after its "
        "clean, bounded shutdown every process still holding the marker was recorded as a "
        "leftover and killed by pid.",
        "- supervisord: the harness stops all programs before it shuts the daemon down in every "
        "scenario but S6 (its shutdown stops one group per 1 s pass).",
        "- Raw samples, per-trial details and the machine are in results.json.",
        "",
    ]
    return "\n".join(lines)
