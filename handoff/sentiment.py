"""Negative sentiment as an (optional) escalation trigger: VADER's lexicon
scorer, which ships its lexicon in the package (no download, no model)."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _analyzer():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def sentiment(text: str) -> float:
    """VADER's compound score: -1 (very negative) … +1 (very positive)."""
    return _analyzer().polarity_scores(text)["compound"]


def is_negative(text: str, threshold: float) -> bool:
    return bool(text.strip()) and sentiment(text) <= threshold
