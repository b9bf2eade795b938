"""The knowledge part's Redis keys: articles, embeddings, the fitted head and
the editors' unanswered questions.

Every knowledge-base key shares the {kb} hash tag, so a publish (article,
versions, ids and revision in one MULTI, WATCHing the articles) and the MGETs of
articles and embeddings touch one Cluster slot. The knowledge base is small and
read-mostly (each process keeps its own index), so one slot is no bottleneck."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from core.keys import KeySpace


@dataclass(frozen=True)
class KnowledgeKeys(KeySpace):
    not_personal: ClassVar[dict[str, str]] = {
        "article": "a knowledge-base article (editors' content)",
        "article_versions": "an article's history (editors' content)",
        "article_ids": "the article ids",
        "kb_revision": "a counter",
        "kb_seeded": "a flag",
        "kb_head": "a fitted model of the published articles' questions",
        "kb_head_fitting": "which process is fitting a head; a process id",
        "unanswered_resolved": "unanswered entry id -> how an editor dealt with it; no text",
        "suggested_topics": "the article ids editors chose for the widget's greeting",
        "answers_counted": "article id -> how often it answered a customer; no customer",
    }

    @property
    def _kb(self) -> str:
        """`fd:{kb}`: the start of every knowledge-base key (one Cluster slot)."""
        return f"{self.prefix}:{{kb}}"

    def article(self, article_id: str) -> str:
        return f"{self._kb}:article:{article_id}"

    def article_versions(self, article_id: str) -> str:
        return f"{self._kb}:article:{article_id}:versions"

    @property
    def article_ids(self) -> str:
        return f"{self._kb}:ids"

    @property
    def kb_revision(self) -> str:
        """Bumped on every publish; every process rebuilds its index when it moves."""
        return f"{self._kb}:revision"

    @property
    def kb_seeded(self) -> str:
        return f"{self._kb}:seeded"

    def embedding(self, model: str, text_sha: str) -> str:
        """Bytes of one text's embedding (article variants, and customers' unanswered
        questions for grouping), by a hash of the text."""
        return f"{self._kb}:emb:{model}:{text_sha}"

    def kb_head(self, model: str, content_sha: str) -> str:
        """A fitted answer head and its thresholds, for one exact set of published
        variants (and head settings): fitted once, shared by every replica."""
        return f"{self._kb}:head:{model}:{content_sha}"

    def kb_head_fitting(self, model: str, content_sha: str) -> str:
        """Held (SET NX, with a TTL) by the one process that fits this head; the
        others wait for it rather than fit the same head at the same time."""
        return f"{self._kb}:head:{model}:{content_sha}:fitting"

    @property
    def unanswered(self) -> str:
        return f"{self._kb}:unanswered"

    @property
    def unanswered_resolved(self) -> str:
        """Hash: unanswered stream entry id -> how it was dealt with ("picked:<article>"
        when the customer pressed a clarification button, "escalated:<entry id>" when
        the same message was recorded again as escalated, "variant:<article>",
        "new:<article>" or "dismissed" when an editor handled it)."""
        return f"{self._kb}:unanswered:resolved"

    @property
    def suggested_topics(self) -> str:
        """JSON list of article ids: the web chat greeting's topics, as editors set
        them (missing: the most asked, knowledge/topics.py)."""
        return f"{self._kb}:topics"

    @property
    def answers_counted(self) -> str:
        """Sorted set: article id -> answers given to customers (the most asked)."""
        return f"{self._kb}:answers-counted"

    def clarify_pending(self, customer_id: str) -> str:
        """The unanswered entry id of the clarification a customer was last offered,
        until they press one of its buttons (expires)."""
        return f"{self.customer_tag(customer_id)}:kb:clarify-pending"


KNOWLEDGE_KEYS = KnowledgeKeys()
