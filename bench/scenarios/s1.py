"""S1: N x ``sleep 3600``, startsecs=0: cold boot -> all running; start-all blocking and polled."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from bench import floors
from bench.core import Metric
from bench.peers.base import DOWN
from bench.scenarios import sleepers

if TYPE_CHECKING:
    from bench.core import Trial

ID = "S1"
TITLE = "start N programs"
FAMILY = "start-stop"
METRICS = [
    Metric("cold_boot", "cold boot (launch, autostart) → all N running", "s"),
    Metric("start_blocking", "start-all, blocking call → all N running", "s"),
    Metric("start_poll", "start-all, non-blocking + 20 ms poll → all N running", "s"),
    *floors.metrics(floors.BOOT, "s"),
]
#: runs of each floor per trial of ours
FLOOR_RUNS = 3
NOTES = [
    "circus: 'start' with no name starts only watchers with autostart=true, so the programs are "
    "autostart in every peer and start-all is measured after a stop-all.",
    "circus: no startsecs; a watcher is active as soon as it has spawned.",
    "Each timed start-all comes 1.1 s after the stop-all finished, for every peer, so no peer's "
    "restart spacing (ours: backoff.floor, which holds back automatic restarts only) can "
    "weigh on it.",
    "The floor is the interpreter our daemon runs on importing trio alone, timed in ours' "
    "trial after its cold boot: a cold boot of ours cannot be shorter.",
    "pm2: PM2 keeps its apps in the daemon's memory, not in a config it reads: a cold boot is "
    "the God daemon plus the client registering the apps (`pm2 start ecosystem`); the client "
    "is a Node helper started beside the daemon, and its start-up counts.",
    "pm2: no non-blocking start: for the non-blocking variant the helper makes the API call and "
    "answers at once. No startsecs: an app is 'online' once spawned.",
    "s6: no bulk start: start-all is one sh loop of `s6-svc -u` (then `s6-svwait -u -a` for "
    "the blocking variant); a service is 'up' once its run script is spawned.",
]


#: Idle time between the stop-all and the timed start-all (not timed): longer than any peer's
#: spacing of restarts, so the start-all measures starting and nothing else.
PAUSE = 1.1


def run(t: Trial) -> None:
    n = t.params.n
    peer = t.new_peer()
    peer.write_config(sleepers(n))
    peer.launch()
    peer.connect(60)
    peer.wait_all("RUNNING", 60)
    t.record("cold_boot", time.monotonic() - peer.launched_at)
    if t.peer_name == "lite":
        for key, (_, args) in floors.BOOT.items():
            for _ in range(FLOOR_RUNS):
                t.record(key, floors.run_once(args))
    else:
        for key in floors.BOOT:
            t.unsupported(key, floors.NOT_OURS)
    for _ in range(t.params.s1_reps):
        for key, wait in (("start_blocking", True), ("start_poll", False)):
            peer.stop_all(True)
            peer.wait_all(DOWN, 60)
            time.sleep(PAUSE)
            t0 = time.monotonic()
            peer.start_all(wait)
            peer.wait_all("RUNNING", 60, 0.02)
            t.record(key, time.monotonic() - t0)
