"""The knowledge part's personal data: the person's questions in the editors'
"unanswered" stream, the cached embeddings of what they wrote, and their
pending clarification."""

from __future__ import annotations

from redis.asyncio import Redis

from core.personal import Export, Person, covering, xdel_where
from knowledge.keys import KNOWLEDGE_KEYS, KnowledgeKeys
from knowledge.unanswered import _sha, normalise

_BATCH = 500


class KnowledgeData:
    covers = covering(KnowledgeKeys, "unanswered", "clarify_pending", "embedding")

    def __init__(self, redis: Redis, keys: KnowledgeKeys = KNOWLEDGE_KEYS) -> None:
        self._redis = redis
        self._keys = keys

    async def export(self, person: Person) -> Export:
        return {}  # their questions are in their transcript

    async def erase(self, person: Person) -> None:
        queries = {text[:1000] for text in person.texts}  # as record_unanswered keeps them
        await xdel_where(self._redis, self._keys.unanswered, lambda f: f.get("query") in queries)
        for customer in person.customer_ids:
            await self._redis.delete(self._keys.clarify_pending(customer))
        # Embeddings of their questions, cached by a hash of the (grouped) wording.
        shas = {_sha(q) for q in queries} | {_sha(normalise(q)) for q in queries}
        async for key in self._redis.scan_iter(match=self._keys.embedding("*", "*"),
                                               count=_BATCH):
            if key.rpartition(":")[2] in shas:
                await self._redis.delete(key)
