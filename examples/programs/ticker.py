"""A worker that does a little work every second and says so on stdout."""

import sys
import time

count = 0
while True:
    count += 1
    print(f"tick {count}", flush=True)
    if count % 10 == 0:
        print(f"ticker: {count} ticks so far", file=sys.stderr, flush=True)
    time.sleep(1)
