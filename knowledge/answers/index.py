"""Nearest-neighbour search over the question variants of published articles."""

from __future__ import annotations

from functools import cached_property

import numpy as np

from knowledge.answers.head import ArticleHead, mixed_cosines
from knowledge.answers.spelling import Vocabulary
from knowledge.models import Article, Match


class VariantIndex:
    """Rows are question variants, grouped by article so that an article's score
    is the best score of any of its variants."""

    @cached_property
    def vocabulary(self) -> Vocabulary:
        """The words of these articles, for correcting typos (made on first use)."""
        return Vocabulary(list(self.articles.values()))

    def __init__(self, articles: list[Article], embeddings: np.ndarray) -> None:
        self.articles = {a.id: a for a in articles}
        self._order = [a.id for a in articles]
        self._questions = self.variants(articles)
        counts = [len(a.all_questions()) for a in articles]
        self._starts = np.cumsum([0, *counts[:-1]]) if counts else np.zeros(0, dtype=int)
        self._matrix = embeddings
        self.labels = np.repeat(np.arange(len(articles)), counts).astype(np.int64)
        if embeddings.shape[0] != len(self._questions):
            raise ValueError("one embedding per question variant is required")

    @property
    def embeddings(self) -> np.ndarray:
        return self._matrix

    @property
    def questions(self) -> list[str]:
        """The variants, in row order of `embeddings`."""
        return self._questions

    @property
    def order(self) -> list[str]:
        """Article ids in row order of `labels` and of a head's weights."""
        return self._order

    @staticmethod
    def variants(articles: list[Article]) -> list[str]:
        """Every language's variants: a question matches whichever language's
        variant it is closest to (the encoders share one space across languages)."""
        return [q for a in articles for _, q in a.all_questions()]

    def __len__(self) -> int:
        return len(self._questions)

    def search(self, query_vector: np.ndarray, k: int = 5,
               head: ArticleHead | None = None,
               spelling: np.ndarray | None = None,
               head_vector: np.ndarray | None = None) -> list[Match]:
        """Best articles first. With a head, an article's score is its best cosine
        (mixed with the best shared spelling of a variant, `spelling` being the
        question's row of LexicalIndex.similarities, when the head says so) blended
        with the head's probability of `head_vector` (default `query_vector`; see
        embedder.Queries) (knowledge.answers.head.blended_scores)."""
        if not self._questions:
            return []
        scores = self._matrix @ query_vector
        best_per_article = np.maximum.reduceat(scores, self._starts)
        if head is not None:
            if head.lexical > 0 and spelling is not None:
                best_per_article = mixed_cosines(
                    best_per_article, np.maximum.reduceat(spelling, self._starts), head.lexical)
            best_per_article = head.scores(
                best_per_article, query_vector if head_vector is None else head_vector)[0]
        top = np.argsort(-best_per_article, kind="stable")[:k]
        matches = []
        for i in top:
            start = int(self._starts[i])
            end = int(self._starts[i + 1]) if i + 1 < len(self._starts) else len(scores)
            row = start + int(np.argmax(scores[start:end]))
            article = self.articles[self._order[i]]
            matches.append(
                Match(
                    article_id=article.id,
                    title=article.title,
                    score=float(best_per_article[i]),
                    question=self._questions[row],
                )
            )
        return matches
