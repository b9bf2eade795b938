"""The web chat greeting's suggested topics: 3-4 articles a new customer can
pick instead of typing (docs/knowledge.md, "Suggested topics").

Editors may choose them (the editor's "Suggested topics" panel,
knowledge/editor/topics_api.py); until they do, the most asked ones: the
articles that answered customers most often (counted as they answer,
`count_answer`), topped up from a fixed seed list while there are too few
answers yet. Only published articles are offered; each is shown by its title in
the customer's language and, when pressed, asks its first question variant in
that language, as if the customer had typed it."""

from __future__ import annotations

import json
import logging

from redis.asyncio import Redis

from core.i18n import LANGUAGES
from knowledge import ArticleInvalid
from knowledge.keys import KNOWLEDGE_KEYS, KnowledgeKeys
from knowledge.models import Article
from knowledge.store import ArticleStore

log = logging.getLogger(__name__)
MAX_TOPICS = 4
# The seed knowledge base's everyday questions: the topics before any answer is counted.
SEED_TOPICS = ("track-order", "how-to-return", "delivery-times", "payment-methods")


async def count_answer(redis: Redis, article_id: str,
                       keys: KnowledgeKeys = KNOWLEDGE_KEYS) -> None:
    """An article answered a customer: one more for the most asked topics."""
    await redis.zincrby(keys.answers_counted, 1, article_id)


class SuggestedTopics:
    def __init__(self, redis: Redis, store: ArticleStore,
                 keys: KnowledgeKeys = KNOWLEDGE_KEYS, seed: tuple[str, ...] = SEED_TOPICS
                 ) -> None:
        self._redis = redis
        self._store = store
        self._keys = keys
        self._seed = seed
        # The published articles as of a revision: every web chat that opens asks
        # for the topics, and reading and parsing the whole knowledge base each
        # time cost a quarter of the gateway's CPU while 50 widgets opened.
        self._published_at: tuple[int, list[Article]] | None = None

    async def chosen(self) -> list[str]:
        """The article ids editors chose, in order; [] while the most asked are shown."""
        raw = await self._redis.get(self._keys.suggested_topics)
        return list(json.loads(raw)) if raw else []

    async def choose(self, article_ids: list[str]) -> list[str]:
        """Editors' topics from now on ([]: the most asked again). Each must be a
        published article, named once; at most MAX_TOPICS."""
        if len(article_ids) > MAX_TOPICS:
            raise ArticleInvalid(f"At most {MAX_TOPICS} suggested topics.")
        if len(set(article_ids)) != len(article_ids):
            raise ArticleInvalid("Each article can be a suggested topic once.")
        published = {a.id for a in await self._published()}
        unknown = [i for i in article_ids if i not in published]
        if unknown:
            raise ArticleInvalid(f"Not a published article: {', '.join(unknown)}.")
        if article_ids:
            await self._redis.set(self._keys.suggested_topics, json.dumps(article_ids))
        else:
            await self._redis.delete(self._keys.suggested_topics)
        return article_ids

    async def most_asked(self, published: dict[str, Article] | None = None) -> list[str]:
        """The published articles that answered customers most often, topped up
        from the seed list (then any published article) to MAX_TOPICS."""
        if published is None:
            published = {a.id: a for a in await self._published()}
        counted = await self._redis.zrevrange(self._keys.answers_counted, 0, 50)
        ids: list[str] = []
        for article_id in (*counted, *self._seed, *sorted(published)):
            if article_id in published and article_id not in ids:
                ids.append(article_id)
            if len(ids) == MAX_TOPICS:
                break
        return ids

    async def current(self) -> tuple[list[Article], str]:
        """The topics shown now and where they come from ("editors" or "most asked")."""
        published = {a.id: a for a in await self._published()}
        chosen = [published[i] for i in await self.chosen() if i in published]
        if chosen:
            return chosen, "editors"
        return [published[i] for i in await self.most_asked(published)], "most asked"

    async def for_widget(self) -> list[dict]:
        """Each topic in every language the product speaks: {id, title: {en, de},
        question: {en, de}} (an article without a translation shows its main
        language's), so the widget can switch language without asking again."""
        articles, _ = await self.current()
        return [{"id": a.id,
                 "title": {code: a.text(code).title for code in LANGUAGES},
                 "question": {code: a.text(code).questions[0] for code in LANGUAGES}}
                for a in articles]

    async def _published(self) -> list[Article]:
        """Read again only after a save (every save moves the revision on)."""
        revision = await self._store.revision()
        if self._published_at is None or self._published_at[0] != revision:
            articles = [a for a in await self._store.all() if a.status == "published"]
            self._published_at = (revision, articles)
        return self._published_at[1]
