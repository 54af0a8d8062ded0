"""Smoke test of the benchmark harness: ``bench/run.py --quick --peers lite`` end to end.

Only the harness is checked (every scenario ran and produced samples, or says why not); its
figures are not. Lite only, so no peer has to be installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = [f"S{i}" for i in range(1, 11)]


@pytest.mark.bench
@pytest.mark.timeout(300)
def test_quick_run_covers_every_scenario(tmp_path: Path) -> None:
    if os.environ.get("SVBENCH_SKIP"):
        pytest.skip("SVBENCH_SKIP is set: the benchmark smoke test takes about 30 s")
    out = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable,
            "bench/run.py",
            "--quick",
            "--peers",
            "lite",
            "--no-install",
            "--out",
            str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads((out / "results.json").read_text())
    assert data["machine"]["cpus"]
    assert data["versions"]["python"]
    assert list(data["scenarios"]) == SCENARIOS
    for sid, scenario in data["scenarios"].items():
        assert scenario["trials"], sid
        for key, metric in scenario["metrics"].items():
            samples = metric["samples"].get("lite", [])
            reason = metric["unsupported"].get("lite")
            assert samples or reason, f"{sid}.{key}: no samples and no reason"
            for rnd, value in samples:
                assert rnd == 0
                assert isinstance(value, float)
    # CPython's floors are measured in ours' trials, beside the cold CLI and the cold boot
    for sid, key in (("S1", "floor_trio"), ("S2", "floor_pass"), ("S2", "floor_msgspec")):
        assert data["scenarios"][sid]["metrics"][key]["samples"]["lite"], key
    report = (out / "RESULTS.md").read_text()
    assert "## Targets (issue 11" in report
    for sid in SCENARIOS:
        assert f"## {sid}:" in report
