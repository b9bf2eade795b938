"""Every Redis client of the project is made here.

Text data (hashes, strings, streams, sets of ids and JSON) goes through a *text*
client: `decode_responses=True`, so replies are `str` and nobody decodes.
Binary values (embedding vectors, the pickled knowledge head) go through a
*binary* client, whose replies are `bytes`. A text client made here carries its
binary twin (`binary_of`), made on first use with the same connection settings
and closed with it, so a part that needs both takes only the text client.
"""

from __future__ import annotations

from typing import Any

import redis as redis_sync
from redis.asyncio import ConnectionPool, Redis


class TextRedis(Redis):
    """A text client that can hand out its binary twin (see `binary_of`)."""

    _binary: Redis | None = None

    @property
    def binary(self) -> Redis:
        if self._binary is None:
            pool = self.connection_pool
            kwargs = {**pool.connection_kwargs, "decode_responses": False}
            self._binary = Redis.from_pool(ConnectionPool(
                connection_class=pool.connection_class, max_connections=pool.max_connections,
                **kwargs))
        return self._binary

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        if self._binary is not None:
            await self._binary.aclose()
            self._binary = None
        await super().aclose(close_connection_pool)


def text_client(url: str, **kwargs: Any) -> TextRedis:
    """An asyncio client whose replies are str."""
    return TextRedis.from_url(url, decode_responses=True, **kwargs)


def binary_client(url: str, **kwargs: Any) -> Redis:
    """An asyncio client whose replies are bytes (embeddings, pickles)."""
    return Redis.from_url(url, decode_responses=False, **kwargs)


def binary_of(client: Any) -> Any:
    """The binary client to use next to `client` (a `Redis`, or a `RedisCluster` from
    core/redis_cluster.py): the client itself when it does not decode, else the twin
    of a text client made here or by `cluster_text_client` (duck-typed: `.binary`)."""
    if not client.get_encoder().decode_responses:
        return client
    binary = getattr(client, "binary", None)
    if binary is not None:
        return binary
    raise TypeError("binary values need a client from core.redis (text_client or binary_client)")


def sync_text_client(url: str | None = None, **kwargs: Any) -> redis_sync.Redis:
    """A blocking client whose replies are str (scripts, test helpers, health checks)."""
    if url is None:
        return redis_sync.Redis(decode_responses=True, **kwargs)
    return redis_sync.Redis.from_url(url, decode_responses=True, **kwargs)
