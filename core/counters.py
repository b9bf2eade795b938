"""A fixed-window counter in Redis: an event is counted and its window started
in one atomic step (a Lua script on one key), so concurrent requests from any
gateway replica cannot slip past a limit. Used by the web chat's per-address
limits and by link-code issuing and redeeming."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

# KEYS[1] the counter; ARGV window (ms). Counts one; returns the count so far and
# the ms left in the window (the window starts with the first count).
_HIT = """
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
"""


@dataclass(frozen=True)
class Hit:
    count: int  # events in this window, this one included
    window_left_ms: int


class FixedWindow:
    def __init__(self, redis: Redis) -> None:
        self._hit = redis.register_script(_HIT)

    async def hit(self, key: str, window_s: float) -> Hit:
        count, left = await self._hit(keys=[key], args=[max(1, int(window_s * 1000))])
        return Hit(int(count), int(left))
