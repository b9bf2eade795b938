"""The customer's language, one for all their channels: what every fixed text,
knowledge answer and the assistant's responses are given in.

An explicit choice (the customer writing "Deutsch" or "English", the widget's
language setting, an agent in the console) wins over detection; detection only
fills in or follows a customer who never chose (docs/customers.md#language).

How detection follows a customer (`detected`): the detector (core/language.py)
says a language only when it is sure. The first sure detection sets it. A sure
detection of the other language switches it when the message has two words or
more; a single word ("Danke", "Hilfe") switches only when the customer's
previous sure detection was that language too (kept as `pending`), so one word
never switches alone. An unsure message (None) changes nothing.
"""

from __future__ import annotations

import time
from typing import Literal

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from bot.customers.keys import CUSTOMER_KEYS, CustomerKeys
from core.i18n import DEFAULT_LANGUAGE, supported

LanguageSource = Literal["detected", "customer", "widget", "agent"]
EXPLICIT: frozenset[str] = frozenset({"customer", "widget", "agent"})
SOURCES: tuple[str, ...] = ("detected", "customer", "widget", "agent")


class CustomerLanguages:
    def __init__(self, redis: Redis, keys: CustomerKeys = CUSTOMER_KEYS) -> None:
        self._redis = redis
        self._keys = keys

    async def get(self, customer_id: str) -> str:
        """The customer's language ("en" until anything is known)."""
        stored = await self._redis.hget(self._keys.customer_language(customer_id), "language")
        return supported(stored) if stored else DEFAULT_LANGUAGE

    async def known(self, customer_id: str) -> str | None:
        """The customer's language if anything is on record (None otherwise), in
        one round trip."""
        language, source = await self._redis.hmget(
            self._keys.customer_language(customer_id), ["language", "source"])
        return supported(language) if source and language else None

    async def source(self, customer_id: str) -> str | None:
        return await self._redis.hget(self._keys.customer_language(customer_id), "source")

    async def record(self, customer_id: str) -> dict[str, str]:
        """The stored hash ({} before anything is known): language, source, at."""
        return dict(await self._redis.hgetall(self._keys.customer_language(customer_id)))

    async def choose(self, customer_id: str, language: str, source: LanguageSource) -> str:
        """Record a language; a detection never overrides an explicit choice."""
        language = supported(language)
        if source not in EXPLICIT and await self.source(customer_id) in EXPLICIT:
            return await self.get(customer_id)
        key = self._keys.customer_language(customer_id)
        async with self._redis.pipeline(transaction=True) as pipe:  # one key
            pipe.hset(key, mapping={"language": language, "source": source,
                                    "at": f"{time.time():.3f}"})
            pipe.hdel(key, "pending")
            await pipe.execute()
        return language

    def record_in(self, pipe: Pipeline, customer_id: str) -> None:
        """record, queued on the caller's pipeline (its result: the hash)."""
        pipe.hgetall(self._keys.customer_language(customer_id))

    async def detected(self, customer_id: str, language: str | None, *, words: int,
                       stored: dict | None = None) -> str:
        """A message of `words` words was detected as `language` (None: unsure).
        Applies the rule of the module docstring; returns the language now.
        `stored`: the customer's record, when the caller read it already."""
        if stored is None:
            stored = await self.record(customer_id)
        current = stored.get("language")
        if language is None or stored.get("source") in EXPLICIT or language == current:
            if language == current and stored.get("pending"):
                await self._redis.hdel(self._keys.customer_language(customer_id), "pending")
            return supported(current) if current else DEFAULT_LANGUAGE
        if current is None or words >= 2 or stored.get("pending") == language:
            return await self.choose(customer_id, language, "detected")
        await self._redis.hset(self._keys.customer_language(customer_id), "pending", language)
        return supported(current)

    async def adopt(self, source: str, target: str) -> None:
        """A merge of `source` into `target`: `target` keeps an explicit choice of
        its own; otherwise it takes `source`'s language when that is explicit, or
        the later detection of the two. Reads each customer's key, then writes
        `target`'s (one slot per step; safe to repeat)."""
        theirs = await self.record(source)
        if not theirs.get("language"):
            return
        ours = await self.record(target)
        if ours.get("source") in EXPLICIT:
            return
        if (theirs.get("source") in EXPLICIT or not ours.get("language")
                or float(theirs.get("at") or 0) > float(ours.get("at") or 0)):
            await self._redis.hset(self._keys.customer_language(target), mapping={
                k: theirs[k] for k in ("language", "source", "at") if k in theirs})
