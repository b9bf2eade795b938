"""The customer's language, one for all their channels: what every fixed text,
knowledge answer and the assistant's responses are given in.

An explicit choice (the customer writing "Deutsch" or "English", the widget's
language setting, an agent in the console) wins over detection; detection only
fills in or follows a customer who never chose.
"""

from __future__ import annotations

import time
from typing import Literal

from redis.asyncio import Redis

from bot.customers.keys import CUSTOMER_KEYS, CustomerKeys
from core.i18n import DEFAULT_LANGUAGE, supported

LanguageSource = Literal["detected", "customer", "widget", "agent"]
EXPLICIT: frozenset[str] = frozenset({"customer", "widget", "agent"})


class CustomerLanguages:
    def __init__(self, redis: Redis, keys: CustomerKeys = CUSTOMER_KEYS) -> None:
        self._redis = redis
        self._keys = keys

    async def get(self, customer_id: str) -> str:
        """The customer's language ("en" until anything is known)."""
        stored = await self._redis.hget(self._keys.customer_language(customer_id), "language")
        return supported(stored) if stored else DEFAULT_LANGUAGE

    async def source(self, customer_id: str) -> str | None:
        return await self._redis.hget(self._keys.customer_language(customer_id), "source")

    async def choose(self, customer_id: str, language: str, source: LanguageSource) -> str:
        """Record a language; a detection never overrides an explicit choice."""
        language = supported(language)
        if source not in EXPLICIT and await self.source(customer_id) in EXPLICIT:
            return await self.get(customer_id)
        await self._redis.hset(self._keys.customer_language(customer_id), mapping={
            "language": language, "source": source, "at": f"{time.time():.3f}"})
        return language
