"""A demo batch job that can only print: it reports its progress as JSON lines on stdout
(``progress = { from = "stdout", format = "json" }``, docs/progress.md), then starts over."""

import json
import time

while True:
    for phase, total in (("scan", 40), ("index", 120), ("compact", 20)):
        for done in range(total + 1):
            line = {"progress": {"done": done, "total": total, "phase": phase}}
            print(json.dumps(line), flush=True)
            time.sleep(0.25)
