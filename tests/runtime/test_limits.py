"""Resource limits are enforced through cgroup v2 controllers, or refused: never ignored."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from supervisord_lite.runtime.cgroups import CgroupTree
from tests.daemon_harness import ROOT, write_config

if TYPE_CHECKING:
    from pathlib import Path

LIMITED = """\
[programs.capped]
command = ["sleep", "3600"]
memory_max = 67108864
pids_max = 64
"""


def _controllers() -> set[str]:
    tree = CgroupTree.open()
    if tree is None:
        return set()
    try:
        return tree.controllers()
    finally:
        tree.close()


@pytest.mark.skipif({"memory", "pids"} <= _controllers(), reason="this host offers the controllers")
def test_limits_the_host_cannot_enforce_are_a_config_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, LIMITED)
    out = subprocess.run(
        [sys.executable, "-m", "supervisord_lite", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert out.returncode == 2
    assert "$.programs.capped.memory_max" in out.stderr
    assert "controller is not available" in out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "run" / "ctl.sock").exists()
