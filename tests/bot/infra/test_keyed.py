import asyncio

from bot.infra.keyed import KeyedSerializer


async def test_same_key_runs_in_order_other_keys_in_parallel():
    serial = KeyedSerializer(limit=10)
    log: list[str] = []
    started_b = asyncio.Event()

    def job(name: str, delay: float, signal: asyncio.Event | None = None):
        async def run():
            if signal:
                signal.set()
            await asyncio.sleep(delay)
            log.append(name)
        return run

    serial.submit("alice", job("a1", 0.05))
    serial.submit("alice", job("a2", 0.0))
    serial.submit("bob", job("b1", 0.0, started_b))
    await serial.drain()
    assert log.index("a1") < log.index("a2")  # a2 waited for a1 despite being faster
    assert log.index("b1") < log.index("a1")  # bob did not wait for alice


async def test_a_failing_job_does_not_block_the_next_one_for_that_key():
    serial = KeyedSerializer(limit=2)
    done: list[int] = []

    async def boom():
        raise RuntimeError("x")

    async def ok():
        done.append(1)

    serial.submit("k", boom)
    serial.submit("k", ok)
    await serial.drain()
    assert done == [1]
