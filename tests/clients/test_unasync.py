"""The blocking client is generated from the async one, and the file on disk is up to date."""

from __future__ import annotations

from tests.clients import unasync


def test_sync_client_is_generated_from_the_async_one() -> None:
    assert unasync.check(), "run: python -m tests.clients.unasync"


def test_the_generated_client_has_no_async_left() -> None:
    text = unasync.generate(unasync.SOURCE.read_text())
    for word in ("async ", "await ", "anyio", "AsyncClient", "StopAsyncIteration", "aclose"):
        assert word not in text, word
