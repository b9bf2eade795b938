"""The lease on one message's bot turn: whichever gateway holds it is the only
one asking Rasa about that message (docs/architecture.md#streams, "Delivery").

It lives in the entry's progress hash (`fd:progress:<entry id>`), so taking it
and the "already answered?" check are one atomic step on one key: a gateway that
takes over an entry while the first still runs it finds the lease held and
waits; one that finds it answered stops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# KEYS[1] the progress hash; ARGV token, lease ms, progress TTL s.
# 'answered' | 'busy' | 'ok:<turns other holders started before>'. Redis' own
# clock decides expiry, so gateways' clocks need not agree.
_TAKE = """
if redis.call('HEXISTS', KEYS[1], 'answered') == 1 then return 'answered' end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local holder = redis.call('HGET', KEYS[1], 'lease')
local expires = tonumber(redis.call('HGET', KEYS[1], 'lease_until') or '0')
if holder and holder ~= ARGV[1] and expires > now then return 'busy' end
local before = tonumber(redis.call('HGET', KEYS[1], 'turns') or '0')
if holder ~= ARGV[1] then
  redis.call('HINCRBY', KEYS[1], 'turns', 1)
else
  before = before - 1
end
redis.call('HSET', KEYS[1], 'lease', ARGV[1], 'lease_until', now + tonumber(ARGV[2]))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return 'ok:' .. before
"""


@dataclass(frozen=True)
class Lease:
    token: str
    earlier_turns: int  # > 0: another gateway started this turn before (and died)


class LeaseLost(Exception):
    """The lease ran out while held (this gateway was cut off from Redis for
    longer than it lasts) and another gateway may have taken the turn."""


class TurnLeases:
    def __init__(self, redis: Redis, lease_ms: int, ttl_s: int) -> None:
        self._redis = redis
        self.lease_ms = lease_ms
        self._ttl_s = ttl_s
        self._take = redis.register_script(_TAKE)

    async def take(self, progress: str, token: str | None = None) -> Lease | str:
        """The lease, or 'answered' / 'busy'."""
        token = token or uuid.uuid4().hex
        state = str(await self._take(keys=[progress], args=[token, self.lease_ms, self._ttl_s]))
        if not state.startswith("ok:"):
            return state
        return Lease(token, int(state[3:]))

    async def held(self, progress: str, lease: Lease) -> bool:
        """Renew and report whether it is still ours (just before replying)."""
        return isinstance(await self.take(progress, lease.token), Lease)

    @contextlib.asynccontextmanager
    async def kept(self, progress: str, lease: Lease) -> AsyncIterator[None]:
        """Renewed every third of its length while the block runs."""
        async def renew() -> None:
            while True:
                await asyncio.sleep(self.lease_ms / 3000)
                try:
                    if not await self.held(progress, lease):
                        log.warning("the turn lease of %s was lost", progress)
                except asyncio.CancelledError:
                    raise
                except (RedisError, OSError) as exc:  # Redis away: try again next round
                    log.warning("could not renew the turn lease of %s: %r", progress, exc)

        task = asyncio.create_task(renew())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
