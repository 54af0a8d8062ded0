"""An HTTP server that serves on the listening socket it is handed as fd 3 (systemd's
LISTEN_FDS convention), says READY=1 on $NOTIFY_SOCKET once it accepts, and on SIGTERM stops
accepting, finishes the request in hand and exits 0: what a program needs for a restart that
refuses no connection.

Answers every GET with ``<LISTEN_FDNAMES> <its pid>``. Exits 3 when the environment does not
hand it fd 3 as LISTEN_PID says (the pid must be its own).
"""

from __future__ import annotations

import http.server
import os
import signal
import socket
import sys
import threading


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"{os.environ['LISTEN_FDNAMES']} {os.getpid()}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def notify(message: bytes) -> None:
    path = os.environ.get("NOTIFY_SOCKET")
    if path:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(message, path)


def main() -> int:
    if os.environ.get("LISTEN_PID") != str(os.getpid()) or os.environ.get("LISTEN_FDS") != "1":
        print("not handed fd 3 for this pid", os.environ.get("LISTEN_PID"), file=sys.stderr)
        return 3
    listening = socket.socket(fileno=3)
    # Non-blocking: when several instances wake for one connection, the ones that lose the
    # race get EAGAIN instead of sleeping in accept() where a shutdown cannot reach them.
    listening.setblocking(False)
    server = http.server.HTTPServer(listening.getsockname(), Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = listening
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    serving.start()
    notify(b"READY=1")
    print("serving", flush=True)
    signal.sigwait({signal.SIGTERM})
    server.shutdown()  # returns once the request in hand is answered
    serving.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
