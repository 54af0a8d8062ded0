"""Where a daemon listens by default and where a client looks: root uses the system path, any
other user its ``$XDG_RUNTIME_DIR``."""

from __future__ import annotations

import pytest

from supervisord_lite.protocol.socket_path import (
    SYSTEM_SOCKET,
    client_socket,
    daemon_socket,
    user_socket,
)

RUNTIME = {"XDG_RUNTIME_DIR": "/run/user/1000"}
OWN = "/run/user/1000/supervisord-lite/ctl.sock"


@pytest.mark.parametrize(
    ("uid", "environ", "expected"),
    [
        (0, RUNTIME, None),
        (1000, RUNTIME, OWN),
        (1000, {}, None),
        (1000, {"XDG_RUNTIME_DIR": ""}, None),
        (1000, {"XDG_RUNTIME_DIR": "relative/dir"}, None),
    ],
)
def test_user_socket(uid: int, environ: dict[str, str], expected: str | None) -> None:
    assert user_socket(uid, environ) == expected


@pytest.mark.parametrize(
    ("configured", "uid", "environ", "expected"),
    [
        (SYSTEM_SOCKET, 0, RUNTIME, SYSTEM_SOCKET),
        (SYSTEM_SOCKET, 1000, RUNTIME, OWN),
        (SYSTEM_SOCKET, 1000, {}, SYSTEM_SOCKET),
        ("/srv/app/ctl.sock", 1000, RUNTIME, "/srv/app/ctl.sock"),
    ],
)
def test_daemon_socket(configured: str, uid: int, environ: dict[str, str], expected: str) -> None:
    assert daemon_socket(configured, uid, environ) == expected


def test_client_looks_in_the_runtime_folder_first() -> None:
    assert client_socket(1000, RUNTIME, lambda path: path == OWN) == OWN
    assert client_socket(1000, RUNTIME, lambda path: False) == SYSTEM_SOCKET
    assert client_socket(0, RUNTIME, lambda path: True) == SYSTEM_SOCKET
