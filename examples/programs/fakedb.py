"""A database-like server: loads for a moment, then listens on a port and says READY=1 on its
notify socket (the sd_notify protocol, as a program written for systemd's Type=notify does),
pinging the watchdog while it serves."""

import os
import socket
import sys
import time


def notify(message: str) -> None:
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(message.encode(), address)


port = int(sys.argv[1]) if len(sys.argv) > 1 else 8766
notify("STATUS=loading the data files")
for step in range(1, 4):
    time.sleep(0.3)
    notify(f"X_PROGRESS_PHASE=load\nX_PROGRESS_DONE={step}\nX_PROGRESS_TOTAL=3")
server = socket.create_server(("127.0.0.1", port), reuse_port=False)
server.settimeout(1.0)
notify(f"READY=1\nSTATUS=accepting connections on port {port}")
print(f"fakedb: listening on 127.0.0.1:{port}", flush=True)
while True:
    notify("WATCHDOG=1")
    try:
        conn, _ = server.accept()
    except TimeoutError:
        continue
    with conn:
        conn.sendall(b"fakedb 1.0\n")
