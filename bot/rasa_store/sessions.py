"""A Rasa conversation per session of a customer, so a turn's cost does not grow
with the customer's history (docs/architecture.md#rasa-sessions).

Rasa 3.6's Redis tracker store keeps one JSON document per sender id and, on
every turn, reads and parses all of it, merges it with the turn's events and
writes all of it back (`RedisTrackerStore.save`, `_merge_trackers`); the action
server is sent the tracker too. Our customer id follows a person for years, so
with the customer id as Rasa's sender every turn would pay for every earlier
one. Instead the sender id carries the session (`session_sender`): a customer's
turns go to the conversation of their current session, and a new session (a new,
empty Rasa conversation) starts

- after `idle_s` without a turn (as Rasa's own `session_config`, domain.yml),
- when the current conversation's tracker has grown past `max_tracker_bytes`
  (a customer who talks non-stop, or a tracker from before sessions),
- after a person resolved the conversation (`end`): the bot starts afresh.

The front door's own transcript (bot/customers/transcript.py) stays the
long-term memory: the console and the transcript API read it, not Rasa. The
gateway carries the slots that must survive (the customer's name, language)
into the new conversation (bot/gateway/rasa_client.py, RasaClient.sender_id)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from bot.rasa_store.keys import RASA_KEYS, SESSION_SEPARATOR, RasaKeys, session_sender
from core.redis import plain_pipeline


@dataclass(frozen=True)
class SessionRule:
    idle_s: float = 3600.0
    max_tracker_bytes: int = 64 * 1024


@dataclass(frozen=True)
class Session:
    sender: str
    previous: str | None  # the session before, while its slots are still to be carried
    # Rasa holds no conversation for `sender` yet, and none is to be carried into
    # it: its slots will start at the domain's initial values
    empty: bool = False


# One step on the customer's session hash (one key): read it, decide whether the
# turn starting now (ARGV[1]) opens a new session (a person resolved it, idle for
# ARGV[2] seconds, or session ARGV[5] was found too big), record the turn. Atomic,
# so two turns of one customer choosing at once (two channels) agree.
_CHOOSE = """
local v = redis.call('HMGET', KEYS[1], 'n', 'at', 'end', 'carry')
local n = tonumber(v[1]) or 0
local new = v[3] ~= false or tonumber(ARGV[5]) == n or
    (v[2] ~= false and tonumber(ARGV[1]) - tonumber(v[2]) > tonumber(ARGV[2]))
local carry = v[4]
if new then
  if n == 0 then carry = ARGV[3] else carry = ARGV[3] .. ARGV[4] .. n end
  n = n + 1
  redis.call('HSET', KEYS[1], 'n', n, 'at', ARGV[1], 'carry', carry)
  redis.call('HDEL', KEYS[1], 'end')
else
  redis.call('HSET', KEYS[1], 'n', n, 'at', ARGV[1])
end
return {n, carry}
"""
_CHOOSE_SHA = hashlib.sha1(_CHOOSE.encode()).hexdigest()
# Customers whose current session this process remembers (a guess, checked).
_REMEMBERED = 50_000


class RasaSessions:
    def __init__(self, redis: Redis, rule: SessionRule = SessionRule(),
                 keys: RasaKeys = RASA_KEYS) -> None:
        """`redis`: where Rasa keeps its trackers (the size is read there)."""
        self._redis = redis
        self._rule = rule
        self._keys = keys
        self._last: dict[str, int] = {}  # customer -> the session of their last turn here

    async def current(self, customer_id: str) -> int:
        raw = await self._redis.hget(self._keys.rasa_session(customer_id), "n")
        return int(raw or 0)

    async def choose(self, customer_id: str, now: float) -> Session:
        """The session of a turn starting `now`: the current one, or a new one
        when the rule says so. Two turns of one customer choosing at once (two
        channels) agree: the choice is one atomic step. A new session stays "to
        carry" (`previous` set) until `carried` is called, so slots a failed
        carry left behind are carried by the next turn.

        One round trip as a rule: the size of the tracker of the session this
        process saw last for the customer is read along with the choice; only
        when the session turns out another one is its size read on its own."""
        guess = self._last.get(customer_id, 0)
        async with plain_pipeline(self._redis) as pipe:
            # EVALSHA by hand: a registered script in a pipeline costs a SCRIPT
            # EXISTS round trip on every execute
            pipe.evalsha(_CHOOSE_SHA, 1, *self._step_args(customer_id, now, -1))
            pipe.strlen(self._tracker(customer_id, guess))
            chosen, size = await pipe.execute(raise_on_error=False)
        if isinstance(chosen, NoScriptError):  # a restarted Redis: load it and go on
            chosen = await self._step(customer_id, now, too_big=-1)
        elif isinstance(chosen, Exception):
            raise chosen
        if isinstance(size, Exception):
            raise size
        n, carry = int(chosen[0]), chosen[1]
        if carry is None:  # not new: the size rule may still start one
            if n != guess:
                size = await self._redis.strlen(self._tracker(customer_id, n))
            if size > self._rule.max_tracker_bytes:
                chosen = await self._step(customer_id, now, too_big=n)
                n, carry = int(chosen[0]), chosen[1]
        if len(self._last) >= _REMEMBERED:
            self._last.clear()
        self._last[customer_id] = n
        return Session(session_sender(customer_id, n), carry,
                       empty=carry is None and size == 0)

    async def _step(self, customer_id: str, now: float, too_big: int) -> list:
        args = self._step_args(customer_id, now, too_big)
        try:
            return await self._redis.evalsha(_CHOOSE_SHA, 1, *args)
        except NoScriptError:  # a restarted Redis
            await self._redis.script_load(_CHOOSE)
            return await self._redis.evalsha(_CHOOSE_SHA, 1, *args)

    def _step_args(self, customer_id: str, now: float, too_big: int) -> tuple:
        """_CHOOSE's arguments after its key count: its key, then ARGV."""
        return (self._keys.rasa_session(customer_id), repr(now), self._rule.idle_s,
                customer_id, SESSION_SEPARATOR, too_big)

    def _tracker(self, customer_id: str, n: int) -> str:
        return self._keys.rasa_tracker(session_sender(customer_id, n))

    async def carried(self, customer_id: str) -> None:
        """The new session has the slots of the one before."""
        await self._redis.hdel(self._keys.rasa_session(customer_id), "carry")

    async def end(self, customer_id: str) -> None:
        """The next turn starts a new session (after a person resolved the
        conversation)."""
        await self._redis.hset(self._keys.rasa_session(customer_id), "end", "1")

    async def senders(self, customer_id: str) -> list[str]:
        """Every Rasa conversation the customer has had, oldest first."""
        return [session_sender(customer_id, n) for n in range(await self.current(customer_id) + 1)]
