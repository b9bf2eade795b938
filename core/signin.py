"""Limits on staff sign-in attempts, checked before any password is hashed.

Two counters, each a small hash in Redis kept by a Lua script so that counting
is atomic (concurrent guesses cannot slip past the allowance):

- per client address and username: `attempts_per_user` tries, then growing
  delays; a right password clears it;
- per client address, over every username: `attempts_per_address` tries, then
  growing delays; a right password takes its own try back.

An attempt is counted *before* its password is checked. Past the allowance the
counter is locked for `delay_s`; after that one more try is let through, and if
it is wrong too the next lock is twice as long (up to `max_delay_s`). A counter
is forgotten `window_s` after its first attempt, or after the end of its last
lock. Nothing is locked per username alone, so someone spraying a name from one
address does not keep its owner, signing in from another address, out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from redis.asyncio import Redis

from core.settings import Settings
from core.staff import STAFF_KEYS, StaffKeys

# KEYS[1] the counter; ARGV allowance, first delay (ms), longest delay (ms), window (ms).
# Returns 0 when the attempt may go ahead (it is counted), else the ms to wait.
_ATTEMPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local allowance = tonumber(ARGV[1])
local locked = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
if locked > now then
  return locked - now
end
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
if n <= allowance then
  if redis.call('PTTL', KEYS[1]) < 0 then
    redis.call('PEXPIRE', KEYS[1], ARGV[4])
  end
  return 0
end
local strikes = redis.call('HINCRBY', KEYS[1], 'strikes', 1)
local delay = math.min(tonumber(ARGV[2]) * math.pow(2, strikes - 1), tonumber(ARGV[3]))
delay = math.max(math.floor(delay), 1)
-- after this lock, one more try before the next (longer) one
redis.call('HSET', KEYS[1], 'until', now + delay, 'n', allowance - 1)
redis.call('PEXPIRE', KEYS[1], delay + tonumber(ARGV[4]))
return delay
"""

# A right password gives its try back (never below zero).
_REFUND = """
if tonumber(redis.call('HGET', KEYS[1], 'n') or '0') > 0 then
  redis.call('HINCRBY', KEYS[1], 'n', -1)
end
return 0
"""


@dataclass(frozen=True)
class SignInLimits:
    attempts_per_user: int = 5
    attempts_per_address: int = 20
    delay_s: float = 5.0
    max_delay_s: float = 900.0
    window_s: float = 900.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SignInLimits:
        return cls(attempts_per_user=settings.staff_signin_attempts_per_user,
                   attempts_per_address=settings.staff_signin_attempts_per_address,
                   delay_s=settings.staff_signin_delay_s,
                   max_delay_s=settings.staff_signin_max_delay_s,
                   window_s=settings.staff_signin_window_s)


class SignInLimiter:
    def __init__(self, redis: Redis, limits: SignInLimits = SignInLimits(),
                 keys: StaffKeys = STAFF_KEYS) -> None:
        self._redis = redis
        self._limits = limits
        self._keys = keys
        self._attempt = redis.register_script(_ATTEMPT)
        self._refund = redis.register_script(_REFUND)

    async def attempt(self, address: str, username: str) -> float:
        """Count one attempt: 0 if it may go ahead, else the seconds to wait
        (whole, at least 1) before trying again."""
        limits = self._limits
        for key, allowance in (
                (self._keys.staff_signin_address(address), limits.attempts_per_address),
                (self._keys.staff_signin_pair(address, username), limits.attempts_per_user)):
            wait_ms = int(await self._attempt(keys=[key], args=[
                allowance, int(limits.delay_s * 1000), int(limits.max_delay_s * 1000),
                int(limits.window_s * 1000)]))
            if wait_ms:
                return max(1, math.ceil(wait_ms / 1000))
        return 0

    async def succeeded(self, address: str, username: str) -> None:
        """The right password: clear the (address, username) counter and give the
        address its try back."""
        await self._redis.delete(self._keys.staff_signin_pair(address, username))
        await self._refund(keys=[self._keys.staff_signin_address(address)])
