"""Run a few awaitables at once and keep their results in order (trio has no ``gather``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

import trio

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

__all__ = ["gather"]

T = TypeVar("T")


async def gather(calls: Sequence[Callable[[], Awaitable[T]]]) -> list[T]:
    """Run the calls concurrently; their results in the calls' order."""
    if len(calls) == 1:
        return [await calls[0]()]  # the common single-program request: no nursery, no task
    results: dict[int, T] = {}

    async def one(i: int) -> None:
        results[i] = await calls[i]()

    async with trio.open_nursery() as nursery:
        for i in range(len(calls)):
            nursery.start_soon(one, i)
    return [results[i] for i in range(len(calls))]
