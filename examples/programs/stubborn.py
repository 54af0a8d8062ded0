"""Ignores SIGTERM, so a stop has to escalate to SIGKILL after stop_timeout."""

import signal
import time

signal.signal(signal.SIGTERM, lambda signum, frame: print("stubborn: ignoring SIGTERM", flush=True))
print("stubborn: running; SIGTERM will not stop me", flush=True)
while True:
    time.sleep(3600)
