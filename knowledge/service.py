"""The knowledge service used by the action server: it keeps an in-memory index
of the published articles, rebuilt whenever the store's revision moves, so an
editor's publish reaches every process without a restart or a retrain."""

from __future__ import annotations

import asyncio
import hashlib
import logging

import numpy as np
from redis.asyncio import Redis

from core.keys import KEYS, Keys
from knowledge import ArticleNotFound
from knowledge.embedder import Embedder
from knowledge.index import VariantIndex
from knowledge.models import Article, Decision
from knowledge.policy import Thresholds, decide
from knowledge.settings import KnowledgeSettings
from knowledge.store import ArticleStore

log = logging.getLogger(__name__)


class KnowledgeService:
    def __init__(
        self, redis: Redis, embedder: Embedder, settings: KnowledgeSettings, keys: Keys = KEYS
    ) -> None:
        self.store = ArticleStore(redis, keys)
        self._redis = redis
        self._keys = keys
        self._embedder = embedder
        self._settings = settings
        self._index = VariantIndex([], np.zeros((0, 384), dtype=np.float32))
        self._index_revision = -1
        self._rebuild_lock = asyncio.Lock()

    @property
    def thresholds(self) -> Thresholds:
        s = self._settings
        return Thresholds(s.answer_threshold, s.clarify_threshold, s.clarify_margin,
                          s.clarify_max_options)

    async def ensure_fresh(self) -> VariantIndex:
        """Rebuild the index if an article was published since it was built."""
        revision = await self.store.revision()
        if revision == 0 and await self.store.seed_from_folder(self._settings.articles_dir):
            revision = await self.store.revision()
        if revision != self._index_revision:
            async with self._rebuild_lock:
                if revision != self._index_revision:
                    self._index = await self._build_index()
                    self._index_revision = revision
                    log.info("knowledge index rebuilt: revision %s, %s variants",
                             revision, len(self._index))
        return self._index

    async def _build_index(self) -> VariantIndex:
        articles = [a for a in await self.store.all() if a.status == "published"]
        variants = VariantIndex.variants(articles)
        return VariantIndex(articles, await self._embeddings(variants))

    async def _embeddings(self, texts: list[str]) -> np.ndarray:
        """Embeddings cached in Redis by text, so a rebuild only encodes what is new."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        keys = [self._keys.embedding(self._embedder.name, _sha(t)) for t in texts]
        cached = await self._redis.mget(keys)
        missing = [i for i, raw in enumerate(cached) if raw is None]
        if missing:
            fresh = await asyncio.to_thread(self._embedder.encode_variants,
                                            [texts[i] for i in missing])
            async with self._redis.pipeline(transaction=False) as pipe:
                for row, i in enumerate(missing):
                    pipe.set(keys[i], fresh[row].tobytes())
                    cached[i] = fresh[row].tobytes()
                await pipe.execute()
        return np.vstack([np.frombuffer(raw, dtype=np.float32) for raw in cached])

    async def decide(self, query: str, channel: str = "web", *, record: bool = True,
                     customer_id: str | None = None) -> Decision:
        """record=False: the editor's "try a question" must not count as unanswered.
        customer_id lets a later clarification button press be matched to this query."""
        index = await self.ensure_fresh()
        vector = (await self._embedder.encode_async([query]))[0]
        matches = index.search(vector, k=max(5, self._settings.clarify_max_options))
        decision = decide(query, matches, self.thresholds)
        if decision.kind == "answer":
            decision = decision.model_copy(
                update={"article": index.articles[decision.matches[0].article_id]}
            )
        elif record:
            await self.store.record_unanswered(query, decision.kind, channel,
                                               customer_id=customer_id)
        return decision

    async def article(self, article_id: str) -> Article:
        article = await self.store.get(article_id)
        if article.status != "published":
            raise ArticleNotFound(article_id)
        return article


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]
