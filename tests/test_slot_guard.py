"""The test-time guard (tests/slot_guard.py): the plain Redis of the tests refuses
what Redis Cluster would refuse, so a cross-slot call fails without a cluster."""

from __future__ import annotations

import pytest

from tests.slot_guard import CrossSlotError

A, B = "fd:{c_aaaaaaaaaaaaaaaa}:x", "fd:{c_bbbbbbbbbbbbbbbb}:x"
A2 = "fd:{c_aaaaaaaaaaaaaaaa}:y"


async def test_multi_key_commands_and_scripts_must_stay_in_one_slot(redis):
    assert await redis.mget(A, A2) == [None, None]
    with pytest.raises(CrossSlotError, match="MGET"):
        await redis.mget(A, B)
    with pytest.raises(CrossSlotError):
        await redis.rename(A, B)
    with pytest.raises(CrossSlotError):
        await redis.eval("return 1", 2, A, B)
    assert await redis.eval("return 1", 2, A, A2) == 1
    assert await redis.delete(A, B) == 0  # split per slot by the cluster client


async def test_a_transaction_and_its_watched_keys_must_stay_in_one_slot(redis):
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(A, "1").set(A2, "2")
        await pipe.execute()
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(A, "1").delete(B)
        with pytest.raises(CrossSlotError, match="MULTI"):
            await pipe.execute()
    async with redis.pipeline(transaction=True) as pipe:
        await pipe.watch(A)
        with pytest.raises(CrossSlotError, match="WATCH"):
            await pipe.get(B)
    async with redis.pipeline(transaction=False) as pipe:  # not atomic: any slots
        pipe.get(A).get(B)
        assert await pipe.execute() == ["1", None]


async def test_a_pipeline_holds_no_command_the_cluster_pipeline_refuses(redis):
    async with redis.pipeline(transaction=True) as pipe:
        await pipe.watch(A)
        with pytest.raises(CrossSlotError, match="MGET in a pipeline"):
            await pipe.mget(A, A2)  # one slot, but refused by redis-py's cluster pipeline
    async with redis.pipeline(transaction=False) as pipe:
        pipe.publish("fd:live:{c_aaaaaaaaaaaaaaaa}", "{}")
        with pytest.raises(CrossSlotError, match="PUBLISH in a pipeline"):
            await pipe.execute()
