"""Built-in Prometheus metrics (``[daemon.metrics]``, docs/metrics.md).

Nothing is sampled in the background: a scrape reads the daemon's state as it is
(``scrape.gather``, on the event loop) and formats it in a worker thread
(``exposition.render``, one scrape at a time). Between scrapes the only cost is a few counters
kept where things happen anyway: history records (``runs``, the store writer's tap) and
control requests (``requests``, the handlers' meter).

The endpoint's modules (prometheus-client, h11: about 40 ms of imports) are loaded only when
the config turns the metrics on.
"""

from __future__ import annotations

import contextlib
import os
import socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

    from supervisord_lite.config import MetricsConfig
    from supervisord_lite.runtime.metrics.endpoint import Metrics

__all__ = ["open_metrics"]


@contextlib.contextmanager
def open_metrics(config: MetricsConfig) -> Iterator[Metrics | None]:
    """The metrics endpoint, bound, for the block; None when ``listen`` is not set.

    Raises:
        DaemonError: the endpoint cannot be bound (see ``bind_metrics_socket``).
    """
    if config.listen is None:
        yield None
        return
    # Imported here: a daemon without metrics never loads prometheus-client and h11.
    from supervisord_lite.runtime.metrics.endpoint import Metrics, bind_metrics_socket

    sock = bind_metrics_socket(config.listen)
    try:
        yield Metrics(sock)
    finally:
        unix = sock.family == socket.AF_UNIX
        sock.close()
        if unix:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(config.listen)
