"""A softmax layer over articles, fitted on the frozen embeddings of the question
variants, and the answer thresholds that go with it, fitted on held-out variants.

Nearest-neighbour scoring only looks at one variant per article; the head weighs
all of them at once and learns which directions of the embedding tell two
neighbouring articles apart. It is fitted from the knowledge base alone (never
from customer traffic or benchmark queries), in a worker thread after a publish.
"""

from __future__ import annotations

import io
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from knowledge.answers.embedder import Queries
from knowledge.answers.lexical import LexicalIndex
from knowledge.answers.policy import Thresholds

# A grid fine enough for thresholds that are read as two decimals.
_GRID = np.round(np.arange(0.30, 0.951, 0.01), 2)
_LEAD_GRID = np.round(np.arange(0.05, 0.601, 0.01), 2)


@dataclass(frozen=True)
class ArticleHead:
    """Logistic regression weights: one row per article, in the index's order."""

    weights: np.ndarray  # (articles, dim)
    bias: np.ndarray  # (articles,)
    blend: float = 0.5  # share of the probability in an article's score
    lexical: float = 0.0  # share of the spelling in the cosine part (mixed_cosines)

    def scores(self, cosines: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        return blended_scores(cosines, self.probabilities(vectors), self.blend)

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """Per article; `vectors` are rescaled to unit length, as the variants it was
        fitted on (a question's vector is weighted per encoder, embedder.py)."""
        vectors = np.atleast_2d(vectors)
        vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        logits = vectors @ self.weights.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Fitted:
    """A head with the thresholds calibrated for it."""

    head: ArticleHead
    thresholds: Thresholds


def fit_head(embeddings: np.ndarray, labels: np.ndarray, n_articles: int,
             regularisation: float, blend: float = 0.5, lexical: float = 0.0) -> ArticleHead:
    """Multinomial logistic regression; `regularisation` is sklearn's C (higher
    fits the variants more closely). Columns that are zero in every row (an
    encoder left out of this head, Embedder.english_head_rows) keep weight 0
    and are not fitted: the L2 penalty would keep them at 0 anyway."""
    from sklearn.linear_model import LogisticRegression  # heavy; only in the fitting thread

    used = np.flatnonzero(np.any(embeddings != 0, axis=0))
    model = LogisticRegression(C=regularisation, max_iter=300)
    model.fit(embeddings[:, used], labels)
    weights = np.zeros((n_articles, embeddings.shape[1]), dtype=np.float32)
    bias = np.full(n_articles, -1e4, dtype=np.float32)  # an article without variants never wins
    if len(model.classes_) == 2:  # sklearn folds two classes into one logit
        weights[model.classes_[1], used] = model.coef_[0]
        bias[model.classes_[1]] = model.intercept_[0]
        weights[model.classes_[0]], bias[model.classes_[0]] = 0.0, 0.0
    else:
        weights[np.ix_(model.classes_, used)] = model.coef_
        bias[model.classes_] = model.intercept_
    return ArticleHead(weights, bias, blend, lexical)


def training_rows(embeddings: np.ndarray, labels: np.ndarray,
                  alone: Sequence[np.ndarray] = ()) -> tuple[np.ndarray, np.ndarray]:
    """The head's training rows: each variant as stored (every encoder's part),
    and in the shapes a question's row takes (`alone`, Embedder.head_views). A
    question is weighted per encoder (an English one is all but MiniLM's part
    alone, a German one the multilingual encoders'): fitted on joined rows only,
    the head leaned on whichever part told two articles apart and was unsure of
    questions that had only the other part."""
    if not len(alone):
        return embeddings, labels
    return (np.vstack([embeddings, *alone]),
            np.concatenate([labels] * (1 + len(alone))))


def blended_scores(cosines: np.ndarray, probabilities: np.ndarray, weight: float) -> np.ndarray:
    """Per-article score in [0, 1]: best variant cosine blended with the head's
    probability. The cosine keeps out-of-scope questions low (a softmax always
    sums to one, so alone it is confident about nonsense too)."""
    return (1.0 - weight) * np.clip(cosines, 0.0, 1.0) + weight * probabilities


def mixed_cosines(encoders: np.ndarray, spelling: np.ndarray, weight: float) -> np.ndarray:
    """Per-article cosine part of a score: the encoders' best variant cosine with
    `weight` of the best shared spelling of a variant in the question's language
    (knowledge/answers/lexical.py); the encoders' alone for an article without one."""
    return np.where(spelling >= 0.0, (1.0 - weight) * encoders + weight * spelling, encoders)


def best_per_article(similarities: np.ndarray, labels: np.ndarray, n_articles: int) -> np.ndarray:
    """(queries, variants) cosines -> (queries, articles) best cosine per article."""
    out = np.full((similarities.shape[0], n_articles), -1.0, dtype=np.float32)
    for article in np.unique(labels):
        out[:, article] = similarities[:, labels == article].max(axis=1)
    return out


@dataclass(frozen=True)
class CalibrationTargets:
    blends: tuple[float, ...]  # candidate shares of the head; the first wins a tie
    regularisation: float
    margin: float
    max_options: int
    wrong_rate: float  # held-out in-scope variants answered with the wrong article, at most
    unknown_answered_rate: float  # variants of held-out articles that get answered, at most
    # held-out variants whose article is in the top options: clarify at least this share
    resolvable_clarified: float
    lead: bool = True  # also fit the lead rule (policy.Thresholds.lead)
    lexical: float = 0.0  # share of the spelling in the cosine part (mixed_cosines)
    holdout_articles: float = 0.15
    holdout_variants: float = 0.2
    seed: int = 0
    splits: int = 1  # random hold-outs pooled (seeds seed, seed+1, ...)


def fit_thresholds(embeddings: np.ndarray, labels: np.ndarray, n_articles: int,
                   targets: CalibrationTargets, queries: Queries | None = None,
                   alone: Sequence[np.ndarray] = (),
                   spelling: LexicalIndex | None = None,
                   head_rows: np.ndarray | None = None) -> tuple[float, Thresholds]:
    """The blend, and answer and clarify thresholds for it, from the knowledge base alone.

    Some articles are held out whole: their variants play the questions the
    knowledge base cannot answer. Of the other articles, a share of variants is
    held out: they play customers asking something the knowledge base knows. A
    head fitted on the rest scores both. This is done `splits` times with
    different random hold-outs, and the scores of all of them are pooled: which
    few articles one split happens to hold out (one with a near sibling, or not)
    moved the fitted thresholds by 0.1 and more, and a single new variant could
    move them that much. For each candidate blend the answer rule is fitted
    (_answer_rule: the answer threshold and lead within both error targets that
    answer the most held-out variants right), and the blend whose rule answers
    the most right wins (ranking first alone ignores how far apart the scores
    are); the clarify threshold is low enough that nearly every held-out question
    whose article is among the top options still gets the buttons rather than a
    fallback.
    `queries`: the variants' rows as a customer's question would be weighted
    (Embedder.as_queries, its cosine and head views); default the embeddings
    themselves. `alone`: the
    rows in the shapes of questions, also trained on (training_rows).
    `spelling`: the variants' LexicalIndex, mixed in with `targets.lexical`
    as the service mixes it. The blend is chosen on the encoders' cosine
    alone, the thresholds are then fitted with the spelling mixed in: the
    held-out variants all share a language with the knowledge base, a
    customer's question may not (and gets no spelling), and with the spelling
    in the choice, German questions against English-only articles lost 3
    points of top-1 to a blend that suited English ones.
    `head_rows`: the variants' rows the head is trained on, when not the
    embeddings the cosine compares with (Embedder.english_head_rows).
    """
    queries = Queries(embeddings, embeddings) if queries is None else queries
    head_rows = embeddings if head_rows is None else head_rows
    # per blend: held-out known and unknown rows, as chosen on and as fitted on
    per_blend: list[tuple[list[np.ndarray], ...]] = [([], [], [], []) for _ in targets.blends]
    gold: list[np.ndarray] = []
    for split in range(targets.splits):
        scores, asked_gold = _split_scores(embeddings, labels, n_articles, targets, queries,
                                           (head_rows, *alone), spelling, targets.seed + split)
        gold.append(asked_gold)
        for b, parts in enumerate(scores):
            for pool, part in zip(per_blend[b], parts, strict=True):
                pool.append(part)
    golds = np.concatenate(gold)
    pooled = [tuple(np.vstack(pool) for pool in pools) for pools in per_blend]
    rules = [_answer_rule(known, golds, other, targets) for known, other, _, _ in pooled]
    answered_right = [_answered_right(known, golds, rule, targets)
                      for (known, *_), rule in zip(pooled, rules, strict=True)]
    best = int(np.argmax(answered_right))  # the first on a tie
    _, _, known, other = pooled[best]
    mixed_in = spelling is not None and targets.lexical > 0
    answer, lead = _answer_rule(known, golds, other, targets) if mixed_in else rules[best]
    clarify = _clarify_threshold(known, golds, answer, targets)
    return targets.blends[best], Thresholds(answer, clarify, targets.margin,
                                            targets.max_options, lead)


def _split_scores(embeddings: np.ndarray, labels: np.ndarray, n_articles: int,
                  targets: CalibrationTargets, queries: Queries,
                  head_rows: Sequence[np.ndarray], spelling: LexicalIndex | None, seed: int,
                  ) -> tuple[list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
                             np.ndarray]:
    """One random hold-out: per candidate blend, the scores of the held-out
    variants of known articles and of the held-out articles' variants, by the
    encoders alone and with the spelling mixed in (the same without spelling);
    and the former's articles. `head_rows`: the rows the head is trained on
    (training_rows: as stored, then the question shapes)."""
    rng = random.Random(seed)
    articles = sorted(set(labels.tolist()))
    unknown = set(rng.sample(articles, max(1, round(len(articles) * targets.holdout_articles))))
    train_rows: list[int] = []
    asked_rows: list[int] = []
    for article in articles:
        if article in unknown:
            continue
        rows = np.flatnonzero(labels == article).tolist()
        rng.shuffle(rows)
        cut = max(1, int(len(rows) * targets.holdout_variants)) if len(rows) >= 2 else 0
        asked_rows += rows[:cut]
        train_rows += rows[cut:]
    unknown_rows = np.flatnonzero(np.isin(labels, list(unknown)))
    train, asked = np.array(train_rows), np.array(asked_rows)
    stored, *alone = (rows[train] for rows in head_rows)
    head = fit_head(*training_rows(stored, labels[train], alone), n_articles,
                    targets.regularisation)

    def parts(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cos = best_per_article(queries.cosine[rows] @ embeddings[train].T, labels[train],
                               n_articles)
        mixed = cos
        if spelling is not None and targets.lexical > 0:
            shared = best_per_article(spelling.among(rows, train), labels[train], n_articles)
            mixed = mixed_cosines(cos, shared, targets.lexical)
        for part in (cos, mixed):
            part[:, list(unknown)] = -1.0  # not part of the knowledge base being simulated
        return cos, mixed, head.probabilities(queries.head[rows])

    (asked_cos, asked_mixed, asked_p), (other_cos, other_mixed, other_p) = (
        parts(asked), parts(unknown_rows))
    scores = [(blended_scores(asked_cos, asked_p, b), blended_scores(other_cos, other_p, b),
               blended_scores(asked_mixed, asked_p, b), blended_scores(other_mixed, other_p, b))
              for b in targets.blends]
    return scores, labels[asked]


def _top_and_gap(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    top2 = -np.sort(-scores, axis=1)[:, :2]
    return top2[:, 0], top2[:, 0] - top2[:, 1]


def _answered(scores: np.ndarray | tuple[np.ndarray, np.ndarray], threshold: float,
              margin: float, lead: float = 1.0) -> np.ndarray:
    """`scores`: per-article scores, or their (top, gap) from _top_and_gap."""
    top, gap = scores if isinstance(scores, tuple) else _top_and_gap(scores)
    return ((top >= threshold) & (gap >= margin)) | (gap >= lead)


def _within_targets(known: np.ndarray | tuple, wrong_top: np.ndarray,
                    other: np.ndarray | tuple, t: CalibrationTargets, threshold: float,
                    lead: float = 1.0) -> bool:
    wrong = (_answered(known, threshold, t.margin, lead) & wrong_top).mean()
    unknown_answered = _answered(other, threshold, t.margin, lead).mean()
    return bool(wrong <= t.wrong_rate and unknown_answered <= t.unknown_answered_rate)


def _answer_threshold(known: np.ndarray, gold: np.ndarray, other: np.ndarray,
                      t: CalibrationTargets) -> float:
    wrong_top = known.argmax(axis=1) != gold
    known_tg, other_tg = _top_and_gap(known), _top_and_gap(other)
    for threshold in _GRID:
        if _within_targets(known_tg, wrong_top, other_tg, t, float(threshold)):
            return float(threshold)
    return float(_GRID[-1])


def _answered_right(known: np.ndarray, gold: np.ndarray, rule: tuple[float, float],
                    t: CalibrationTargets) -> int:
    """Held-out variants answered with their own article under `rule` (answer, lead)."""
    right_top = known.argmax(axis=1) == gold
    return int((_answered(_top_and_gap(known), rule[0], t.margin, rule[1]) & right_top).sum())


def _answer_rule(known: np.ndarray, gold: np.ndarray, other: np.ndarray,
                 t: CalibrationTargets) -> tuple[float, float]:
    """The answer threshold and the lead over the runner-up (policy.Thresholds)
    that answer the most held-out variants correctly with both error rates within
    the targets: for each lead on the grid (and 1.0, never), the lowest answer
    threshold that keeps to them. A knowledge base whose neighbouring articles are
    hard to tell apart so gets a high lead or none."""
    wrong_top = known.argmax(axis=1) != gold
    best = (_answer_threshold(known, gold, other, t), 1.0)
    if not t.lead:
        return best

    known_tg, other_tg = _top_and_gap(known), _top_and_gap(other)

    def correct(rule: tuple[float, float]) -> int:
        return int((_answered(known_tg, rule[0], t.margin, rule[1]) & ~wrong_top).sum())

    most = correct(best)
    for lead in _LEAD_GRID[t.margin <= _LEAD_GRID]:
        for threshold in _GRID:
            if _within_targets(known_tg, wrong_top, other_tg, t, float(threshold),
                               float(lead)):
                rule = (float(threshold), float(lead))
                if correct(rule) > most:
                    best, most = rule, correct(rule)
                break
    return best


def _clarify_threshold(known: np.ndarray, gold: np.ndarray, answer: float,
                       t: CalibrationTargets) -> float:
    order = np.argsort(-known, axis=1)[:, : t.max_options]
    resolvable = (order == gold[:, None]).any(axis=1)
    tops = known.max(axis=1)[resolvable]
    if not len(tops):
        return answer
    threshold = float(np.quantile(tops, 1.0 - t.resolvable_clarified))
    return float(min(answer, np.floor(threshold * 100) / 100))


def dump_all(fits: dict[str, Fitted]) -> bytes:
    """Heads and their thresholds by name, as one value (one Redis key: a reader
    never gets one without the other)."""
    arrays: dict[str, Any] = {"names": np.array(list(fits))}
    for name, f in fits.items():
        h, t = f.head, f.thresholds
        arrays |= {f"{name}weights": h.weights, f"{name}bias": h.bias,
                   f"{name}blend": np.array(h.blend), f"{name}lexical": np.array(h.lexical),
                   f"{name}thresholds": np.array([t.answer, t.clarify, t.margin,
                                                  t.max_options, t.lead], dtype=np.float64)}
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def load_all(raw: bytes) -> dict[str, Fitted]:
    data = np.load(io.BytesIO(raw))
    fits = {}
    for name in data["names"].tolist():
        a, c, m, k, lead = data[f"{name}thresholds"].tolist()
        head = ArticleHead(data[f"{name}weights"], data[f"{name}bias"],
                           float(data[f"{name}blend"]), float(data[f"{name}lexical"]))
        fits[name] = Fitted(head, Thresholds(a, c, m, int(k), lead))
    return fits
