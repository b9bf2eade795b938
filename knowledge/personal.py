"""The knowledge part's personal data: the person's questions in the editors'
"unanswered" stream, the cached embeddings of what they wrote, and their
pending clarification.

An unanswered entry names its customer (`record_unanswered(customer_id=...)`),
so an erasure finds the person's entries by id, whatever Rasa made of the
wording. Entries recorded before that carry no customer and are matched by
text: the transcript's text as the assistant got it (leading slashes and blanks
stripped, as the router does before Rasa) and as the stream keeps it (the
first 1000 characters).
"""

from __future__ import annotations

from redis.asyncio import Redis

from core.personal import Export, Person, covering, stream_entries
from knowledge.keys import KNOWLEDGE_KEYS, KnowledgeKeys
from knowledge.unanswered import _sha, normalise

_BATCH = 500
MAX_QUERY = 1000  # record_unanswered keeps this much of a query


def as_the_assistant_got_it(text: str) -> str:
    """The gateway's rule (bot/gateway/router.py `_plain_text`): leading blanks and
    slashes are stripped until neither is left, before Rasa sees the text."""
    previous = None
    while text != previous:
        previous, text = text, text.strip().lstrip("/")
    return text


class KnowledgeData:
    covers = covering(KnowledgeKeys, "unanswered", "clarify_pending", "embedding")

    def __init__(self, redis: Redis, keys: KnowledgeKeys = KNOWLEDGE_KEYS) -> None:
        self._redis = redis
        self._keys = keys

    async def export(self, person: Person) -> Export:
        return {}  # their questions are in their transcript

    async def erase(self, person: Person) -> None:
        owned = person.owned
        wordings = {t[:MAX_QUERY] for t in person.texts} | \
            {as_the_assistant_got_it(t)[:MAX_QUERY] for t in person.texts}
        wordings.discard("")

        def theirs(fields: dict) -> bool:
            customer = fields.get("customer")
            if customer:
                return customer in owned
            return fields.get("query") in wordings  # an entry from before customer ids

        doomed: list[str] = []
        async for entry_id, fields in stream_entries(self._redis, self._keys.unanswered):
            if theirs(fields):
                doomed.append(entry_id)
                wordings.add(fields.get("query", ""))
        for i in range(0, len(doomed), _BATCH):
            batch = doomed[i:i + _BATCH]
            await self._redis.xdel(self._keys.unanswered, *batch)
            await self._redis.hdel(self._keys.unanswered_resolved, *batch)
        for customer in person.customer_ids:
            await self._redis.delete(self._keys.clarify_pending(customer))
        # Embeddings of their questions (kept up to 30 days for the editors'
        # grouping), cached by a hash of the wording as grouped (normalised).
        shas = {_sha(q) for q in wordings} | {_sha(normalise(q)) for q in wordings}
        async for key in self._redis.scan_iter(match=self._keys.embedding("*", "*"),
                                               count=_BATCH):
            if key.rpartition(":")[2] in shas:
                await self._redis.delete(key)  # one by one: untagged keys, any slot
