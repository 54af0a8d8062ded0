"""A real HTTP receiver for webhook tests: ``http.server`` on 127.0.0.1 in a thread of the test.

It records every POST (headers and body), answers with ``status`` (200 unless a test makes it
fail), and can be stopped and started again on the same port, as a receiver that was down.
Waiting for deliveries blocks on a condition (no polling), bounded by a timeout.
"""

from __future__ import annotations

import http.server
import threading
from dataclasses import dataclass
from typing import Any

import msgspec


@dataclass(frozen=True)
class Delivery:
    headers: dict[str, str]
    body: bytes

    @property
    def seq(self) -> int:
        return int(self.headers["X-Supervisord-Lite-Seq"])

    def event(self) -> dict[str, Any]:
        decoded: dict[str, Any] = msgspec.json.decode(self.body)
        return decoded


class Receiver:
    """See the module docstring; use as a context manager."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.status = 200
        self.port = 0
        self._changed = threading.Condition()
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = receiver.status
                if status == 200:
                    with receiver._changed:
                        receiver.deliveries.append(Delivery(dict(self.headers), body))
                        receiver._changed.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop listening (connections are then refused), keeping the port for ``start``."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def wait_for(self, predicate: Any, timeout: float = 30.0) -> list[Delivery]:
        """Block until ``predicate(deliveries)`` holds; the deliveries then.

        Raises:
            AssertionError: it did not hold within ``timeout``.
        """
        with self._changed:
            if not self._changed.wait_for(lambda: predicate(self.deliveries), timeout):
                seqs = [d.seq for d in self.deliveries]
                raise AssertionError(f"deliveries not as awaited within {timeout}s: {seqs}")
            return list(self.deliveries)

    def __enter__(self) -> Receiver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
