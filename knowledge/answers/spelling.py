"""Customers' typos, corrected against the knowledge base's own words.

Typo-heavy questions ("hw do i retrn somthing i dont lik") fall back: their
words are not words, and a sentence embedding of them lands nowhere. Each
unknown word of four letters or more is replaced by the closest word of the
knowledge base's own vocabulary (titles, question variants and answers, every
language; difflib, similarity >= 0.8: "retrn" -> "return", "parcle" ->
"parcel"). Short words are left alone ("dog" is not "do"), and so is anything
with no close word. The assistant asks a corrected message only when the
message as written was not answered (knowledge/answers/service.py), and the
editor's suggestions do the same (knowledge/editor/suggest.py)."""

from __future__ import annotations

import difflib
import re
from collections import Counter
from functools import lru_cache

from knowledge.models import Article

WORD = re.compile(r"[^\W\d_]+")
MIN_WORD = 4
CLOSE = 0.8
NEARLY = 0.05  # similarities this close count as a tie, decided by use


class Vocabulary:
    """The words of every article (titles, question variants, answers, in every
    language), for correcting customers' typos."""

    def __init__(self, articles: list[Article]) -> None:
        counts: Counter[str] = Counter()
        for article in articles:
            for code in article.languages:
                text = article.text(code)
                for part in (text.title, text.answer, *text.questions):
                    counts.update(w.casefold() for w in WORD.findall(part))
        self.words = sorted(counts)
        self._counts = counts
        # A word's closest known word, kept: customers misspell the same words.
        self._closest = lru_cache(maxsize=4096)(self._find_closest)

    def _find_closest(self, low: str) -> str | None:
        """Among the words about as close as the closest one, the most used: the
        question variants hold realistic typos too ("delivrey"), each used once,
        while the word they stand for ("delivery") is used again and again."""
        close = difflib.get_close_matches(low, self.words, n=5, cutoff=CLOSE)
        if not close:
            return None
        ratio = {w: difflib.SequenceMatcher(None, low, w).ratio() for w in close}
        best = max(ratio.values())
        return max((w for w in close if ratio[w] >= best - NEARLY), key=self._counts.__getitem__)

    def correct(self, text: str) -> str:
        """`text` with each unknown long word replaced by its closest known word."""
        def fix(found: re.Match[str]) -> str:
            word = found.group(0)
            low = word.casefold()
            if len(low) < MIN_WORD or low in self._counts:
                return word
            return self._closest(low) or word
        return WORD.sub(fix, text)
