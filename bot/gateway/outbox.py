"""Outbound delivery with retries: every reply is written to a durable stream
first, then delivered by a worker; a send that fails is retried with backoff,
and an outbox id that was delivered is never sent again."""

from __future__ import annotations

import asyncio
import logging
import uuid

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from bot.channels.base import ChannelAdapter, ChannelSendError, Recipient
from bot.gateway.keys import GATEWAY_KEYS, GatewayKeys
from bot.infra import metrics
from bot.infra.streams import AckWith, KeepAlive, StreamWorker
from core.models import TranscriptEntry
from core.redis import plain_pipeline

log = logging.getLogger(__name__)


class Outbox:
    def __init__(self, redis: Redis, keys: GatewayKeys = GATEWAY_KEYS) -> None:
        self._redis = redis
        self._keys = keys

    async def enqueue(self, channel: str, recipient: Recipient, entry: TranscriptEntry) -> str:
        async with self._redis.pipeline(transaction=False) as pipe:
            outbox_id = self.enqueue_in(pipe, channel, recipient, entry)
            await pipe.execute()
        return outbox_id

    def pipeline(self) -> Pipeline:
        """A pipeline on the outbox's Redis, for enqueue_in with other writes
        (core.redis.plain_pipeline: the caller knows it is no Cluster)."""
        return plain_pipeline(self._redis)

    def enqueue_in(self, pipe: Pipeline, channel: str, recipient: Recipient,
                   entry: TranscriptEntry) -> str:
        """enqueue as part of the caller's pipeline; the outbox id."""
        outbox_id = uuid.uuid4().hex
        pipe.xadd(
            self._keys.outbox_stream,
            {
                "outbox_id": outbox_id,
                "channel": channel,
                "customer_id": recipient.customer_id,
                "channel_user_id": recipient.channel_user_id,
                "entry": entry.model_dump_json(),
            },
            maxlen=100_000,
            approximate=True,
        )
        return outbox_id


class OutboxSender:
    """Delivers outbox entries through the registered channel adapters."""

    def __init__(
        self,
        redis: Redis,
        channels: dict[str, ChannelAdapter],
        *,
        concurrency: int,
        reclaim_idle_ms: int,
        max_attempts: int,
        backoff_s: float,
        backoff_max_s: float,
        keys: GatewayKeys = GATEWAY_KEYS,
        consumer: str | None = None,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._channels = channels
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._backoff_max_s = backoff_max_s
        self.worker = StreamWorker(
            redis,
            keys.outbox_stream,
            "senders",
            self._deliver,
            key_of=lambda f: (f["channel"], f["channel_user_id"]),
            concurrency=concurrency,
            reclaim_idle_ms=reclaim_idle_ms,
            dead_letter=keys.outbox_dead,
            ordered=True,  # one customer's replies go out in order, whichever replica sends
            consumer=consumer,
        )

    async def _deliver(self, entry_id: str, fields: dict, keep_alive: KeepAlive
                       ) -> AckWith | None:
        outbox_id = fields["outbox_id"]
        done_key = self._keys.outbox_done(outbox_id)
        if await self._redis.exists(done_key):
            return None  # delivered before a crash kept us from acknowledging
        channel = self._channels.get(fields["channel"])
        if channel is None:
            raise LookupError(f"no channel adapter {fields['channel']!r} for outbox {outbox_id}")
        recipient = Recipient(fields["customer_id"], fields["channel_user_id"])
        entry = TranscriptEntry.model_validate_json(fields["entry"])
        delay = self._backoff_s
        for attempt in range(1, self._max_attempts + 1):
            try:
                await channel.send(recipient, entry)
                break
            except ChannelSendError as exc:
                metrics.OUTBOUND_FAILURES.labels(channel=fields["channel"]).inc()
                if attempt == self._max_attempts:
                    raise
                wait = exc.retry_after if exc.retry_after is not None else delay
                log.warning("send %s on %s failed (%s); retry %s in %.1fs",
                            outbox_id, fields["channel"], exc, attempt, wait)
                await keep_alive()
                await asyncio.sleep(wait)
                delay = min(delay * 2, self._backoff_max_s)
        metrics.OUTBOUND_MESSAGES.labels(channel=fields["channel"]).inc()
        # delivered: recorded with the acknowledgement, in one round trip
        return lambda pipe: pipe.set(done_key, "1", ex=7 * 24 * 3600)
