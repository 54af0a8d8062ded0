"""Follow one program's log through the Python client and record what arrives.

Usage: log_follower.py SOCKET NAME TOTAL OUT

Follows NAME's stdout (no tail) and appends every byte received to OUT, until the bytes received
plus the bytes reported missed (Lagged) reach TOTAL; then prints one JSON line:
{"received": N, "lagged": N, "gaps": N} and exits.
"""

from __future__ import annotations

import json
import sys

from svctl import Client, Lagged, LogChunk


def main() -> None:
    socket_path, name, total, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    received = lagged = gaps = 0
    with open(out, "wb") as sink, Client(socket_path, timeout=None) as client:
        for item in client.logs(name, stream="stdout", lines=0, follow=True):
            if isinstance(item, LogChunk):
                sink.write(item.data)
                received += len(item.data)
            elif isinstance(item, Lagged):
                lagged += item.dropped
                gaps += 1
            if received + lagged >= total:
                break
    print(json.dumps({"received": received, "lagged": lagged, "gaps": gaps}), flush=True)


if __name__ == "__main__":
    main()
