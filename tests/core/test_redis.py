"""The client factory: text clients answer str, binary values keep their bytes."""

from __future__ import annotations

import numpy as np

from core.redis import binary_client, binary_of, text_client


async def test_a_text_client_answers_str_and_its_twin_answers_bytes(redis_server):
    client = text_client(f"{redis_server}/1")
    try:
        vector = np.arange(4, dtype=np.float32)
        await client.hset("fd:test:h", mapping={"name": "Åsa"})
        await binary_of(client).set("fd:test:v", vector.tobytes())
        assert await client.hgetall("fd:test:h") == {"name": "Åsa"}
        raw = await binary_of(client).get("fd:test:v")
        assert isinstance(raw, bytes)
        np.testing.assert_array_equal(np.frombuffer(raw, dtype=np.float32), vector)
        assert binary_of(client) is binary_of(client)  # one twin per client
        await client.delete("fd:test:h", "fd:test:v")
    finally:
        await client.aclose()


async def test_a_binary_client_is_its_own_binary_client(redis_server):
    client = binary_client(f"{redis_server}/1")
    try:
        assert binary_of(client) is client
    finally:
        await client.aclose()
