"""Draw docs/images/top.svg: ``svctl top`` on the demo config (examples/demo.toml), headless.

Run from the repository's root after a change to the view::

    .venv/bin/python -m tests.clients.top_screenshot

The demo runs from a copy of examples/ in a temporary folder (its socket, store and logs land
there), under the test harness, which stops it and everything it started at the end.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

from svctl import Client
from svctl.top.app import TopApp
from tests.daemon_harness import ROOT, start_daemon, stop_daemon

OUT = ROOT / "docs" / "images"
SIZE = (100, 26)


async def _draw(socket: str) -> None:
    app = TopApp(socket, usage_interval=1.0)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(1.0)
        await pilot.press("down")  # the worker: its ticks in the output pane
        await pilot.pause(3.5)  # a few usage reads (CPU%), ticks and progress reports
        app.save_screenshot(filename="top.svg", path=str(OUT))
        await pilot.press("q")


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        demo = Path(folder) / "examples"
        shutil.copytree(ROOT / "examples", demo)
        daemon = start_daemon(demo / "demo.toml")
        try:
            with Client(daemon.socket, timeout=20) as client:
                client.wait("worker", "indexer", state="RUNNING", timeout=15)
            asyncio.run(asyncio.wait_for(_draw(daemon.socket), 60))
        finally:
            stop_daemon(daemon)
    print(f"wrote {OUT / 'top.svg'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
