"""Draw one PNG per scenario family from results.json (run in the peers' venv: matplotlib).

``python plots.py results.json OUTDIR`` prints ``family<TAB>path`` for each PNG it wrote.
Standalone on purpose: only the standard library and matplotlib.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

COLOURS = {
    "lite": "#2a7ab0",
    "supervisord": "#b05a2a",
    "circus": "#5a9a3a",
    "pm2": "#8a4ab0",
    "s6": "#a0a020",
}


def main(json_path: str, out_dir: str) -> None:
    data = json.loads(Path(json_path).read_text())
    peers = list(data["peers"])
    families: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for sid, sc in data["scenarios"].items():
        for metric in sc["metrics"].values():
            if metric["unit"] in ("yes", "×"):
                continue
            families.setdefault(sc["family"], []).append((sid, metric))
    out = Path(out_dir)
    for family, metrics in families.items():
        cols = min(4, len(metrics))
        rows = (len(metrics) + cols - 1) // cols
        fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
        for ax in axes.flat[len(metrics) :]:
            ax.axis("off")
        for ax, (sid, metric) in zip(axes.flat, metrics, strict=False):
            xs, meds, lo, hi, colours = [], [], [], [], []
            for peer in peers:
                values = [v for _, v in metric["samples"].get(peer, [])]
                xs.append(peer)
                colours.append(COLOURS.get(peer, "grey"))
                if values:
                    med = statistics.median(values)
                    meds.append(med)
                    lo.append(med - min(values))
                    hi.append(max(values) - med)
                else:
                    meds.append(0)
                    lo.append(0)
                    hi.append(0)
            ax.bar(xs, meds, color=colours, yerr=[lo, hi], capsize=4)
            for i, peer in enumerate(peers):
                if not metric["samples"].get(peer):
                    ax.text(
                        i,
                        0.02,
                        "n/a",
                        ha="center",
                        va="bottom",
                        fontsize=8,
                        transform=ax.get_xaxis_transform(),
                    )
            spread = [m for m in meds if m > 0]
            if len(spread) >= 2 and max(spread) / min(spread) > 50:
                ax.set_yscale("log")
            label = metric["label"]
            if len(label) > 48:
                label = label[:46] + "…"
            ax.set_title(f"{sid}: {label}", fontsize=8)
            ax.set_ylabel(metric["unit"], fontsize=8)
            ax.tick_params(labelsize=8)
        fig.suptitle(f"{family} (median, min–max whiskers)", fontsize=10)
        fig.tight_layout()
        path = out / f"{family}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        print(f"{family}\t{path}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
