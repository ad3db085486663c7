"""Small helpers shared by the SpacetimeDB tests: a free TCP port, running a coroutine with a
deadline, and polling a condition."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(coro: Awaitable[T]) -> T:
    """Run `coro` in a new event loop; it fails after 60 seconds."""

    async def main() -> T:
        return await asyncio.wait_for(coro, 60)

    return asyncio.run(main())


async def wait_until(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll `cond` every 10 ms; AssertionError when it is not true within `timeout` s."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)
