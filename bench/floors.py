"""What CPython alone costs on this machine: the floors under our cold CLI and cold boot.

Our CLI and daemon are Python processes, so no change of ours can take them below the start-up
of the interpreter they run on (``sys.executable``, the repo's environment) plus the imports
they cannot do without. The scenarios time these processes in ours' trial, interleaved with
ours, and the report shows them beside our figure (issue 11).
"""

from __future__ import annotations

import subprocess
import sys
import time

from bench.core import Metric

#: metric key -> (label, the interpreter's arguments)
CLI = {
    "floor_pass": ("`python -c pass`", ("-c", "pass")),
    "floor_isolated": ("`python -I -S -c pass`", ("-I", "-S", "-c", "pass")),
    "floor_msgspec": ("`python -c 'import msgspec'`", ("-c", "import msgspec")),
}
BOOT = {"floor_trio": ("`python -c 'import trio'`", ("-c", "import trio"))}
NOT_OURS = "a floor under ours (CPython alone), measured in ours' trial only"


def metrics(floors: dict[str, tuple[str, tuple[str, ...]]], unit: str) -> list[Metric]:
    return [
        Metric(key, f"floor: {label}", unit, "lower", False) for key, (label, _) in floors.items()
    ]


def run_once(args: tuple[str, ...]) -> float:
    """Seconds from fork to exit of ``python ARGS`` (it must succeed)."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, *args], check=True, capture_output=True, timeout=60)
    return time.perf_counter() - t0
