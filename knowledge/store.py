"""Articles in Redis: the current version of each, its history, and a revision
counter that every process watches to know when to rebuild its index."""

from __future__ import annotations

import time
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import WatchError

from core.keys import KEYS, Keys
from knowledge import ArticleNotFound, VersionConflict
from knowledge.articles_io import load_folder
from knowledge.models import Article


class ArticleStore:
    def __init__(self, redis: Redis, keys: Keys = KEYS) -> None:
        self._redis = redis
        self._keys = keys

    async def revision(self) -> int:
        return int(await self._redis.get(self._keys.kb_revision) or 0)

    async def get(self, article_id: str) -> Article:
        raw = await self._redis.get(self._keys.article(article_id))
        if raw is None:
            raise ArticleNotFound(article_id)
        return Article.model_validate_json(raw)

    async def all(self) -> list[Article]:
        ids = sorted(await self._redis.smembers(self._keys.article_ids))
        if not ids:
            return []
        raws = await self._redis.mget([self._keys.article(_decode(i)) for i in ids])
        return [Article.model_validate_json(r) for r in raws if r is not None]

    async def save(self, article: Article, *, expected_version: int | None, author: str) -> Article:
        """Store a new version. `expected_version` is the version the editor started
        from (None for a new article); if someone saved in between, VersionConflict."""
        key = self._keys.article(article.id)
        async with self._redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(key)
                raw = await pipe.get(key)
                current = Article.model_validate_json(raw) if raw else None
                current_version = current.version if current else None
                if current_version != expected_version:
                    raise VersionConflict(
                        f"article {article.id!r} is at version {current_version}, "
                        f"you edited version {expected_version}"
                    )
                saved = article.model_copy(
                    update={
                        "version": (current_version or 0) + 1,
                        "updated_at": time.time(),
                        "updated_by": author,
                    }
                )
                body = saved.model_dump_json()
                pipe.multi()
                pipe.set(key, body)
                pipe.rpush(self._keys.article_versions(article.id), body)
                pipe.sadd(self._keys.article_ids, article.id)
                pipe.incr(self._keys.kb_revision)
                await pipe.execute()
            except WatchError as exc:
                raise VersionConflict(f"article {article.id!r} changed while saving") from exc
        return saved

    async def seed_from_folder(self, folder: Path) -> int:
        """Load the seed articles once, on the first start against an empty store.

        Returns how many were loaded (0 when the store was already seeded)."""
        if not await self._redis.set(self._keys.kb_seeded, str(time.time()), nx=True):
            return 0
        articles = load_folder(folder)
        for article in articles:
            await self.save(article, expected_version=None, author="seed")
        return len(articles)

    async def record_unanswered(self, query: str, outcome: str, channel: str) -> None:
        await self._redis.xadd(
            self._keys.unanswered,
            {"query": query[:1000], "outcome": outcome, "channel": channel, "ts": str(time.time())},
            maxlen=50_000,
            approximate=True,
        )


def _decode(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
