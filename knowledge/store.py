"""Articles in Redis: the current version of each, its history, and a revision
counter that every process watches to know when to rebuild its index."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import WatchError

from knowledge import ArticleInvalid, ArticleNotFound, VersionConflict
from knowledge.articles_io import load_folder
from knowledge.keys import KNOWLEDGE_KEYS, KnowledgeKeys
from knowledge.models import Article

log = logging.getLogger(__name__)

# How long a customer may take to press one of the clarification buttons.
SUPERSEDE_LOOKBACK = 200  # entries (of every customer) read back for the fallback entry
SUPERSEDE_WINDOW_S = 900.0  # the fallback, the offer of a person and its acceptance
CLARIFY_PICK_WINDOW_S = 24 * 3600


class ArticleStore:
    """With a `seed_folder`, the store loads that folder's articles on its first
    use against an empty knowledge base: the one place where the knowledge base
    is seeded, whichever process (gateway, action server, CLI) comes first."""

    def __init__(self, redis: Redis, keys: KnowledgeKeys = KNOWLEDGE_KEYS, *,
                 seed_folder: Path | None = None) -> None:
        self._redis = redis
        self._keys = keys
        self._seed_folder = seed_folder

    async def revision(self) -> int:
        # Every question reads this: one round trip once the store is seeded.
        revision = await self._revision()
        if revision == 0 and await self._seed_if_empty(revision):
            revision = await self._revision()
        return revision

    async def _revision(self) -> int:
        return int(await self._redis.get(self._keys.kb_revision) or 0)

    async def _ensure_seeded(self) -> None:
        if self._seed_folder is not None:
            await self._seed_if_empty(await self._revision())

    async def _seed_if_empty(self, revision: int) -> int:
        """Seed from the folder when the store is empty; how many were loaded."""
        if self._seed_folder is None or revision != 0:
            return 0
        count = await self.seed_from_folder(self._seed_folder)
        if count:
            log.info("knowledge base seeded with %s articles from %s", count, self._seed_folder)
        return count

    async def get(self, article_id: str) -> Article:
        await self._ensure_seeded()
        raw = await self._redis.get(self._keys.article(article_id))
        if raw is None:
            raise ArticleNotFound(article_id)
        return Article.model_validate_json(raw)

    async def all(self) -> list[Article]:
        await self._ensure_seeded()
        ids = sorted(await self._redis.smembers(self._keys.article_ids))
        if not ids:
            return []
        raws = await self._redis.mget([self._keys.article(i) for i in ids])
        return [Article.model_validate_json(r) for r in raws if r is not None]

    async def save(self, article: Article, *, expected_version: int | None, author: str) -> Article:
        """Store a new version. `expected_version` is the version the editor started
        from (None for a new article); if someone saved in between, VersionConflict."""
        await self._ensure_seeded()
        return await self._save(article, expected_version=expected_version, author=author)

    async def _save(self, article: Article, *, expected_version: int | None, author: str
                    ) -> Article:
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
                pipe.multi()
                self._publish_in(pipe, [saved])
                await pipe.execute()
            except WatchError as exc:
                raise VersionConflict(f"article {article.id!r} changed while saving") from exc
        return saved

    async def save_many(self, changes: list[tuple[Article, int | None]], *, author: str
                        ) -> list[Article]:
        """Store new versions of several articles all at once or not at all (an
        import): each (article, expected_version) is checked like `save`, and
        one revision bump publishes them together."""
        await self._ensure_seeded()
        if not changes:
            return []
        ids = [article.id for article, _ in changes]
        if len(set(ids)) != len(ids):
            raise ArticleInvalid("the same article id appears twice")
        keys = [self._keys.article(i) for i in ids]
        async with self._redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(*keys)
                # one GET each: a cluster pipeline refuses MGET while watching
                raws = [await pipe.get(key) for key in keys]
                saved, conflicts, now = [], [], time.time()
                for (article, expected), raw in zip(changes, raws, strict=True):
                    current = Article.model_validate_json(raw).version if raw else None
                    if current != expected:
                        conflicts.append(f"{article.id!r} is at version {current}, "
                                         f"expected {expected}")
                        continue
                    saved.append(article.model_copy(update={
                        "version": (current or 0) + 1, "updated_at": now, "updated_by": author}))
                if conflicts:
                    raise VersionConflict("; ".join(conflicts))
                pipe.multi()
                self._publish_in(pipe, saved)
                await pipe.execute()
            except WatchError as exc:
                raise VersionConflict("an article changed while importing") from exc
        return saved

    def _publish_in(self, pipe, articles: list[Article]) -> None:
        """Queue new versions (already numbered) on a MULTI: each article's
        current version, its history and the id set, and one revision bump that
        publishes them together."""
        for article in articles:
            body = article.model_dump_json()
            pipe.set(self._keys.article(article.id), body)
            pipe.rpush(self._keys.article_versions(article.id), body)
            pipe.sadd(self._keys.article_ids, article.id)
        pipe.incr(self._keys.kb_revision)

    async def versions(self, article_id: str) -> list[Article]:
        """Every saved version of an article, oldest first."""
        raws = await self._redis.lrange(self._keys.article_versions(article_id), 0, -1)
        if not raws:
            raise ArticleNotFound(article_id)
        return [Article.model_validate_json(r) for r in raws]

    async def version(self, article_id: str, version: int) -> Article:
        # Versions are appended in order, so version n is normally at index n-1;
        # scan if not (a store written by something else).
        raw = await self._redis.lindex(self._keys.article_versions(article_id), version - 1)
        if raw is not None and (found := Article.model_validate_json(raw)).version == version:
            return found
        for article in await self.versions(article_id):
            if article.version == version:
                return article
        raise ArticleNotFound(f"{article_id} version {version}")

    async def seed_from_folder(self, folder: Path) -> int:
        """Load the seed articles once, on the first start against an empty store.

        All of them become visible in one MULTI, with the seeded flag: a process
        that reads while another seeds sees none or all, never an empty list
        that is about to fill (the editor's first list did, and showed "0
        articles"). Several processes may race; WATCH lets one win, and when
        this returns the store is seeded either way.

        Returns how many were loaded (0 when the store was already seeded)."""
        if await self._redis.exists(self._keys.kb_seeded):
            return 0
        articles = load_folder(folder)
        now = time.time()
        async with self._redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(self._keys.kb_seeded)
                if await pipe.exists(self._keys.kb_seeded):
                    return 0
                pipe.multi()
                pipe.set(self._keys.kb_seeded, str(now))
                first = {"version": 1, "updated_at": now, "updated_by": "seed"}
                self._publish_in(pipe, [a.model_copy(update=first) for a in articles])
                await pipe.execute()
            except WatchError:
                return 0  # another process seeded first, in one step
        return len(articles)

    async def record_unanswered(self, query: str, outcome: str, channel: str, *,
                                customer_id: str | None = None) -> str:
        """Keep a query that did not get a straight answer (outcome: fallback,
        clarify, escalated) for the editors' "unanswered questions" view.

        With `customer_id` (always given for a customer's turn), the entry names
        the customer, for their erasure; and a clarification is remembered as pending for that
        customer, so pressing one of its buttons (`clarification_picked`) marks it
        as answered after all. Returns the stream entry id."""
        fields = {"query": query[:1000], "outcome": outcome, "channel": channel,
                  "ts": str(time.time())}
        if customer_id:  # so an erasure finds it by whom, not by wording
            fields["customer"] = customer_id
        entry_id = await self._redis.xadd(
            self._keys.unanswered,
            fields,
            maxlen=50_000,
            approximate=True,
        )
        if customer_id and outcome == "clarify":
            await self._redis.set(self._keys.clarify_pending(customer_id), entry_id,
                                  ex=CLARIFY_PICK_WINDOW_S)
        if customer_id and outcome == "escalated":
            await self._supersede(entry_id, fields)
        return entry_id

    async def _supersede(self, entry_id: str, escalated: dict[str, str]) -> None:
        """One message, one count: the knowledge action records a question that
        fell back (KnowledgeService.decide), then the same message again as
        "escalated" when the customer accepts the offer of a person that followed
        it (actions/handoff_actions.py, record_accepted_offer). The fallback entry
        of the same customer and wording just before leaves the view (resolved
        "escalated:<entry id>"), so the escalated entry counts the message once."""
        recent = await self._redis.xrevrange(self._keys.unanswered, max=f"({entry_id}",
                                             count=SUPERSEDE_LOOKBACK)
        for earlier_id, fields in recent:
            if fields.get("customer") != escalated["customer"]:
                continue
            if fields.get("query") == escalated["query"] and \
                    fields.get("outcome") in ("fallback", "clarify") and \
                    float(escalated["ts"]) - float(fields.get("ts", "0")) < SUPERSEDE_WINDOW_S:
                await self._redis.hsetnx(self._keys.unanswered_resolved, earlier_id,
                                         f"escalated:{entry_id}")
            return  # only the customer's entry just before can be the same message

    async def clarification_picked(self, customer_id: str, article_id: str) -> str | None:
        """The customer pressed a clarification button: their last clarification
        found its answer, so it leaves the unanswered view. Returns its entry id."""
        entry_id = await self._redis.getdel(self._keys.clarify_pending(customer_id))
        if entry_id is None:
            return None
        await self._redis.hset(self._keys.unanswered_resolved, entry_id, f"picked:{article_id}")
        return entry_id

