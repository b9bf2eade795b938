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


def _worker(redis, stream: str, handler, name: str | None = None, reclaim_ms: int = 300,
            ordered: bool = True) -> StreamWorker:
    return StreamWorker(redis, stream, "group", handler, key_of=lambda f: f["key"],
                        concurrency=8, reclaim_idle_ms=reclaim_ms, dead_letter="test:dead",
                        consumer=name, ordered=ordered)


async def _until(condition, timeout_s: float = 10) -> None:
    for _ in range(int(timeout_s * 100)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


async def test_one_keys_entries_run_in_stream_order_across_two_live_workers(redis):
    log: list[tuple[str, str]] = []

    async def handler(entry_id: str, fields: dict, keep_alive) -> None:
        log.append(("start", fields["n"]))
        await asyncio.sleep(0.03)
        log.append(("end", fields["n"]))

    workers = [_worker(redis, "test:order", handler, reclaim_ms=30_000) for _ in range(2)]
    for worker in workers:
        await worker.start()
    for n in range(8):
        await redis.xadd("test:order", {"key": "customer-1", "n": str(n)})
    await _until(lambda: len(log) == 16)
    await asyncio.gather(*(w.stop() for w in workers))
    # never two at once, and in the order they arrived, whichever worker read them
    assert log == [(step, str(n)) for n in range(8) for step in ("start", "end")]


async def test_an_entry_queued_behind_a_slow_one_of_its_key_is_not_taken_over(redis):
    seen: list[str] = []

    async def slow(entry_id: str, fields: dict, keep_alive) -> None:  # never calls keep_alive
        seen.append(fields["n"])
        if fields["n"] == "0":
            await asyncio.sleep(1.2)  # four times the takeover time

    first = _worker(redis, "test:queued", slow)
    await first.start()
    await redis.xadd("test:queued", {"key": "k", "n": "0"})
    await _until(lambda: seen == ["0"])
    await redis.xadd("test:queued", {"key": "k", "n": "1"})  # waits behind "0" in `first`
    second = _worker(redis, "test:queued", slow)
    await second.start()
    await _until(lambda: len(seen) == 2)
    await asyncio.sleep(0.4)  # a takeover would have happened by now: none may come
    await asyncio.gather(first.stop(), second.stop())
    assert seen == ["0", "1"]


async def test_a_restarted_worker_resumes_its_own_pending_entries_at_once(redis):
    started = asyncio.Event()
    done: list[str] = []

    async def hangs(entry_id: str, fields: dict, keep_alive) -> None:
        started.set()
        await asyncio.Event().wait()

    async def handles(entry_id: str, fields: dict, keep_alive) -> None:
        done.append(fields["n"])

    crashed = _worker(redis, "test:resume", hangs, name="host-8000", reclaim_ms=60_000)
    await crashed.start()
    await redis.xadd("test:resume", {"key": "k", "n": "1"})
    await asyncio.wait_for(started.wait(), 10)
    await crashed.stop()  # left pending, under its name
    restarted = _worker(redis, "test:resume", handles, name="host-8000", reclaim_ms=60_000)
    await restarted.start()
    await _until(lambda: done == ["1"], timeout_s=5)  # not after the minute of reclaim_idle
    await restarted.stop()
    assert (await redis.xpending("test:resume", "group"))["pending"] == 0


async def test_a_burst_from_one_key_does_not_hold_back_the_others(redis):
    # One customer sends 100 messages at once while another sends one: the
    # burst holds one place of the worker's concurrency (4 here; it reads up to
    # 4 x 32 entries ahead), so the other customer is answered long before the
    # burst is through, and the burst itself stays in order.
    handled: list[tuple[str, int]] = []

    async def turn(entry_id: str, fields: dict, keep_alive) -> None:
        await asyncio.sleep(0.005)  # a bot turn
        handled.append((fields["key"], int(fields["n"])))

    for n in range(100):
        await redis.xadd("test:burst", {"key": "burst", "n": str(n)})
    await redis.xadd("test:burst", {"key": "other", "n": "0"})
    worker = StreamWorker(redis, "test:burst", "group", turn, key_of=lambda f: f["key"],
                          concurrency=4, reclaim_idle_ms=30_000, dead_letter="test:dead")
    await worker.start()
    try:
        await _until(lambda: len(handled) == 101)
    finally:
        await worker.stop()
    assert handled.index(("other", 0)) < 20
    assert [n for key, n in handled if key == "burst"] == list(range(100))
