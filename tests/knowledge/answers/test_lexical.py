"""A question's shared spelling with the variants (knowledge/answers/lexical.py)."""

import numpy as np

from knowledge.answers.lexical import LexicalIndex

VARIANTS = ["Wann verfällt mein Geschenkgutschein?", "Kann ich mit PayPal bezahlen?",
            "can my parcel be redelivered", "how long does delivery take"]


def test_a_german_compound_shares_spelling_with_a_question_about_its_parts():
    shared = LexicalIndex(VARIANTS).similarities(["verfallen gutscheine irgendwann"])[0]
    assert shared.argmax() == 0 and shared[0] > 2 * shared[1]


def test_a_typo_still_shares_most_of_the_word():
    shared = LexicalIndex(VARIANTS).similarities(["can i get redelivry"])[0]
    assert shared.argmax() == 2


def test_shared_spelling_is_a_cosine_and_a_variant_shares_all_of_its_own():
    shared = LexicalIndex(VARIANTS).similarities(VARIANTS)
    assert shared.shape == (4, 4) and shared.dtype == np.float32
    np.testing.assert_allclose(np.diag(shared), 1.0, rtol=1e-5)
    assert shared.min() >= 0.0 and shared.max() <= 1.0 + 1e-6


def test_an_empty_knowledge_base_shares_nothing():
    assert LexicalIndex([]).similarities(["anything"]).shape == (1, 0)
