"""A one-shot migration: waits for nothing itself (the supervisor starts it once the database is
ready), applies its steps, reports progress and exits 0."""

import socket
import sys
import time

port = int(sys.argv[1]) if len(sys.argv) > 1 else 8766
with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
    banner = conn.recv(64).decode().strip()
print(f"migrate: connected to {banner}", flush=True)
for step in ("create tables", "add indexes", "backfill"):
    time.sleep(0.2)
    print(f"migrate: {step}", flush=True)
print("migrate: done", flush=True)
