"""Medians, ranges and per-round ratios: every figure is ``median (min–max; n)``."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    median: float
    min: float
    max: float
    n: int

    def as_dict(self) -> dict[str, float | int]:
        return {"median": self.median, "min": self.min, "max": self.max, "n": self.n}


def summarise(values: list[float]) -> Summary | None:
    clean = [v for v in values if v is not None and not math.isnan(v)]
    if not clean:
        return None
    return Summary(statistics.median(clean), min(clean), max(clean), len(clean))


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def by_round(samples: list[list[float]]) -> dict[int, list[float]]:
    """``[[round, value], ...]`` grouped by round."""
    out: dict[int, list[float]] = {}
    for rnd, value in samples:
        out.setdefault(int(rnd), []).append(value)
    return out


def round_ratios(peer: list[list[float]], reference: list[list[float]]) -> list[float]:
    """peer ÷ reference for each round both ran (the median of each side's samples that round).

    Rounds are run back to back, so the ratio cancels most of a shared machine's drift; a
    reference median of 0 gives no ratio for that round.
    """
    mine, ref = by_round(peer), by_round(reference)
    ratios = []
    for rnd in sorted(mine.keys() & ref.keys()):
        denominator = statistics.median(ref[rnd])
        if denominator:
            ratios.append(statistics.median(mine[rnd]) / denominator)
    return ratios


def fmt(value: float | None) -> str:
    """Three significant figures, plain notation where it reads well."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:.0f}"
    if magnitude >= 0.001:
        digits = 2 - math.floor(math.log10(magnitude))
        return f"{value:.{max(0, digits)}f}"
    return f"{value:.3g}"


def fmt_summary(s: Summary | None, suffix: str = "") -> str:
    if s is None:
        return "–"
    if s.n == 1:
        return f"{fmt(s.median)}{suffix} (n=1)"
    return f"{fmt(s.median)}{suffix} ({fmt(s.min)}–{fmt(s.max)}; n={s.n})"
