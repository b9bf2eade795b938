"""Concurrent across keys, strictly ordered within a key.

Customers are served in parallel, but one customer's messages (and the replies
to them) are handled in the order they arrived."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable


class KeyedSerializer:
    def __init__(self, limit: int) -> None:
        self._tails: dict[Hashable, asyncio.Task] = {}
        self._running = asyncio.Semaphore(limit)
        self._tasks: set[asyncio.Task] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    @property
    def keys(self) -> int:
        """Keys with work queued or running (a burst of one key counts once)."""
        return len(self._tails)

    def submit(self, key: Hashable, work: Callable[[], Awaitable[None]]) -> asyncio.Task:
        previous = self._tails.get(key)
        task = asyncio.create_task(self._run_after(previous, work))
        self._tails[key] = task
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._forget(key, t))
        return task

    async def _run_after(self, previous: asyncio.Task | None, work: Callable[[], Awaitable[None]]):
        if previous is not None:
            await asyncio.wait([previous])  # its outcome is its own business
        async with self._running:
            await work()

    def _forget(self, key: Hashable, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if self._tails.get(key) is task:
            del self._tails[key]

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks))

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()
