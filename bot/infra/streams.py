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
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.infra.keyed import KeyedSerializer

log = logging.getLogger(__name__)

KeepAlive = Callable[[], Awaitable[None]]
# What a handler may ask to be written with the entry's acknowledgement, in one
# round trip (e.g. "this message is answered"): it adds its commands to the pipeline.
AckWith = Callable[[Pipeline], object]
# A handler gets the entry id, its fields, and a keep-alive for that entry: call
# it during long work (retries with backoff) so that no other replica re-claims
# the entry while it is still being handled. It may return an AckWith.
Handler = Callable[[str, dict, KeepAlive], Awaitable["AckWith | None"]]
KeyOf = Callable[[dict], Hashable]

# Reset the idle time of the entries this consumer still owns (one round trip for
# every entry in flight, queued or running); an entry another consumer took over
# meanwhile is left to it. Returns the ids still ours.
_RENEW = """
local kept = {}
for i = 1, #ARGV - 2 do
  local p = redis.call('XPENDING', KEYS[1], ARGV[#ARGV - 1], ARGV[i], ARGV[i], 1)
  if p[1] and p[1][2] == ARGV[#ARGV] then
    redis.call('XCLAIM', KEYS[1], ARGV[#ARGV - 1], ARGV[#ARGV], 0, ARGV[i], 'JUSTID')
    kept[#kept + 1] = ARGV[i]
  end
end
return kept
"""
ORDER_POLL_S = 0.05  # how often an entry waiting for an older one of its key looks again


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


# Entries read ahead per unit of concurrency, most of them queued behind their
# own key's earlier ones (a burst): 64 x 32 small entries in memory at most.
BUFFERED_PER_SLOT = 32


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
        consumer: str | None = None,
        ordered: bool = False,
    ) -> None:
        """`consumer`: a name stable across restarts of the same process slot (e.g.
        host and port) lets a restarted worker resume its own pending entries at
        once instead of after `reclaim_idle_ms`. `ordered`: entries of one key are
        handled in stream order across every consumer of the group, not only
        within this one (an entry waits for older entries of its key pending
        elsewhere, and runs an abandoned one itself first)."""
        self._redis = redis
        self._stream = stream
        self._group = group
        self._handler = handler
        self._key_of = key_of
        self._limit = concurrency
        self._reclaim_idle_ms = reclaim_idle_ms
        self._dead_letter = dead_letter
        self.consumer = consumer or consumer_name()
        self._ordered = ordered
        self._serial = KeyedSerializer(concurrency)
        self._in_flight: set[str] = set()
        self._done: dict[str, None] = {}  # recently finished ids (an inline run's queued copy)
        self._keys_of_ids: dict[str, Hashable | None] = {}
        self._task: asyncio.Task | None = None
        self._renewer: asyncio.Task | None = None
        self._stopping = False
        self._group_ready = False
        self._renew = redis.register_script(_RENEW)

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
        self._renewer = asyncio.create_task(self._renew_in_flight(),
                                            name=f"renew:{self._stream}")

    async def stop(self) -> None:
        self._stopping = True
        for task in (self._task, self._renewer):
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._serial.cancel_all()  # unacknowledged entries stay pending for the next worker
        await asyncio.sleep(0)

    async def keep_alive(self, entry_id: str) -> None:
        """Reset the idle time of an entry still being worked on, so that a long
        retry (Rasa down) is not taken over by another replica."""
        await self._redis.xclaim(self._stream, self._group, self.consumer, 0, [entry_id],
                                 justid=True)

    async def _renew_in_flight(self) -> None:
        """Every entry in flight here, queued behind its key or running, stays ours:
        its idle time is reset every third of `reclaim_idle_ms`, so only the entries
        of a dead (or cut-off) worker are ever taken over."""
        while True:
            await asyncio.sleep(self._reclaim_idle_ms / 3000)
            ids = list(self._in_flight)
            if not ids:
                continue
            try:
                kept = await self._renew(keys=[self._stream],
                                         args=[*ids, self._group, self.consumer])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:  # Redis away: the next round tries again
                log.warning("could not renew %d entries of %s: %r", len(ids), self._stream,
                            exc)
                continue
            lost = set(ids) - set(kept) - set(self._done)
            if lost & self._in_flight:
                log.warning("entries of %s taken over by another consumer: %s", self._stream,
                            sorted(lost & self._in_flight))

    async def _resume_own(self) -> None:
        """Entries still pending for this consumer name (a restarted process slot):
        handled at once, in stream order."""
        start = "0"
        while not self._stopping:
            response = await self._redis.xreadgroup(
                self._group, self.consumer, {self._stream: start}, count=100)
            entries = [e for _, batch in response or () for e in batch]
            if not entries:
                return
            for entry_id, fields in entries:
                if fields:
                    self._submit(entry_id, fields)
                else:  # trimmed away while pending
                    await self._redis.xack(self._stream, self._group, entry_id)
            start = entries[-1][0]

    async def _run(self) -> None:
        last_reclaim = 0.0
        loop = asyncio.get_running_loop()
        resumed = False
        # Checked as well as cancelled: redis-py can swallow a cancellation that
        # lands while a fresh connection is being set up (seen with a stop right
        # after start), and the loop would then read on forever.
        while not self._stopping:
            try:
                if not self._group_ready:
                    await ensure_group(self._redis, self._stream, self._group)
                    self._group_ready = True
                if not resumed:
                    await self._resume_own()
                    resumed = True
                if loop.time() - last_reclaim > self._reclaim_idle_ms / 3000:
                    await self._reclaim()
                    last_reclaim = loop.time()
                # Room is counted in keys, not entries: a customer who sends a
                # hundred messages at once holds one place (their messages run one
                # after another anyway), so the others' messages are still read
                # (in batches past the burst) and served beside them. What is held
                # in memory stays bounded; the semaphore bounds what runs.
                room = 0
                if self._serial.keys < self._limit:
                    room = self._limit * BUFFERED_PER_SLOT - len(self._serial)
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
        if self._ordered:  # its key is known: an ordering check need not read it back
            self._remember_key(entry_id, self._key_of(fields))
        self._serial.submit(self._key_of(fields), lambda: self._handle(entry_id, fields))

    async def _handle(self, entry_id: str, fields: dict) -> None:
        if entry_id in self._done:  # already run ahead of a newer entry of its key
            self._in_flight.discard(entry_id)
            return
        try:
            if self._ordered:
                await self._older_first(entry_id, self._key_of(fields))
            ack_with = await self._handler(entry_id, fields, lambda: self.keep_alive(entry_id))
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
        await self._acknowledge(entry_id, ack_with=ack_with)

    async def _acknowledge(self, entry_id: str, dead: dict | None = None,
                           ack_with: AckWith | None = None) -> None:
        try:
            if dead is not None:
                await self._redis.xadd(self._dead_letter, dead, maxlen=10_000,
                                       approximate=True)
            if ack_with is None:
                await self._redis.xack(self._stream, self._group, entry_id)
            else:
                async with self._redis.pipeline(transaction=False) as pipe:
                    ack_with(pipe)  # first: should the ack fail, the entry is re-claimed
                    pipe.xack(self._stream, self._group, entry_id)
                    await pipe.execute()
        except (RedisConnectionError, RedisTimeoutError) as error:
            # Handled, but Redis went away before the ack: the entry stays pending,
            # is re-claimed and handled again (handlers are idempotent).
            log.warning("entry %s of %s not acknowledged (%s); it will be re-claimed",
                        entry_id, self._stream, error)
        self._finished(entry_id)

    def _finished(self, entry_id: str) -> None:
        self._done[entry_id] = None
        while len(self._done) > 10_000:
            del self._done[next(iter(self._done))]

    async def _older_first(self, entry_id: str, key: Hashable) -> None:
        """Wait until no older entry of `key` is pending in the group. One whose
        worker died (idle past `reclaim_idle_ms`), or one re-claimed by this worker
        and queued behind this entry, is claimed and handled here first."""
        while True:
            older = await self._redis.xpending_range(
                self._stream, self._group, min="-", max=f"({entry_id}", count=1000)
            blocking = None
            for pending in older:
                if await self._key_of_id(pending["message_id"]) == key:
                    blocking = pending
                    break
            if blocking is None:
                return
            other = blocking["message_id"]
            ours = blocking["consumer"] == self.consumer
            if ours or blocking["time_since_delivered"] >= self._reclaim_idle_ms:
                claimed = await self._redis.xclaim(
                    self._stream, self._group, self.consumer,
                    0 if ours else self._reclaim_idle_ms, [other], justid=True)
                if claimed:
                    await self._run_inline(other)
                    continue
            await asyncio.sleep(ORDER_POLL_S)

    async def _run_inline(self, entry_id: str) -> None:
        found = await self._redis.xrange(self._stream, entry_id, entry_id)
        if not found or not found[0][1]:
            await self._redis.xack(self._stream, self._group, entry_id)
            return
        queued_here = entry_id in self._in_flight
        self._in_flight.add(entry_id)
        log.info("entry %s of %s handled first, ahead of a newer entry of its key",
                 entry_id, self._stream)
        try:
            await self._handle(entry_id, found[0][1])
        finally:
            if queued_here:  # its queued copy finds it done
                self._in_flight.add(entry_id)

    async def _key_of_id(self, entry_id: str) -> Hashable | None:
        if entry_id not in self._keys_of_ids:
            found = await self._redis.xrange(self._stream, entry_id, entry_id)
            self._remember_key(entry_id, self._key_of(found[0][1])
                               if found and found[0][1] else None)
        return self._keys_of_ids[entry_id]

    def _remember_key(self, entry_id: str, key: Hashable | None) -> None:
        if len(self._keys_of_ids) > 10_000:
            self._keys_of_ids.clear()
        self._keys_of_ids[entry_id] = key


async def ensure_group(redis: Redis, stream: str, group: str) -> None:
    try:
        await redis.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise

