"""A consumer-group worker over a Redis stream: read, hand each entry to a
handler (ordered per key), acknowledge on success, and take over entries left
pending by a worker that died (docs/architecture.md#streams)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Hashable

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.infra.keyed import KeyedSerializer

log = logging.getLogger(__name__)

KeepAlive = Callable[[], Awaitable[None]]
# A handler gets the entry id, its fields, and a keep-alive for that entry: call
# it during long work (retries with backoff) so that no other replica re-claims
# the entry while it is still being handled.
Handler = Callable[[str, dict, KeepAlive], Awaitable[None]]
KeyOf = Callable[[dict], Hashable]


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class StreamWorker:
    def __init__(
        self,
        redis: Redis,
        stream: str,
        group: str,
        handler: Handler,
        key_of: KeyOf,
        *,
        concurrency: int,
        reclaim_idle_ms: int,
        dead_letter: str,
    ) -> None:
        self._redis = redis
        self._stream = stream
        self._group = group
        self._handler = handler
        self._key_of = key_of
        self._limit = concurrency
        self._reclaim_idle_ms = reclaim_idle_ms
        self._dead_letter = dead_letter
        self.consumer = consumer_name()
        self._serial = KeyedSerializer(concurrency)
        self._in_flight: set[str] = set()
        self._task: asyncio.Task | None = None
        self._stopping = False
        self._group_ready = False

    async def start(self) -> None:
        """Create the group and start reading. Redis away is not fatal: the worker
        logs it and creates the group once Redis answers (its process keeps
        running and reports Redis in its health check)."""
        try:
            await ensure_group(self._redis, self._stream, self._group)
            self._group_ready = True
        except (RedisConnectionError, RedisTimeoutError) as error:
            log.warning("stream worker %s cannot reach Redis yet (%s); retrying",
                        self._stream, error)
        self._task = asyncio.create_task(self._run(), name=f"worker:{self._stream}")

    async def stop(self) -> None:
        self._stopping = True
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._serial.cancel_all()  # unacknowledged entries stay pending for the next worker
        await asyncio.sleep(0)

    async def keep_alive(self, entry_id: str) -> None:
        """Reset the idle time of an entry still being worked on, so that a long
        retry (Rasa down) is not taken over by another replica."""
        await self._redis.xclaim(self._stream, self._group, self.consumer, 0, [entry_id],
                                 justid=True)

    async def _run(self) -> None:
        last_reclaim = 0.0
        loop = asyncio.get_running_loop()
        # Checked as well as cancelled: redis-py can swallow a cancellation that
        # lands while a fresh connection is being set up (seen with a stop right
        # after start), and the loop would then read on forever.
        while not self._stopping:
            try:
                if not self._group_ready:
                    await ensure_group(self._redis, self._stream, self._group)
                    self._group_ready = True
                if loop.time() - last_reclaim > self._reclaim_idle_ms / 3000:
                    await self._reclaim()
                    last_reclaim = loop.time()
                room = self._limit - len(self._serial)
                if room <= 0:
                    await asyncio.sleep(0.01)
                    continue
                response = await self._redis.xreadgroup(
                    self._group, self.consumer, {self._stream: ">"}, count=room, block=1000
                )
                for _, entries in response or ():
                    for entry_id, fields in entries:
                        self._submit(entry_id, fields)
            except asyncio.CancelledError:
                raise
            except ResponseError as error:
                if "NOGROUP" not in str(error):
                    log.exception("stream worker %s failed to read; retrying", self._stream)
                    await asyncio.sleep(1)
                    continue
                # Redis came back empty (restarted without its data): make the group again
                log.warning("stream worker %s: its group is gone; creating it again",
                            self._stream)
                self._group_ready = False
            except (RedisConnectionError, RedisTimeoutError) as error:
                log.warning("stream worker %s cannot reach Redis (%s); retrying",
                            self._stream, error)
                await asyncio.sleep(1)
            except Exception:
                log.exception("stream worker %s failed to read; retrying", self._stream)
                await asyncio.sleep(1)

    async def _reclaim(self) -> None:
        start = "0-0"
        while True:
            start, entries, *_ = await self._redis.xautoclaim(
                self._stream, self._group, self.consumer, self._reclaim_idle_ms, start, count=100
            )
            for entry_id, fields in entries:
                if fields:  # None: the entry was trimmed away
                    self._submit(entry_id, fields)
            if start == "0-0":
                return

    def _submit(self, entry_id: str, fields: dict) -> None:
        if entry_id in self._in_flight:
            return
        self._in_flight.add(entry_id)
        self._serial.submit(self._key_of(fields), lambda: self._handle(entry_id, fields))

    async def _handle(self, entry_id: str, fields: dict) -> None:
        try:
            await self._handler(entry_id, fields, lambda: self.keep_alive(entry_id))
        except asyncio.CancelledError:
            raise
        except (RedisConnectionError, RedisTimeoutError):
            # Transient: leave the entry pending; it is re-claimed once Redis is back.
            log.warning("entry %s of %s interrupted by a Redis error; left pending",
                        entry_id, self._stream)
            return
        except Exception:
            if self._stopping:  # shutting down mid-work: the next worker finishes it
                return
            log.exception("entry %s of %s failed; moved to %s", entry_id, self._stream,
                          self._dead_letter)
            await self._acknowledge(entry_id, dead={**fields, "source_id": entry_id})
            return
        finally:
            self._in_flight.discard(entry_id)
        await self._acknowledge(entry_id)

    async def _acknowledge(self, entry_id: str, dead: dict | None = None) -> None:
        try:
            if dead is not None:
                await self._redis.xadd(self._dead_letter, dead, maxlen=10_000,
                                       approximate=True)
            await self._redis.xack(self._stream, self._group, entry_id)
        except (RedisConnectionError, RedisTimeoutError) as error:
            # Handled, but Redis went away before the ack: the entry stays pending,
            # is re-claimed and handled again (handlers are idempotent).
            log.warning("entry %s of %s not acknowledged (%s); it will be re-claimed",
                        entry_id, self._stream, error)


async def ensure_group(redis: Redis, stream: str, group: str) -> None:
    try:
        await redis.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise

