"""A flaky job: runs a few seconds, then crashes with exit 3 (so restarts and history show)."""

import random
import sys
import time

lifetime = random.uniform(3, 8)
print(f"crasher: up, will crash in {lifetime:.1f}s", flush=True)
time.sleep(lifetime)
print("crasher: something went wrong", file=sys.stderr, flush=True)
sys.exit(3)
