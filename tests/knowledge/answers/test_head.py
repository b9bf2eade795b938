"""The learned head and its thresholds, on small synthetic embeddings."""

from dataclasses import replace

import numpy as np
import pytest

from knowledge.answers.embedder import Queries
from knowledge.answers.head import (
    CalibrationTargets,
    Fitted,
    blended_scores,
    dump_all,
    fit_head,
    fit_thresholds,
    load_all,
    training_rows,
)
from knowledge.answers.index import VariantIndex
from knowledge.answers.lexical import LexicalIndex
from knowledge.answers.policy import Thresholds, decide
from knowledge.models import Article

TARGETS = CalibrationTargets(blends=(0.5,), regularisation=10.0, margin=0.05, max_options=3,
                             wrong_rate=0.02, unknown_answered_rate=0.10,
                             resolvable_clarified=0.97)


def round_trip(head, thresholds):
    """A head and its thresholds through the bytes kept in Redis."""
    fitted = load_all(dump_all({"any": Fitted(head, thresholds)}))["any"]
    return fitted.head, fitted.thresholds


def unit(rows) -> np.ndarray:
    rows = np.atleast_2d(np.asarray(rows, dtype=np.float32))
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def article(article_id: str, n: int) -> Article:
    return Article(id=article_id, title=article_id, answer=article_id,
                   questions=tuple(f"{article_id} {i}" for i in range(n)))


def clusters(n_articles: int, per_article: int, noise: float, seed: int, dim: int = 24):
    rng = np.random.default_rng(seed)
    centres = unit(rng.normal(size=(n_articles, dim)))
    labels = np.repeat(np.arange(n_articles), per_article)
    return unit(centres[labels] + noise * rng.normal(size=(len(labels), dim))), labels, centres


@pytest.mark.slow  # seconds of real waiting: in make test, not test-fast
def test_the_head_overrules_one_stray_variant_that_plain_max_cosine_follows():
    # "billing" is worded many ways around one direction; "shipping" has one odd
    # variant that happens to sit next to the customer's question.
    billing = unit([[1.0, 0.25 * np.sin(i), 0.25 * np.cos(i)] for i in range(8)])
    shipping = unit([[0.0, 1.0, 0.1], [0.1, 1.0, -0.1], [0.0, 0.9, 0.3], [0.97, 0.2, 0.0]])
    articles = [article("billing", 8), article("shipping", 4)]
    index = VariantIndex(articles, np.vstack([billing, shipping]))
    query = unit([0.97, 0.21, 0.0])[0]

    assert index.search(query)[0].article_id == "shipping"  # max-cosine: the stray variant
    head = fit_head(index.embeddings, index.labels, 2, regularisation=10.0, blend=0.5)
    assert index.search(query, head=head)[0].article_id == "billing"


def test_blended_scores_stay_between_zero_and_one_and_follow_the_weight():
    cos, prob = np.array([[0.9, -0.2]]), np.array([[0.3, 0.7]])
    assert blended_scores(cos, prob, 0.0)[0].tolist() == pytest.approx([0.9, 0.0])
    assert blended_scores(cos, prob, 1.0)[0].tolist() == pytest.approx([0.3, 0.7])
    assert blended_scores(cos, prob, 0.5)[0].tolist() == pytest.approx([0.6, 0.35])


def test_an_article_missing_from_the_fit_never_wins():
    x, y, _ = clusters(3, 6, 0.3, seed=1)
    keep = y != 2
    head = fit_head(x[keep], y[keep], 3, regularisation=10.0)
    assert head.probabilities(x[y == 2])[:, 2].max() < 1e-6


def test_fitted_thresholds_keep_wrong_answers_within_target_on_fresh_questions():
    x, y, centres = clusters(20, 30, 0.9, seed=2)
    blend, thresholds = fit_thresholds(x, y, 20, TARGETS)
    assert blend == 0.5
    assert 0.30 <= thresholds.clarify <= thresholds.answer <= 0.95
    assert (thresholds.margin, thresholds.max_options) == (0.05, 3)

    # new questions from the same articles, scored the way the service scores them
    rng = np.random.default_rng(3)
    gold = rng.integers(0, 20, 2000)
    asked = unit(centres[gold] + 0.9 * rng.normal(size=(2000, x.shape[1])))
    index = VariantIndex([article(f"a{i}", 30) for i in range(20)], x)
    head = fit_head(x, y, 20, TARGETS.regularisation, blend)
    wrong = 0
    for vector, g in zip(asked, gold, strict=True):
        d = decide("q", index.search(vector, head=head), thresholds)
        wrong += d.kind == "answer" and d.matches[0].article_id != f"a{g}"
    assert wrong / len(gold) <= 0.03


def test_the_blend_is_the_candidate_whose_rule_answers_the_most_held_out_variants_right():
    x, y, _ = clusters(20, 30, 1.0, seed=7)
    cosine_only, head_only = replace(TARGETS, blends=(0.0,)), replace(TARGETS, blends=(1.0,))
    assert fit_thresholds(x, y, 20, cosine_only)[0] == 0.0
    assert fit_thresholds(x, y, 20, head_only)[0] == 1.0
    # noisy wording: one nearest variant is a poor guide, all of them together a good one
    assert fit_thresholds(x, y, 20, replace(TARGETS, blends=(0.0, 1.0)))[0] == 1.0


def test_stricter_targets_give_a_higher_answer_threshold():
    x, y, _ = clusters(20, 30, 1.1, seed=4)
    loose = replace(TARGETS, wrong_rate=0.2, unknown_answered_rate=1.0)
    strict = replace(TARGETS, wrong_rate=0.01, unknown_answered_rate=0.02)
    assert fit_thresholds(x, y, 20, strict)[1].answer > fit_thresholds(x, y, 20, loose)[1].answer


def test_held_out_articles_stand_in_for_questions_the_knowledge_base_cannot_answer():
    x, y, _ = clusters(20, 30, 0.6, seed=6)
    anything_goes = replace(TARGETS, wrong_rate=1.0, unknown_answered_rate=1.0)
    no_unknown_answered = replace(anything_goes, unknown_answered_rate=0.0)
    assert fit_thresholds(x, y, 20, anything_goes)[1].answer == 0.30  # the bottom of the grid
    assert fit_thresholds(x, y, 20, no_unknown_answered)[1].answer > 0.30


def test_a_head_survives_the_round_trip_through_redis_bytes():
    x, y, _ = clusters(4, 5, 0.3, seed=5)
    head = fit_head(x, y, 4, regularisation=10.0, blend=0.3)
    again, thresholds = round_trip(head, Thresholds(0.7, 0.5, 0.05, 3))
    assert thresholds == Thresholds(0.7, 0.5, 0.05, 3) and again.blend == pytest.approx(0.3)
    np.testing.assert_allclose(again.probabilities(x), head.probabilities(x), rtol=1e-6)


def test_two_named_heads_survive_the_round_trip_as_one_value():
    x, y, _ = clusters(4, 5, 0.3, seed=5)
    fits = {"any": Fitted(fit_head(x, y, 4, regularisation=10.0, blend=0.3),
                          Thresholds(0.7, 0.5, 0.05, 3, 0.4)),
            "english": Fitted(fit_head(x[:, :12], y, 4, regularisation=1.0, blend=0.5),
                              Thresholds(0.6, 0.4, 0.05, 3))}
    again = load_all(dump_all(fits))
    assert list(again) == ["any", "english"]
    for name, fitted in fits.items():
        assert again[name].thresholds == fitted.thresholds
        assert again[name].head.blend == pytest.approx(fitted.head.blend)
        np.testing.assert_array_equal(again[name].head.weights, fitted.head.weights)


def test_a_column_zero_in_every_training_row_keeps_weight_zero():
    # an encoder left out of a head (English questions' head has no e5 part)
    x, y, _ = clusters(6, 8, 0.5, seed=8, dim=12)
    padded = np.hstack([x, np.zeros((len(x), 4), dtype=np.float32)])
    head = fit_head(padded, y, 6, regularisation=10.0)
    assert not head.weights[:, 12:].any()
    np.testing.assert_allclose(head.probabilities(padded),
                               fit_head(x, y, 6, regularisation=10.0).probabilities(x),
                               atol=1e-5)


def test_the_calibration_trains_its_heads_on_the_head_rows_it_is_given():
    # the cosine's rows blur 20 articles together; the head's own rows tell them apart
    x, y, _ = clusters(20, 30, 3.0, seed=13)
    clear, _, _ = clusters(20, 30, 0.3, seed=14)
    cosine_or_head = replace(TARGETS, blends=(0.0, 1.0))
    assert fit_thresholds(x, y, 20, cosine_or_head)[0] == 0.0  # a head of blurred rows: no help
    assert fit_thresholds(x, y, 20, cosine_or_head, queries=Queries(x, clear),
                          head_rows=clear)[0] == 1.0


def test_the_lead_is_fitted_within_the_same_targets_and_can_be_turned_off():
    x, y, _ = clusters(20, 30, 1.1, seed=4)
    _, with_lead = fit_thresholds(x, y, 20, TARGETS)
    _, without = fit_thresholds(x, y, 20, replace(TARGETS, lead=False))
    assert without.lead == 1.0  # never
    assert TARGETS.margin <= with_lead.lead <= 1.0
    if with_lead.lead < 1.0:  # a lead is only taken when it answers more held-out variants
        assert with_lead.answer >= without.answer


def test_a_fitted_lead_survives_the_round_trip_through_redis_bytes():
    x, y, _ = clusters(4, 5, 0.3, seed=5)
    head = fit_head(x, y, 4, regularisation=10.0)
    thresholds = Thresholds(0.7, 0.5, 0.05, 3, lead=0.21)
    assert round_trip(head, thresholds)[1] == thresholds


def test_pooled_hold_outs_make_the_fitted_threshold_depend_less_on_which_articles_are_held_out():
    # articles in pairs of near siblings: holding out one sibling or not decides
    # how often "a question the knowledge base cannot answer" gets answered
    x, y, _ = clusters(20, 20, 0.9, seed=8)
    x = unit(x + 0.8 * np.repeat(unit(np.random.default_rng(9).normal(size=(10, x.shape[1]))),
                                 40, axis=0))

    def spread(splits: int) -> float:
        fitted = [fit_thresholds(x, y, 20, replace(TARGETS, seed=s, splits=splits, lead=False))[1]
                  for s in range(0, 24, 4)]
        return float(np.ptp([t.answer for t in fitted]))

    assert spread(4) < spread(1)


def test_a_question_only_one_encoder_sees_is_told_apart_once_the_head_learned_each_part_alone():
    # two encoders' parts side by side (each of unit length, scaled as Embedder
    # joins them); the first tells the articles apart far more clearly, so a head
    # fitted on joined rows leans on it, and a question that has only the
    # second part (a German one is all but USE's part alone) finds little there
    clear, _, _ = clusters(20, 12, 0.3, seed=10, dim=12)
    vague, y, _ = clusters(20, 12, 1.2, seed=11, dim=12)
    x = np.hstack([clear, vague]) / np.sqrt(2)
    alone = [unit(np.hstack([clear, 0 * vague])), unit(np.hstack([0 * clear, vague]))]
    joined = fit_head(x, y, 20, regularisation=10.0)
    both = fit_head(*training_rows(x, y, alone), 20, regularisation=10.0)
    right = np.arange(len(y)), y
    assert both.probabilities(alone[1])[right].mean() > joined.probabilities(alone[1])[right].mean()
    assert training_rows(x, y)[0] is x  # a single encoder: its rows as they are


def test_the_share_of_spelling_survives_the_round_trip_through_redis_bytes():
    x, y, _ = clusters(4, 5, 0.3, seed=5)
    head = fit_head(x, y, 4, regularisation=10.0, blend=0.3, lexical=0.3)
    assert round_trip(head, Thresholds(0.7, 0.5, 0.05, 3))[0].lexical == pytest.approx(0.3)


def test_the_calibration_scores_held_out_variants_with_the_spelling_mixed_in():
    # the encoders blur 20 articles together; each article's variants share a word
    x, y, _ = clusters(20, 30, 3.0, seed=13)
    texts = [f"word{label} filler{i % 7}" for i, label in enumerate(y)]
    spelling = LexicalIndex(texts)
    strict = replace(TARGETS, wrong_rate=0.01, unknown_answered_rate=1.0, lead=False)
    without = fit_thresholds(x, y, 20, strict, spelling=spelling)[1]
    with_spelling = fit_thresholds(x, y, 20, replace(strict, lexical=0.5), spelling=spelling)[1]
    # telling the articles apart by their words, it can answer at a lower score
    assert with_spelling.answer < without.answer
