"""Live frames over Redis pub/sub: for connected web chat sockets, and for
agent consoles (every transcript entry of a customer, queue and ticket events).

One pattern subscription per gateway process; frames published by any replica
reach whichever replica holds the socket (docs/architecture.md#processes). On
Redis Cluster this stays classic pub/sub: the cluster forwards every PUBLISH to
all nodes, so the one PSUBSCRIBE, on whichever node, sees every customer's
frames (tests/core/test_redis_cluster.py); sharded pub/sub has no patterns."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.infra.keys import LIVE_KEYS, LiveKeys
from bot.rendering.web import entry_view
from core.models import TranscriptEntry
from core.redis import plain_pipeline
from handoff.lookup import EVENTS_CHANNEL

log = logging.getLogger(__name__)


async def publish_moved(redis: Redis, customer_id: str, keys: LiveKeys = LIVE_KEYS) -> None:
    """Tell open web chats of this customer to look up their customer again (a
    merge or unmerge moved their identity; bot/channels/web/routes.py follows)."""
    await redis.publish(keys.live(customer_id), json.dumps({"type": "moved"}))


class LiveHub:
    def __init__(self, redis: Redis, keys: LiveKeys = LIVE_KEYS) -> None:
        self._redis = redis
        self._keys = keys
        self._queues: dict[str, set[asyncio.Queue]] = defaultdict(set)
        self._reader: asyncio.Task | None = None
        self._tried = asyncio.Event()  # the first subscription attempt is over

    async def start(self) -> None:
        """Start reading; return once subscribed, or once the first attempt failed
        (Redis away: the reader keeps trying, and the gateway starts anyway and
        reports Redis in its health check)."""
        self._reader = asyncio.create_task(self._read_forever(), name="live-hub")
        await asyncio.wait_for(self._tried.wait(), timeout=30)

    async def stop(self) -> None:
        if self._reader:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def publish(self, customer_id: str, frame: dict) -> None:
        await self._redis.publish(self._keys.live(customer_id), json.dumps(frame))

    async def publish_entry(self, customer_id: str, entry: TranscriptEntry) -> None:
        await self.publish(customer_id, {"type": "entry", "entry": entry_view(entry)})

    async def publish_log(self, customer_id: str, entry: TranscriptEntry) -> None:
        """Every transcript entry, for agent consoles watching this customer."""
        await self._redis.publish(*self._log_frame(customer_id, entry))

    @property
    def publishes_in_pipelines(self) -> bool:
        """Whether publish_log_in may be used: redis-py's cluster pipelines refuse
        PUBLISH (a pipeline there is routed by its keys, and a channel is none)."""
        return not isinstance(self._redis, RedisCluster)

    def publish_log_in(self, pipe: Pipeline, customer_id: str, entry: TranscriptEntry) -> None:
        """publish_log as part of the caller's pipeline (one round trip with its
        other writes); only where publishes_in_pipelines."""
        pipe.publish(*self._log_frame(customer_id, entry))

    async def publish_customer_entry(self, customer_id: str, entry: TranscriptEntry,
                                     language: str | None = None) -> None:
        """A customer's own message, to their open widgets and to agent consoles
        in one round trip. `language`: the customer's language after this message
        (the widget's labels follow it without asking Redis)."""
        frame: dict = {"type": "entry", "entry": entry_view(entry)}
        if language is not None:
            frame["language"] = language
        if not self.publishes_in_pipelines:
            await self.publish(customer_id, frame)
            await self.publish_log(customer_id, entry)
            return
        async with plain_pipeline(self._redis) as pipe:
            pipe.publish(self._keys.live(customer_id), json.dumps(frame))
            self.publish_log_in(pipe, customer_id, entry)
            await pipe.execute()

    def _log_frame(self, customer_id: str, entry: TranscriptEntry) -> tuple[str, str]:
        return self._keys.live_log(customer_id), json.dumps(
            {"type": "entry", "customer_id": customer_id, "entry": entry_view(entry)})

    def subscribe(self, customer_id: str):
        return self._subscribe(self._keys.live(customer_id))

    def subscribe_log(self, customer_id: str):
        return self._subscribe(self._keys.live_log(customer_id))

    def subscribe_handoff(self):
        """Queue and ticket events for agent consoles (published by any process)."""
        return self._subscribe(EVENTS_CHANNEL)

    @contextlib.asynccontextmanager
    async def _subscribe(self, channel: str) -> AsyncIterator[asyncio.Queue]:
        queue: asyncio.Queue = asyncio.Queue(maxsize=1000)
        self._queues[channel].add(queue)
        try:
            yield queue
        finally:
            self._queues[channel].discard(queue)
            if not self._queues[channel]:
                del self._queues[channel]

    async def _read_forever(self) -> None:
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(self._keys.live("*").replace("{*}", "*"),
                                        EVENTS_CHANNEL)
                self._tried.set()
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._dispatch(message)
            except asyncio.CancelledError:
                await pubsub.aclose()
                raise
            except Exception as error:  # Redis went away: resubscribe, sockets stay open
                if isinstance(error, (RedisConnectionError, RedisTimeoutError)):
                    log.warning("live hub cannot reach Redis (%s); retrying", error)
                else:
                    log.exception("live hub lost its subscription; retrying")
                self._tried.set()
                await pubsub.aclose()
                await asyncio.sleep(1)

    def _dispatch(self, message: dict) -> None:
        queues = self._queues.get(message["channel"])
        if not queues:  # every frame of every customer reaches every gateway: most
            return  # have no socket here, and are not even parsed
        channel = message["channel"]
        frame = json.loads(message["data"])
        for queue in queues:
            try:
                queue.put_nowait(frame)
            except asyncio.QueueFull:
                log.warning("live queue full for %s; frame dropped (history replays it)", channel)
