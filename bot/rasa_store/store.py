"""The personal data Rasa keeps: the tracker (the assistant's memory of the
conversation) of each customer id, and its lock."""

from __future__ import annotations

import json
import time

from redis.asyncio import Redis

from bot.rasa_store.keys import RASA_KEYS, RasaKeys
from core.personal import Export, Person, covering


class RasaStore:
    covers = covering(RasaKeys, "rasa_tracker", "rasa_lock")

    def __init__(self, redis: Redis, keys: RasaKeys = RASA_KEYS) -> None:
        self._redis = redis
        self._keys = keys

    async def export(self, person: Person) -> Export:
        out: Export = {}
        for customer in person.customer_ids:
            tracker = await self._redis.get(self._keys.rasa_tracker(customer))
            out[customer] = {"assistant_memory": json.loads(tracker) if tracker else None}
        return out

    async def erase(self, person: Person) -> None:
        for customer in person.customer_ids:
            await self._redis.delete(self._keys.rasa_tracker(customer),
                                     self._keys.rasa_lock(customer))

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
