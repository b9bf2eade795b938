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

from dataclasses import dataclass

from redis.asyncio import Redis

from bot.rasa_store.keys import RASA_KEYS, RasaKeys, session_sender


@dataclass(frozen=True)
class SessionRule:
    idle_s: float = 3600.0
    max_tracker_bytes: int = 64 * 1024


@dataclass(frozen=True)
class Session:
    sender: str
    previous: str | None  # the session before, while its slots are still to be carried


class RasaSessions:
    def __init__(self, redis: Redis, rule: SessionRule = SessionRule(),
                 keys: RasaKeys = RASA_KEYS) -> None:
        """`redis`: where Rasa keeps its trackers (the size is read there)."""
        self._redis = redis
        self._rule = rule
        self._keys = keys

    async def current(self, customer_id: str) -> int:
        raw = await self._redis.hget(self._keys.rasa_session(customer_id), "n")
        return int(raw or 0)

    async def choose(self, customer_id: str, now: float) -> Session:
        """The session of a turn starting `now`: the current one, or a new one
        when the rule says so. Two turns of one customer choosing at once (two
        channels) agree: both start from the same `n`. A new session stays "to
        carry" (`previous` set) until `carried` is called, so slots a failed
        carry left behind are carried by the next turn."""
        key = self._keys.rasa_session(customer_id)
        raw_n, raw_at, ended, carry = await self._redis.hmget(key, ["n", "at", "end", "carry"])
        n = int(raw_n or 0)
        new = bool(ended) or (raw_at is not None and now - float(raw_at) > self._rule.idle_s)
        if not new:
            size = await self._redis.strlen(self._keys.rasa_tracker(session_sender(customer_id, n)))
            new = size > self._rule.max_tracker_bytes
        if new:
            carry = session_sender(customer_id, n)
            n += 1
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, mapping={"n": n, "at": repr(now), **({"carry": carry} if new else {})})
            if ended:
                pipe.hdel(key, "end")
            await pipe.execute()
        return Session(session_sender(customer_id, n), carry)

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
