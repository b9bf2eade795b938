"""Redis Cluster clients, the twins of core/redis.py's single-server clients.

`cluster_text_client` mirrors `text_client`: replies are `str`, and the client
carries a binary twin (`.binary`, replies are `bytes`) over the same nodes,
made on first use and closed with it, so `core.redis.binary_of` works on it.

What the project needs from redis-py's asyncio cluster client (8.1, checked by
tests/core/test_redis_cluster.py against a real cluster):
- `pipeline(transaction=True)` and WATCH: supported when every key of the
  transaction is in one hash slot (the key schema guarantees it,
  docs/architecture.md#keys); non-transactional pipelines are split per node;
- `register_script` / EVALSHA: routed by the script's KEYS (one slot);
- MGET of one slot; DEL/EXISTS/UNLINK/TOUCH of several slots are split per
  slot by the client (not atomic: nothing relies on that);
- classic PUBLISH / PSUBSCRIBE: a cluster forwards every PUBLISH to all nodes,
  so the live hub's one pattern subscription on any node sees every frame;
- SCAN is per node: `scan_iter` of the cluster client walks every primary.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis as redis_sync
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.cluster import ClusterNode as SyncClusterNode


class TextRedisCluster(RedisCluster):
    """A cluster client whose replies are str, with its binary twin (`binary`)."""

    def __init__(self, nodes: Sequence[tuple[str, int]], **kwargs: Any) -> None:
        self._nodes = [(host, int(port)) for host, port in nodes]
        self._twin_kwargs = dict(kwargs)
        self._binary: RedisCluster | None = None
        super().__init__(startup_nodes=[ClusterNode(host, port) for host, port in self._nodes],
                         decode_responses=True, **kwargs)

    @property
    def nodes(self) -> list[tuple[str, int]]:
        """The startup nodes this client was made with."""
        return list(self._nodes)

    @property
    def binary(self) -> RedisCluster:
        if self._binary is None:
            self._binary = RedisCluster(
                startup_nodes=[ClusterNode(host, port) for host, port in self._nodes],
                decode_responses=False, **self._twin_kwargs)
        return self._binary

    async def aclose(self) -> None:
        if self._binary is not None:
            await self._binary.aclose()
            self._binary = None
        await super().aclose()


def cluster_text_client(nodes: Sequence[tuple[str, int]], **kwargs: Any) -> TextRedisCluster:
    """An asyncio Redis Cluster client whose replies are str; `nodes` are the
    startup nodes (any reachable one is enough, the rest are discovered)."""
    if not nodes:
        raise ValueError("a cluster client needs at least one node")
    return TextRedisCluster(nodes, **kwargs)


def sync_cluster_text_client(nodes: Sequence[tuple[str, int]],
                             **kwargs: Any) -> redis_sync.RedisCluster:
    """A blocking cluster client whose replies are str (scripts, health checks)."""
    if not nodes:
        raise ValueError("a cluster client needs at least one node")
    return redis_sync.RedisCluster(
        startup_nodes=[SyncClusterNode(host, int(port)) for host, port in nodes],
        decode_responses=True, **kwargs)
