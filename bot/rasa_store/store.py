"""The personal data Rasa keeps: the tracker (the assistant's memory of the
conversation) of each session of each customer id, its lock, and our record of
the sessions (bot/rasa_store/sessions.py)."""

from __future__ import annotations

import json
import time

from redis.asyncio import Redis

from bot.rasa_store.keys import RASA_KEYS, RasaKeys
from bot.rasa_store.sessions import RasaSessions
from core.personal import Export, Person, covering


class RasaStore:
    covers = covering(RasaKeys, "rasa_tracker", "rasa_lock", "rasa_session")

    def __init__(self, redis: Redis, keys: RasaKeys = RASA_KEYS) -> None:
        self._redis = redis
        self._keys = keys
        self._sessions = RasaSessions(redis, keys=keys)

    async def export(self, person: Person) -> Export:
        """Per customer id: `assistant_memory`, the first session's tracker (the
        only one before sessions), and `assistant_sessions`, the later ones."""
        out: Export = {}
        for customer in person.customer_ids:
            trackers = []
            for sender in await self._sessions.senders(customer):
                tracker = await self._redis.get(self._keys.rasa_tracker(sender))
                trackers.append(json.loads(tracker) if tracker else None)
            out[customer] = {"assistant_memory": trackers[0],
                             "assistant_sessions": [t for t in trackers[1:] if t is not None]}
        return out

    async def erase(self, person: Person) -> None:
        for customer in person.customer_ids:
            for sender in await self._sessions.senders(customer):
                await self._redis.delete(self._keys.rasa_tracker(sender),
                                         self._keys.rasa_lock(sender))
            await self._redis.delete(self._keys.rasa_session(customer))

    async def conversation_busy(self, sender_id: str) -> bool:
        """Whether Rasa holds an unexpired lock on the conversation (a turn still
        running there, or a lock left by a crash that has not expired yet)."""
        raw = await self._redis.get(self._keys.rasa_lock(sender_id))
        if not raw:
            return False
        now = time.time()
        try:
            tickets = [json.loads(t) for t in json.loads(raw).get("tickets", [])]
            return any(float(t["expires"]) > now for t in tickets)
        except (ValueError, KeyError, TypeError, AttributeError):
            return False
