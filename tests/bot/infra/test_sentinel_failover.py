"""A stream worker on a redis+sentinel:// client keeps working across a failover:
a real master, a replica and three Sentinels; the master is killed (SIGKILL) and
the Sentinels promote the replica while entries keep arriving."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.infra.redis_procs import (
    free_port,
    sentinel_url,
    start_redis,
    start_sentinels,
    stop_all,
    wait_for_master,
)
from bot.infra.streams import StreamWorker
from core.redis import text_client
from tests import slot_guard

STREAM = "fd:test:failover"
SERVICE = "frontdoor"


@pytest.fixture
def sentinel_setup(tmp_path):
    master = start_redis(free_port(), tmp_path / "master")
    replica = start_redis(free_port(), tmp_path / "replica", replica_of=master.port)
    sentinels = start_sentinels([free_port() for _ in range(3)], tmp_path / "sentinels",
                                master_port=master.port, service=SERVICE, replicas=1,
                                down_after_ms=1000, failover_timeout_ms=3000)
    yield master, replica, sentinels
    stop_all([*sentinels, replica, master])


async def until(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


@pytest.mark.slow  # about 10 s: the Sentinels meet, notice the dead master and vote
async def test_a_stream_worker_on_sentinel_loses_no_entry_across_a_failover(sentinel_setup):
    master, replica, sentinels = sentinel_setup
    url = sentinel_url(sentinels, SERVICE)
    consumer, producer = text_client(url), text_client(url)
    handled: set[str] = set()

    async def handle(entry_id: str, fields: dict, keep_alive) -> None:
        handled.add(fields["n"])

    worker = StreamWorker(consumer, STREAM, "testers", handle, key_of=lambda f: f["n"],
                          concurrency=8, reclaim_idle_ms=1000, dead_letter=f"{STREAM}:dead")

    async def add(n: int) -> None:
        """XADD until a server keeps the entry: the replica has it too (WAIT), or it
        went to the promoted replica. Replication is asynchronous, so an entry the
        old master acknowledged but had not passed on when it died would be lost
        by Redis itself; what we check is that our side loses nothing."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                # one connection; INFO in a pipeline is the test's own probe (a
                # cluster pipeline would refuse it, so the slot guard is paused)
                async with producer.pipeline(transaction=False) as pipe:
                    pipe.xadd(STREAM, {"n": str(n)})
                    pipe.execute_command("WAIT", 1, 250)  # 0 after: no replica left
                    pipe.execute_command("INFO", "server")
                    with slot_guard.paused():
                        _, replicas, info = await pipe.execute()
                if replicas >= 1 or int(info["tcp_port"]) != master.port:
                    return
            except (RedisConnectionError, RedisTimeoutError):
                await asyncio.sleep(0.05)  # the client already retried with backoff
        raise AssertionError(f"entry {n} was not taken within 20 s")

    await worker.start()
    try:
        for n in range(20):
            await add(n)
        await until(lambda: len(handled) == 20, 5, "the entries added before the failover")

        master.kill()  # SIGKILL: no goodbye to the clients, the replica or the Sentinels
        during = asyncio.gather(*(add(n) for n in range(20, 30)))
        await asyncio.to_thread(wait_for_master, sentinels, SERVICE, replica.port, 15)
        await asyncio.wait_for(during, 15)
        await asyncio.gather(*(add(n) for n in range(30, 40)))

        await until(lambda: len(handled) == 40, 15, "every entry to be handled")
        assert handled == {str(n) for n in range(40)}
        assert await producer.xlen(f"{STREAM}:dead") == 0
    finally:
        await worker.stop()
        await consumer.aclose()
        await producer.aclose()
