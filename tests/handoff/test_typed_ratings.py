"""A rating typed instead of pressed (handoff/ratings.py): what counts as which
score, and what is left for the assistant."""

import pytest

from handoff.ratings import typed_rating


@pytest.mark.parametrize(("typed", "score"), [
    ("5", 5), ("5 stars", 5), ("4/5", 4), ("4 / 5", 4), ("3 out of 5", 3), ("1 star", 1),
    ("⭐⭐⭐⭐⭐", 5), ("⭐️⭐️⭐️⭐️", 4), ("★★★", 3), ("5 ★★★★★", 5), ("2⭐", 2),
    ("five", 5), ("Five!", 5), ("two stars.", 2),
    ("fünf", 5), ("fuenf", 5), ("5 Sterne", 5), ("vier von fünf", 4), ("ein Stern", 1),
])
def test_a_typed_score_in_english_or_german_counts_as_that_rating(typed, score):
    assert typed_rating(typed) == score


@pytest.mark.parametrize("typed", [
    "", "0", "6", "55", "10/10", "5 pizzas", "where is order 5", "I'd give it 5 because",
    "5 ★★", "hello", "⭐⭐⭐⭐⭐⭐", "FD-5",
])
def test_anything_else_is_not_a_rating(typed):
    assert typed_rating(typed) is None
