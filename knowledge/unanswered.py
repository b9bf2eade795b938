"""The editors' "unanswered questions": customer queries that ended in a
fallback, a clarification nobody picked, or an escalation, grouped by meaning
and counted, so one group is one missing (or weak) article.

Entries come from the `unanswered` stream (ArticleStore.record_unanswered).
An entry leaves the view once it is resolved: the customer picked one of the
clarification buttons, or an editor added it as a question variant, started
a new article from it, or dismissed it.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass, field

import numpy as np
from redis.asyncio import Redis

from core.redis import binary_of
from knowledge.answers.embedder import Embedder
from knowledge.keys import KNOWLEDGE_KEYS, KnowledgeKeys

STREAM_ID_RE = re.compile(r"^\d{1,20}-\d{1,20}$")
# Cosine similarity above which two queries count as the same question. With
# all-MiniLM-L6-v2, rewordings of one question score 0.7-0.9 ("do you ship to
# mars" / "delivery to mars?" 0.83) and different questions on one topic
# 0.3-0.5 ("where is my parcel" / "delivery to mars?" 0.32).
SAME_QUESTION = 0.65
READ_LIMIT = 5000  # newest entries read per view
GROUP_LIMIT = 100


@dataclass
class Entry:
    id: str
    query: str
    outcome: str
    channel: str
    ts: float


@dataclass
class Group:
    leader: Entry  # the most frequent wording, which names the group
    entries: list[Entry] = field(default_factory=list)

    def as_dict(self) -> dict:
        wordings: dict[str, int] = {}
        for entry in self.entries:
            wordings[entry.query] = wordings.get(entry.query, 0) + 1
        outcomes: dict[str, int] = {}
        channels: dict[str, int] = {}
        for entry in self.entries:
            outcomes[entry.outcome] = outcomes.get(entry.outcome, 0) + 1
            channels[entry.channel] = channels.get(entry.channel, 0) + 1
        return {
            "key": self.leader.id,
            "label": self.leader.query,
            "count": len(self.entries),
            "queries": [{"text": t, "count": n}
                        for t, n in sorted(wordings.items(), key=lambda kv: -kv[1])],
            "outcomes": outcomes,
            "channels": channels,
            "last_seen": max(e.ts for e in self.entries),
            "entry_ids": [e.id for e in self.entries],
        }


def normalise(query: str) -> str:
    return " ".join(query.lower().split())


def group_queries(entries: list[Entry], vectors: dict[str, np.ndarray],
                  threshold: float = SAME_QUESTION) -> list[Group]:
    """Greedy threshold clustering: wordings are taken most frequent first; each
    joins the group whose leader it is most similar to, if at least `threshold`,
    else it leads a new group. Deterministic, and a group is named by its most
    common wording."""
    by_wording: dict[str, list[Entry]] = {}
    for entry in entries:
        by_wording.setdefault(normalise(entry.query), []).append(entry)
    order = sorted(by_wording, key=lambda w: (-len(by_wording[w]),
                                              -max(e.ts for e in by_wording[w]), w))
    groups: list[Group] = []
    leaders: list[np.ndarray] = []
    for wording in order:
        vector = vectors[wording]
        if leaders:
            scores = np.vstack(leaders) @ vector
            best = int(np.argmax(scores))
            if scores[best] >= threshold:
                groups[best].entries.extend(by_wording[wording])
                continue
        newest = max(by_wording[wording], key=lambda e: e.ts)
        groups.append(Group(leader=newest, entries=list(by_wording[wording])))
        leaders.append(vector)
    groups.sort(key=lambda g: (-len(g.entries), -max(e.ts for e in g.entries)))
    return groups


class UnansweredQuestions:
    def __init__(self, redis: Redis, keys: KnowledgeKeys = KNOWLEDGE_KEYS) -> None:
        self._redis = redis
        self._keys = keys

    async def open_entries(self, limit: int = READ_LIMIT) -> list[Entry]:
        """The newest entries nobody has resolved yet."""
        raw = await self._redis.xrevrange(self._keys.unanswered, count=limit)
        entries = [_entry(entry_id, fields) for entry_id, fields in raw]
        if not entries:
            return []
        resolved = await self._redis.hmget(self._keys.unanswered_resolved,
                                           [e.id for e in entries])
        return [e for e, how in zip(entries, resolved, strict=True)
                if how is None and e.outcome != "answer" and e.query.strip()]

    async def groups(self, embedder: Embedder, limit: int = GROUP_LIMIT) -> list[Group]:
        entries = await self.open_entries()
        wordings = sorted({normalise(e.query) for e in entries})
        vectors = await self.embeddings(embedder, wordings)
        return group_queries(entries, dict(zip(wordings, vectors, strict=True)))[:limit]

    async def resolve(self, entry_ids: list[str], how: str) -> int:
        """Mark entries as dealt with; returns how many were still open."""
        ids = [i for i in dict.fromkeys(entry_ids) if STREAM_ID_RE.match(i)]
        if not ids:
            return 0
        async with self._redis.pipeline(transaction=True) as pipe:
            for entry_id in ids:
                pipe.hsetnx(self._keys.unanswered_resolved, entry_id, how)
            results = await pipe.execute()
        return sum(1 for r in results if r)

    async def embeddings(self, embedder: Embedder, texts: list[str]) -> np.ndarray:
        """Cached in Redis by text under the same keys as the index's embeddings."""
        if not texts:
            return np.zeros((0, embedder.dimension), dtype=np.float32)
        keys = [self._keys.embedding(embedder.name, _sha(t)) for t in texts]
        binary = binary_of(self._redis)  # the vectors are bytes
        cached = await binary.mget(keys)
        missing = [i for i, raw in enumerate(cached) if raw is None]
        if missing:
            fresh = await asyncio.to_thread(embedder.encode, [texts[i] for i in missing])
            async with binary.pipeline(transaction=False) as pipe:
                for row, i in enumerate(missing):
                    # expire: customer queries are many and mostly one-off
                    pipe.set(keys[i], fresh[row].tobytes(), ex=30 * 86400)
                    cached[i] = fresh[row].tobytes()
                await pipe.execute()
        return np.vstack([np.frombuffer(raw, dtype=np.float32) for raw in cached])


def _entry(entry_id: str, fields: dict) -> Entry:
    f = fields
    try:
        ts = float(f.get("ts", "0"))
    except ValueError:
        ts = 0.0
    return Entry(id=entry_id, query=f.get("query", ""), outcome=f.get("outcome", ""),
                 channel=f.get("channel", ""), ts=ts)



def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]
