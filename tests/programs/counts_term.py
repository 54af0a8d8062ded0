"""Prints each SIGTERM it gets; ignores the first, exits at the second."""

import signal
import sys
import time

received = 0


def on_term(signum: int, frame: object) -> None:
    global received
    received += 1
    print("TERM", received, flush=True)
    if received > 1:
        sys.exit(0)


signal.signal(signal.SIGTERM, on_term)
print("ready", flush=True)
while True:
    time.sleep(60)
