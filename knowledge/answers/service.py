"""The knowledge service used by the action server: it keeps an in-memory index
of the published articles, rebuilt whenever the store's revision moves, so an
editor's publish reaches every process without a restart or a retrain.

After a rebuild the index answers at once with cosine scores; a learned head
(knowledge/answers/head.py) is fitted in a worker thread and swapped in when ready.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from dataclasses import dataclass, replace

import numpy as np
from redis.asyncio import Redis

from core.redis import binary_of
from core.settings import KnowledgeSettings
from knowledge import ArticleNotFound
from knowledge.answers.embedder import Embedder, Queries
from knowledge.answers.head import (
    ArticleHead,
    CalibrationTargets,
    Fitted,
    dump_all,
    fit_head,
    fit_thresholds,
    load_all,
    training_rows,
)
from knowledge.answers.index import VariantIndex
from knowledge.answers.lexical import LexicalIndex
from knowledge.answers.policy import Thresholds, decide
from knowledge.answers.readings import readings
from knowledge.keys import KNOWLEDGE_KEYS, KnowledgeKeys
from knowledge.models import Article, Decision, Match
from knowledge.store import ArticleStore
from knowledge.topics import count_answer

log = logging.getLogger(__name__)

_HEAD_TTL_S = 30 * 24 * 3600
# Fitting the seed's two heads takes ~15 s on a quiet machine; a process that
# dies while fitting holds the others back for at most this long (they answer
# by cosine meanwhile).
_FIT_CLAIM_TTL_S = 180
_FIT_POLL_S = 0.5
# Bump when how questions are encoded or weighted changes: a cached head fitted
# the old way must not be reused.
_HEAD_VERSION = 7
# names of the fits kept under one head key: every question's, and English
# questions' own when the embedder gives them one (Embedder.english_head_rows)
_ANY, _ENGLISH = "any", "english"


@dataclass(frozen=True)
class Scoring:
    """What `decide` uses, swapped as one object so that a query never mixes one
    revision's index with another's head or thresholds."""

    index: VariantIndex
    thresholds: Thresholds
    head: ArticleHead | None = None
    spelling: LexicalIndex | None = None  # the variants' spelling, when the head mixes it in
    english: Fitted | None = None  # for questions more likely English, when they have their own

    def for_question(self, english: bool) -> tuple[ArticleHead | None, Thresholds]:
        if english and self.english is not None:
            return self.english.head, self.english.thresholds
        return self.head, self.thresholds


class KnowledgeService:
    def __init__(
        self, redis: Redis, embedder: Embedder, settings: KnowledgeSettings,
        keys: KnowledgeKeys = KNOWLEDGE_KEYS,
    ) -> None:
        self.store = ArticleStore(redis, keys, seed_folder=settings.articles_dir)
        self._redis = redis
        self._binary = binary_of(redis)  # embeddings and the pickled head are bytes
        self._keys = keys
        self._embedder = embedder
        self._settings = settings
        empty = VariantIndex([], np.zeros((0, embedder.dimension), dtype=np.float32))
        self._scoring = Scoring(empty, self.cosine_thresholds)
        self._index_revision = -1
        self._rebuild_lock = asyncio.Lock()
        self._learning: asyncio.Task | None = None
        self._fits: set[asyncio.Task] = set()

    @property
    def cosine_thresholds(self) -> Thresholds:
        s = self._settings
        return Thresholds(s.answer_threshold, s.clarify_threshold, s.clarify_margin,
                          s.clarify_max_options)

    @property
    def thresholds(self) -> Thresholds:
        """The thresholds in use now: fitted ones once the head is in."""
        return self._scoring.thresholds

    def fitted_for(self, *, english: bool) -> tuple[ArticleHead | None, Thresholds]:
        """The head (None before it is in) and thresholds a question gets now:
        English questions' own when they have one (Scoring.for_question)."""
        return self._scoring.for_question(english)

    @property
    def head_blend(self) -> float | None:
        """Share of the head's probability in scores now; None before the head is in."""
        return self._scoring.head.blend if self._scoring.head is not None else None

    @property
    def _index(self) -> VariantIndex:
        return self._scoring.index

    async def ensure_fresh(self) -> VariantIndex:
        """Rebuild the index if an article was published since it was built."""
        revision = await self.store.revision()
        if revision != self._index_revision:
            async with self._rebuild_lock:
                if revision != self._index_revision:
                    index = await self._build_index()
                    self._scoring = Scoring(index, self.cosine_thresholds)
                    self._index_revision = revision
                    self._learning = self._start_learning(index)
                    log.info("knowledge index rebuilt: revision %s, %s variants",
                             revision, len(index))
        return self._index

    async def learned(self) -> bool:
        """Wait for the head of the current revision (if one is being fitted);
        True when answers now use it. For benchmarks, tests and warm-up."""
        await self.ensure_fresh()
        if self._learning is not None:
            await asyncio.shield(self._learning)
        return self._scoring.head is not None

    def _start_learning(self, index: VariantIndex) -> asyncio.Task | None:
        s = self._settings
        if not s.kb_head or len(index.order) < s.kb_head_min_articles:
            return None  # a handful of articles: nearest neighbour is as good as it gets
        task = asyncio.create_task(self._learn(index), name="kb-head")
        self._fits.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._fits.discard)
        return task

    async def _learn(self, index: VariantIndex) -> None:
        targets = self._targets()
        e5_regularisation = self._settings.kb_head_regularisation_e5
        sha = _content_sha(index, targets, e5_regularisation)
        key = self._keys.kb_head(self._embedder.name, sha)
        fitting = self._keys.kb_head_fitting(self._embedder.name, sha)
        try:
            spelling = (await asyncio.to_thread(_spelling, index, self._embedder)
                        if targets.lexical > 0 else None)
            while (raw := await self._binary.get(key)) is None:
                if self._scoring.index is not index:
                    return  # published again meanwhile: that revision's head is wanted
                # One process fits (seconds of both cores); gateway, action
                # server and replicas that start together wait for its head.
                if await self._redis.set(fitting, str(os.getpid()), nx=True,
                                         ex=_FIT_CLAIM_TTL_S):
                    try:
                        fits = await asyncio.to_thread(_fit, index, targets, self._embedder,
                                                       spelling, e5_regularisation)
                        await self._binary.set(key, dump_all(fits), ex=_HEAD_TTL_S)
                    finally:
                        await self._redis.delete(fitting)
                    break
                await asyncio.sleep(_FIT_POLL_S)
            else:
                fits = load_all(raw)
        except Exception:  # the cosine index keeps answering; the next publish retries
            log.exception("fitting the knowledge head failed")
            return
        if self._scoring.index is index:  # a newer publish wins over a late head
            fitted = fits[_ANY]
            self._scoring = Scoring(index, fitted.thresholds, fitted.head, spelling,
                                    fits.get(_ENGLISH))
            for name, f in fits.items():
                log.info("knowledge head in use for %s questions: blend %.1f, answer >= %.2f,"
                         " clarify >= %.2f", name, f.head.blend, f.thresholds.answer,
                         f.thresholds.clarify)

    def _targets(self) -> CalibrationTargets:
        s = self._settings
        return CalibrationTargets(
            blends=s.kb_head_blends, regularisation=s.kb_head_regularisation,
            margin=s.kb_head_margin, max_options=s.clarify_max_options,
            wrong_rate=s.kb_target_wrong_rate,
            unknown_answered_rate=s.kb_target_unknown_answered_rate,
            resolvable_clarified=s.kb_target_resolvable_clarified,
            lead=s.kb_answer_by_lead, splits=s.kb_head_splits, lexical=s.kb_lexical_weight)

    async def _build_index(self) -> VariantIndex:
        articles = [a for a in await self.store.all() if a.status == "published"]
        variants = VariantIndex.variants(articles)
        return VariantIndex(articles, await self._embeddings(variants))

    async def _embeddings(self, texts: list[str]) -> np.ndarray:
        """Embeddings cached in Redis by text, so a rebuild only encodes what is new."""
        if not texts:
            return np.zeros((0, self._embedder.dimension), dtype=np.float32)
        keys = [self._keys.embedding(self._embedder.name, _sha(t)) for t in texts]
        cached = await self._binary.mget(keys)
        missing = [i for i, raw in enumerate(cached) if raw is None]
        if missing:
            fresh = await asyncio.to_thread(self._embedder.encode_variants,
                                            [texts[i] for i in missing])
            async with self._binary.pipeline(transaction=False) as pipe:
                for row, i in enumerate(missing):
                    pipe.set(keys[i], fresh[row].tobytes())
                    cached[i] = fresh[row].tobytes()
                await pipe.execute()
        return np.vstack([np.frombuffer(raw, dtype=np.float32) for raw in cached])

    async def decide(self, query: str, channel: str = "web", *, record: bool = True,
                     customer_id: str | None = None) -> Decision:
        """record=False: the editor's "try a question" must not count as unanswered.
        customer_id lets a later clarification button press be matched to this query."""
        await self.ensure_fresh()
        scoring = self._scoring
        matches, thresholds = await self._best_reading(scoring, query)
        decision = decide(query, matches, thresholds)
        if decision.kind != "answer":
            # Not answered as written: typos corrected against the knowledge
            # base's own words (knowledge/answers/spelling.py) may find it.
            corrected = scoring.index.vocabulary.correct(query)
            if corrected != query:
                retried, retried_thresholds = await self._best_reading(scoring, corrected)
                if retried and (not matches or retried[0].score > matches[0].score):
                    matches = retried
                    decision = decide(query, matches, retried_thresholds)
        if decision.kind == "answer":
            decision = decision.model_copy(
                update={"article": scoring.index.articles[decision.matches[0].article_id]}
            )
            if record:  # the most asked topics of the web chat greeting (knowledge/topics.py)
                await count_answer(self._redis, decision.matches[0].article_id, self._keys)
        elif record:
            await self.store.record_unanswered(query, decision.kind, channel,
                                               customer_id=customer_id)
        return decision

    async def _best_reading(self, scoring: Scoring, message: str
                            ) -> tuple[list[Match], Thresholds]:
        """The matches of the reading of `message` whose best article scores
        highest (knowledge/answers/readings.py), and the thresholds of the head
        that scored it (Scoring.for_question)."""
        texts = readings(message)
        queries, english, spelling = await asyncio.to_thread(self._read, scoring, texts)
        k = max(5, self._settings.clarify_max_options)
        scored = []
        for i in range(len(texts)):
            head, thresholds = scoring.for_question(bool(english[i]))
            scored.append((scoring.index.search(queries.cosine[i], k=k, head=head,
                                                spelling=spelling[i],
                                                head_vector=queries.head[i]), thresholds))
        return max(scored, key=lambda found: found[0][0].score if found[0] else -1.0)

    def _read(self, scoring: Scoring, texts: list[str]
              ) -> tuple[Queries, np.ndarray, list[np.ndarray | None]]:
        """CPU-bound, in one worker thread: the readings' rows, whether each is
        more likely English, and, when the head mixes it in, their shared
        spelling with the variants."""
        queries = self._embedder.encode_queries(texts)
        english = self._embedder.english(texts)
        if english is None:
            english = np.zeros(len(texts), dtype=bool)
        if scoring.spelling is None:
            return queries, english, [None] * len(texts)
        return queries, english, list(scoring.spelling.similarities(texts, english))

    async def article(self, article_id: str) -> Article:
        article = await self.store.get(article_id)
        if article.status != "published":
            raise ArticleNotFound(article_id)
        return article


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _content_sha(index: VariantIndex, targets: CalibrationTargets,
                 e5_regularisation: float | None = None) -> str:
    """Same articles, variants and targets: same head (answers do not enter it)."""
    h = hashlib.sha256(repr((_HEAD_VERSION, targets, e5_regularisation)).encode())
    for article_id in index.order:
        h.update(repr((article_id, index.articles[article_id].all_questions())).encode())
    return h.hexdigest()[:32]


def _spelling(index: VariantIndex, embedder: Embedder) -> LexicalIndex:
    """CPU-bound (each variant's language is detected): in a worker thread."""
    return LexicalIndex(index.questions, embedder.english(index.questions))


def _fit(index: VariantIndex, targets: CalibrationTargets, embedder: Embedder,
         spelling: LexicalIndex | None, e5_regularisation: float | None = None
         ) -> dict[str, Fitted]:
    """CPU-bound: runs in a worker thread, never on the event loop. Every
    question's head, and English questions' own when the embedder gives them one
    (Embedder.english_head_rows); each calibrated on all held-out variants,
    asked as customers' questions would be (weighted per encoder). The head with
    e5 is fitted with `e5_regularisation` (sklearn C) when English questions
    have their own: fitted more closely (C 20 instead of 10), it answered more
    German questions right on every German set (docs/knowledge.md#e5-in-the-head)."""
    queries = embedder.as_queries(index.questions, index.embeddings)
    english = embedder.english_head_rows(index.embeddings)
    with_e5 = targets
    if english is not None and e5_regularisation is not None:
        with_e5 = replace(targets, regularisation=e5_regularisation)
    fits = {_ANY: _fit_one(index, with_e5, spelling, queries, index.embeddings,
                           embedder.head_views(index.embeddings))}
    if english is not None:
        stored, alone = english
        # an English head row is its cosine row (no HEAD_ONLY part)
        fits[_ENGLISH] = _fit_one(index, targets, spelling,
                                  Queries(queries.cosine, queries.cosine), stored, alone)
    return fits


def _fit_one(index: VariantIndex, targets: CalibrationTargets, spelling: LexicalIndex | None,
             queries: Queries, stored: np.ndarray, alone: list[np.ndarray]) -> Fitted:
    n = len(index.order)
    blend, thresholds = fit_thresholds(index.embeddings, index.labels, n, targets, queries,
                                       alone, spelling, head_rows=stored)
    head = fit_head(*training_rows(stored, index.labels, alone), n,
                    targets.regularisation, blend, targets.lexical)
    return Fitted(head, thresholds)
