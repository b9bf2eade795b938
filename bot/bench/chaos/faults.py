"""The faults: each kills one process with SIGKILL and brings it back, the way
a supervisor (or Kubernetes) would, while the customers keep talking.

Each returns when the process is back (healthy, or the failover is done):
`back_s` is that time from the kill. Blocking work (waiting for health) runs in
a thread so the customers' event loop keeps going."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import redis as redis_sync

from bot.bench.chaos.drivers import SandboxPoller
from bot.bench.chaos.topology import SENTINEL_MASTER, Proc, RedisNode, Topology
from bot.infra.redis_procs import wait_for_master

DESCRIPTIONS = {
    "gateway": "SIGKILL gateway-0, restart it (its web chat customers move to gateway-1)",
    "action_server": "SIGKILL actions-0, restart it",
    "rasa": "SIGKILL rasa-0, restart it",
    "redis_restart": "SIGKILL the Redis master, restart it from its AOF (no failover)",
    "redis_failover": "SIGKILL the Redis master; Sentinel promotes the replica",
    "platform": "SIGKILL the platform sandbox (Telegram, Twilio), restart it",
    "webhook_receiver": "SIGKILL the ticket-webhook receiver, restart it",
}


@dataclass
class Outcome:
    name: str
    t_fault: float  # wall clock of the kill
    back_s: float | None  # kill → process healthy again / failover done
    skipped: str | None = None


async def _kill_restart(proc: Proc | RedisNode) -> float:
    started = time.monotonic()
    await asyncio.to_thread(proc.kill)
    await asyncio.to_thread(proc.restart)
    return time.monotonic() - started


async def _redis_restart(topo: Topology) -> float:
    """Kill the master and start it again from its append-only file. With
    Sentinels, the replica's priority is 0 meanwhile, so none fails over."""
    replica = redis_sync.Redis(port=topo.redis_replica.port)
    if topo.sentinels:
        replica.config_set("replica-priority", 0)
    try:
        back = await _kill_restart(topo.redis_master)
        await asyncio.to_thread(topo.wait_replica_synced)
    finally:
        if topo.sentinels:
            with contextlib.suppress(redis_sync.RedisError):
                replica.config_set("replica-priority", 100)
        replica.close()
    return back


async def _redis_failover(topo: Topology) -> float:
    """Kill the master; done when every Sentinel names the replica and it says it
    is the master. The old master then comes back and Sentinel turns it into a
    replica; the two swap roles in the topology, so a later fault kills the
    current master."""
    started = time.monotonic()
    await asyncio.to_thread(topo.redis_master.kill)
    servers = [n.server for n in topo.sentinels if n.server is not None]
    await asyncio.to_thread(wait_for_master, servers, SENTINEL_MASTER,
                            topo.redis_replica.port, 60)
    back = time.monotonic() - started
    old = topo.redis_master
    await asyncio.to_thread(old.restart, topo.redis_replica.port)
    topo.redis_master, topo.redis_replica = topo.redis_replica, old
    await asyncio.to_thread(topo.wait_replica_synced)
    return back


async def _platform(topo: Topology, poller: SandboxPoller) -> float:
    """Kill the sandbox and bring it back. Its state is in memory: the users are
    registered again in the same order (the same chat ids), and replies it
    accepted in the instant before the kill but that were not yet read are
    counted as lost (the poll just before the kill makes that window small)."""
    async with poller.paused:
        await poller.poll_all()
        back = await _kill_restart(topo.sandbox)
        await poller.sandbox_restarted()
    return back


async def _cluster_failover(topo: Topology) -> float:
    """Kill a cluster primary; done when the cluster is ok again with its replica
    promoted. The old primary then comes back as a replica."""
    cluster = topo.cluster
    assert cluster is not None
    victim = cluster.primaries()[0]
    started = time.monotonic()
    await asyncio.to_thread(cluster.kill, victim)

    def promoted() -> None:
        while victim in cluster.primaries():
            time.sleep(0.1)
        cluster.wait_ok(60)

    await asyncio.to_thread(promoted)
    back = time.monotonic() - started
    await asyncio.to_thread(cluster.restart, victim)
    return back


def injector(name: str, topo: Topology, poller: SandboxPoller
             ) -> Callable[[], Awaitable[float]] | str:
    """The fault's coroutine factory, or why it cannot run on this topology.
    With a cluster, `redis_restart` is Rasa's own Redis (plain, AOF) and
    `redis_failover` a cluster primary."""
    if name == "redis_failover" and topo.cluster is not None:
        return lambda: _cluster_failover(topo)
    if name == "redis_failover" and not topo.sentinels:
        return ("needs redis+sentinel URLs (branch redisf): with the master's plain URL "
                "every process would keep writing to the old master")
    table: dict[str, Callable[[], Awaitable[float]]] = {
        "gateway": lambda: _kill_restart(topo.gateways[0]),
        "action_server": lambda: _kill_restart(topo.actions[0]),
        "rasa": lambda: _kill_restart(topo.rasa[0]),
        "redis_restart": lambda: _redis_restart(topo),
        "redis_failover": lambda: _redis_failover(topo),
        "platform": lambda: _platform(topo, poller),
        "webhook_receiver": lambda: _kill_restart(topo.receiver),
    }
    return table[name]
