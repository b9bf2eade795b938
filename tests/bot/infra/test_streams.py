"""Stream workers start and stop cleanly."""

from __future__ import annotations

import asyncio

import pytest

from bot.infra.streams import StreamWorker


async def _nothing(entry_id: str, fields: dict, keep_alive) -> None:
    return None


@pytest.mark.slow  # seconds of real waiting: in make test, not test-fast
async def test_a_worker_stopped_right_after_it_started_stops_within_seconds(redis):
    # redis-py may swallow a cancellation that lands while the worker's first
    # blocking read sets up its connection; the stop must not wait forever.
    workers = [StreamWorker(redis, f"test:stream:{i}", "group", _nothing, key_of=lambda f: 1,
                            concurrency=4, reclaim_idle_ms=30_000, dead_letter="test:dead")
               for i in range(3)]
    for worker in workers:
        await worker.start()
    await asyncio.wait_for(asyncio.gather(*(w.stop() for w in workers)), timeout=10)


@pytest.mark.slow  # seconds of real waiting: in make test, not test-fast
async def test_a_handler_keeps_its_entry_alive_so_no_replica_reclaims_it(redis):
    seen: list[str] = []
    started, release = asyncio.Event(), asyncio.Event()

    async def slow(entry_id: str, fields: dict, keep_alive) -> None:
        seen.append(entry_id)
        started.set()
        for _ in range(25):  # well past the idle time and the replica's next re-claim
            await keep_alive()
            await asyncio.sleep(0.1)
        release.set()

    first = StreamWorker(redis, "test:kept", "group", slow, key_of=lambda f: 1,
                         concurrency=4, reclaim_idle_ms=300, dead_letter="test:dead")
    second = StreamWorker(redis, "test:kept", "group", slow, key_of=lambda f: 1,
                          concurrency=4, reclaim_idle_ms=300, dead_letter="test:dead")
    await first.start()
    await redis.xadd("test:kept", {"n": "1"})
    await asyncio.wait_for(started.wait(), timeout=10)
    await second.start()  # a replica that would re-claim an idle entry
    await asyncio.wait_for(release.wait(), timeout=10)
    await asyncio.gather(first.stop(), second.stop())
    assert len(seen) == 1  # handled once, never taken over
