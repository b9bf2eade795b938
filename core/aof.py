"""Redis's append-only file after an erasure.

Deleting a key does not remove its old value from the append-only file (AOF):
the file keeps every write until Redis rewrites it from the live data. So after
an erasure `rewrite_after_erase` asks Redis to rewrite it (BGREWRITEAOF) when
AOF is on. Managed Redis services often disable CONFIG and BGREWRITEAOF; then
the outcome says that an operator must rewrite the file (or rely on the
provider's own rewrite schedule), and the caller shows that to the person who
erased. The rewrite runs in the background; `rewrite_finished` waits for it.
RDB snapshots and replicas' files are not touched here (see docs/security.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Literal

from redis.asyncio import Redis
from redis.exceptions import ResponseError

log = logging.getLogger(__name__)

OPERATOR_NOTE = ("Redis's append-only file still holds the erased values: an operator "
                 "must rewrite it (BGREWRITEAOF, or the provider's AOF rewrite) to remove them.")
_BUSY_WAIT_S = 30.0  # a rewrite already running began before the erasure: wait, then ours


@dataclass(frozen=True)
class AofOutcome:
    status: Literal["off", "rewriting", "operator"]
    """off: AOF is not enabled, nothing to rewrite; rewriting: BGREWRITEAOF was
    started or scheduled; operator: it could not be started here (see `note`)."""
    note: str = ""


async def aof_enabled(redis: Redis) -> bool | None:
    """Whether AOF is on: CONFIG GET appendonly, else INFO persistence (which
    managed services usually still answer); None when neither answers."""
    try:
        return (await redis.config_get("appendonly")).get("appendonly") == "yes"
    except ResponseError:
        pass
    try:
        return str((await redis.info("persistence")).get("aof_enabled")) == "1"
    except ResponseError:
        return None


async def rewrite_after_erase(redis: Redis, busy_wait_s: float = _BUSY_WAIT_S) -> AofOutcome:
    """Start an AOF rewrite if AOF is enabled; never raises for a refused command."""
    enabled = await aof_enabled(redis)
    if enabled is False:
        return AofOutcome("off")
    deadline = time.monotonic() + busy_wait_s
    while True:
        try:
            await redis.bgrewriteaof(**_every_node(redis))
            return AofOutcome("rewriting")
        except ResponseError as exc:
            # A rewrite already running snapshotted the data before the erasure.
            if "already in progress" in str(exc) and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                continue
            log.warning("could not start BGREWRITEAOF after an erasure (%s): %s",
                        exc, OPERATOR_NOTE)
            return AofOutcome("operator", OPERATOR_NOTE)


async def rewrite_finished(redis: Redis, timeout_s: float = 60.0) -> bool:
    """Wait until no AOF rewrite is in progress or scheduled; False on timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        info = await redis.info("persistence", **_every_node(redis))
        nodes = list(info.values()) if _every_node(redis) else [info]
        if not any(int(n.get("aof_rewrite_in_progress", 0)) or
                   int(n.get("aof_rewrite_scheduled", 0)) for n in nodes):
            return True
        await asyncio.sleep(0.1)
    return False


def _every_node(redis: Redis) -> dict:
    """On Redis Cluster (core/redis_cluster.py) every node keeps its own AOF: send
    the command to all of them (redis-py's cluster client answers per node)."""
    return {"target_nodes": redis.get_nodes()} if hasattr(redis, "get_primaries") else {}
