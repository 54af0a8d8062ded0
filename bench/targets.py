"""The targets ours is judged against, and the verdict of one run on each.

``ISSUE`` holds the rows of issue 11's "Performance, measured side by side" table; ``STANDING``
the earlier targets that still hold. A target is met when every one of its checks is:

- ``Ratio(peer, op, value)``: the median over rounds of ours ÷ that peer in the same round;
- ``Own(op, value, how)``: our median (or min/max over every sample);
- ``AheadOfAll()``: ours ÷ each other peer measured in the run (per round, then the median)
  is below 1 (above 1 where higher is better); a peer with no samples is listed, not judged.

``floors`` names metrics of the same scenario that measure what CPython alone costs on this
machine (``python -c pass``, ``python -c "import trio"``): shown beside our figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.stats import fmt, round_ratios, summarise

OURS = "lite"


@dataclass(frozen=True)
class Ratio:
    peer: str
    op: str
    value: float


@dataclass(frozen=True)
class Own:
    op: str
    value: float
    how: str = "median"  # median | min | max


@dataclass(frozen=True)
class AheadOfAll:
    pass


Check = Ratio | Own | AheadOfAll


@dataclass(frozen=True)
class Target:
    sid: str
    key: str
    text: str
    checks: tuple[Check, ...]
    floors: tuple[str, ...] = field(default=())


ISSUE = [
    Target(
        "S1",
        "cold_boot",
        "cold boot → 100 running ≤ 0.5× supervisord",
        (Ratio("supervisord", "<=", 0.5),),
        ("floor_trio",),
    ),
    Target(
        "S1",
        "start_blocking",
        "start-all, blocking ≤ 0.5× supervisord",
        (Ratio("supervisord", "<=", 0.5),),
    ),
    Target(
        "S2",
        "all_p50",
        "status-all p50 ≤ 0.3 ms and below every peer",
        (Own("<=", 0.3), AheadOfAll()),
    ),
    Target(
        "S2",
        "cli",
        "cold `svctl status` ≤ 0.4× supervisorctl and below every peer",
        (Ratio("supervisord", "<=", 0.4), AheadOfAll()),
        ("floor_pass", "floor_isolated", "floor_msgspec"),
    ),
    Target(
        "S4", "uss_n", "USS, 100 children ≤ 1.0× supervisord", (Ratio("supervisord", "<=", 1.0),)
    ),
    Target(
        "S4",
        "uss_large",
        "USS, N-large children ≤ 1.0× supervisord",
        (Ratio("supervisord", "<=", 1.0),),
    ),
    Target("S4", "per_child", "≤ 8 KiB USS per extra child", (Own("<=", 8.0),)),
    Target(
        "S5", "overshoot_blocking", "SIGKILL overshoot past stop_timeout ≤ 1 ms", (Own("<=", 1.0),)
    ),
    Target("S6", "stop_poll", "stop-all, non-blocking + poll: below every peer", (AheadOfAll(),)),
    Target(
        "S7",
        "written_to_poll",
        "exit → visible to a 5 ms poller: below every peer",
        (AheadOfAll(),),
    ),
    Target(
        "S8",
        "vs_file",
        "log throughput ≥ 0.75× the program writing the file itself",
        (Own(">=", 0.75),),
    ),
]

STANDING = [
    Target("S2", "one_p50", "single status p50 ≤ 0.1 ms", (Own("<=", 0.1),)),
    Target(
        "S3",
        "cpu_schedstat",
        "idle 100 children: CPU ≤ 0.2× supervisord",
        (Ratio("supervisord", "<=", 0.2),),
    ),
    Target("S3", "wakeups", "idle: < 0.1 voluntary switches/s", (Own("<", 0.1),)),
    Target("S6", "stop_blocking", "stop 100 ≤ 0.05 s", (Own("<=", 0.05),)),
    Target("S6", "shutdown", "daemon shutdown with 100 running ≤ 0.2 s", (Own("<=", 0.2),)),
    Target(
        "S7", "kernel_to_poll_tight", "kernel exit → visible in status ≤ 1 ms", (Own("<=", 1.0),)
    ),
    Target(
        "S7", "kernel_to_push", "kernel exit → pushed to a subscriber ≤ 1 ms", (Own("<=", 1.0),)
    ),
    Target("S7", "code_in_status", "exit code reported (every trial)", (Own(">=", 1.0, "min"),)),
    Target("S8", "lost", "0 bytes lost (every trial)", (Own("==", 0.0, "max"),)),
    Target(
        "S9", "survivors_on", "escaped descendants surviving a stop: 0", (Own("==", 0.0, "max"),)
    ),
    Target(
        "S10", "duplicates", "duplicates after kill -9 and restart: 0", (Own("==", 0.0, "max"),)
    ),
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


def _ratio(metric: dict[str, Any], peer: str) -> float | None:
    s = summarise(round_ratios(metric["samples"].get(OURS, []), metric["samples"].get(peer, [])))
    return s.median if s else None


def _check(check: Check, metric: dict[str, Any], peers: list[str]) -> tuple[bool | None, str]:
    """(met, or None when it cannot be judged; what it found, in words)."""
    ours = _values(metric["samples"].get(OURS, []))
    if not ours:
        return None, "ours not measured"
    if isinstance(check, Own):
        value = {"median": summarise(ours).median, "min": min(ours), "max": max(ours)}[check.how]  # type: ignore[union-attr]
        met = _met(value, check.op, check.value)
        return met, f"{fmt(value)} {'' if met else 'not '}{check.op} {fmt(check.value)}"
    if isinstance(check, Ratio):
        value = _ratio(metric, check.peer)
        if value is None:
            return None, f"{check.peer} not measured"
        met = _met(value, check.op, check.value)
        return (
            met,
            f"{fmt(value)}× {check.peer} ({'' if met else 'not '}{check.op} {fmt(check.value)})",
        )
    higher = metric.get("better") == "higher"
    parts, verdicts, unmeasured = [], [], []
    for peer in peers:
        if peer == OURS:
            continue
        value = _ratio(metric, peer)
        if value is None:
            unmeasured.append(peer)
            continue
        ahead = value > 1.0 if higher else value < 1.0
        verdicts.append(ahead)
        parts.append(f"{fmt(value)}× {peer}")
    if not verdicts:
        return None, "no peer measured"
    met = all(verdicts)
    text = f"{'ahead of' if met else 'not ahead of'} every peer ({', '.join(parts)})"
    if unmeasured:
        text += f"; not measured: {', '.join(unmeasured)}"
    return met, text


def evaluate(data: dict[str, Any], targets: list[Target] | None = None) -> list[dict[str, Any]]:
    """Each target with our figure, the floors, the peers' medians and the verdict."""
    peers = list(data["peers"])
    out = []
    for t in ISSUE + STANDING if targets is None else targets:
        scenario = data["scenarios"].get(t.sid, {})
        metric = scenario.get("metrics", {}).get(t.key)
        if metric is None:
            continue
        row: dict[str, Any] = {
            "target": t.text,
            "scenario": t.sid,
            "metric": t.key,
            "unit": metric["unit"],
            "issue": t in ISSUE,
        }
        for peer in peers:
            s = summarise(_values(metric["samples"].get(peer, [])))
            row[peer] = s.as_dict() if s else None
        verdicts, found = [], []
        for check in t.checks:
            met, text = _check(check, metric, peers)
            verdicts.append(met)
            found.append(text)
        row["found"] = found
        # missed if any check is; met only when every check could be judged and was
        row["met"] = False if False in verdicts else (None if None in verdicts else True)
        floors = []
        for key in t.floors:
            floor = scenario["metrics"].get(key)
            s = summarise(_values(floor["samples"].get(OURS, []))) if floor else None
            if floor is not None and s is not None:
                floors.append({"label": floor["label"], "unit": floor["unit"], "median": s.median})
        row["floors"] = floors
        out.append(row)
    return out
