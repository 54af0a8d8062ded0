"""The endpoint: the counters the daemon feeds and the server that answers scrapes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from supervisord_lite.runtime.daemonlog import log
from supervisord_lite.runtime.metrics.exposition import render
from supervisord_lite.runtime.metrics.http import MetricsServer, bind_metrics_socket, url_of
from supervisord_lite.runtime.metrics.requests import Latencies, RequestMeter
from supervisord_lite.runtime.metrics.runs import RunCounters
from supervisord_lite.runtime.metrics.scrape import Sources, gather

if TYPE_CHECKING:
    import socket

    from supervisord_lite.runtime.control import ControlServer
    from supervisord_lite.runtime.handlers import Handlers
    from supervisord_lite.runtime.storewriter import StoreWriter
    from supervisord_lite.runtime.supervisor import Supervisor

__all__ = ["Metrics", "bind_metrics_socket"]


class Metrics:
    """The counters the daemon feeds and the server that answers scrapes."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.runs = RunCounters()
        self.requests = RequestMeter()
        self.store_writes = Latencies()
        self._rendering = trio.CapacityLimiter(1)

    def start(
        self,
        nursery: trio.Nursery,
        supervisor: Supervisor,
        store: StoreWriter,
        control: ControlServer,
        handlers: Handlers,
    ) -> None:
        """Feed the counters from now on and serve scrapes in ``nursery``: call it before the
        programs start, so their first runs are counted."""
        store.tap = self.runs.observe
        store.on_write = self.store_writes.observe
        handlers.meter = self.requests
        sources = Sources(supervisor, store, control, self.runs, self.requests, self.store_writes)

        async def scrape(accept: str) -> tuple[bytes, str]:
            async with self._rendering:
                view = await gather(sources)
                return await trio.to_thread.run_sync(render, view, accept)

        log.info("metrics: serving %s", url_of(self.sock))
        nursery.start_soon(MetricsServer(self.sock, scrape).serve, name="metrics server")
