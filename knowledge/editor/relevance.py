"""The editor's article search, ranked by relevance, with the reason each
article matched.

Pure: no Redis, no model. Lexical on purpose: the list must answer while the
embedding model is still loading (it loads lazily, ~3 s), and an editor who
types "payment" wants the articles that say payment, not the ones that mean
something near it. An article matches when every word of the query occurs in
it (any language, any field); its score adds, per query word, the best place
the word was found:

    where      whole word   word start ("payment" in "payments")   inside a word
    title          8.0             6.0                                  2.0
    question       4.0             3.0                                  1.0
    tag / id       3.0             2.0                                  0.5
    answer         1.0             0.8                                  0.3

plus 0.25 per further question variant holding the word (at most 1.0), so an
article asked about in many ways ranks above one that says it once, and 0.1
per other field holding it (at most 0.5: "paypal" in a question and in the
answer beats "paypal" in a question only). Ties go alphabetically by title.
Each hit carries up to three snippets ("why"): the field, the language and
the text around the first occurrence, with the positions of the query words
in it, which the page marks (as text, never as markup).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from knowledge.models import Article

# (whole word, word start, inside a word) per kind of field
WEIGHTS: dict[str, tuple[float, float, float]] = {
    "title": (8.0, 6.0, 2.0),
    "question": (4.0, 3.0, 1.0),
    "tag": (3.0, 2.0, 0.5),
    "answer": (1.0, 0.8, 0.3),
}
EXTRA_QUESTION = 0.25
EXTRA_QUESTION_MAX = 1.0
EXTRA_FIELD = 0.1
EXTRA_FIELD_MAX = 0.5
SNIPPET_CHARS = 110
MAX_WHY = 3


@dataclass(frozen=True)
class Snippet:
    where: str       # "title", "question", "tag", "answer", "sms variant" ...
    language: str
    text: str        # the snippet, "…" where it was cut
    marks: tuple[tuple[int, int], ...]  # [start, end) of each query word in text

    def as_dict(self) -> dict:
        return {"where": self.where, "language": self.language, "text": self.text,
                "marks": [list(m) for m in self.marks]}


@dataclass
class Hit:
    article: Article
    score: float = 0.0
    why: list[Snippet] = field(default_factory=list)


def _fields(article: Article) -> list[tuple[str, str, str, str]]:
    """(kind, where, language, text) of everything searchable, most telling first."""
    out: list[tuple[str, str, str, str]] = []
    for code in article.languages:
        out.append(("title", "title", code, article.text(code).title))
    out.append(("tag", "id", article.language, article.id))
    out.extend(("tag", "tag", article.language, tag) for tag in article.tags)
    for code in article.languages:
        out.extend(("question", "question", code, q) for q in article.text(code).questions)
    for code in article.languages:
        text = article.text(code)
        out.append(("answer", "answer", code, text.answer))
        out.extend(("answer", f"{channel} variant", code, variant)
                   for channel, variant in text.channels.items())
    return out


def _grade(word: str, text: str) -> tuple[int, int] | None:
    """(grade, position) of the best occurrence of `word` in `text` (casefolded):
    grade 0 whole word, 1 word start, 2 inside a word; None if absent."""
    best: tuple[int, int] | None = None
    for found in re.finditer(re.escape(word), text):
        start, end = found.span()
        starts_word = start == 0 or not text[start - 1].isalnum()
        ends_word = end == len(text) or not text[end].isalnum()
        grade = 0 if starts_word and ends_word else (1 if starts_word else 2)
        if best is None or grade < best[0]:
            best = (grade, start)
        if grade == 0:
            break
    return best


def _snippet(where: str, language: str, text: str, words: list[str]) -> Snippet:
    """The text around the first query word (whole if short), with every query
    word's occurrences marked."""
    folded = text.casefold()
    if len(folded) != len(text):  # casefolding changed lengths (ß -> ss): mark nothing
        folded = ""
    flat = " ".join(text.split())
    if folded:
        folded = " ".join(folded.split())
    first = min((folded.find(w) for w in words if w in folded), default=0)
    start = 0
    if len(flat) > SNIPPET_CHARS:
        start = max(0, first - SNIPPET_CHARS // 3)
        if start:  # begin at a word
            space = flat.rfind(" ", 0, start)
            start = space + 1 if space >= 0 else start
    piece = flat[start:start + SNIPPET_CHARS]
    folded_piece = folded[start:start + SNIPPET_CHARS] if folded else ""
    prefix = "…" if start else ""
    suffix = "…" if start + SNIPPET_CHARS < len(flat) else ""
    marks: list[tuple[int, int]] = []
    for w in words:
        for found in re.finditer(re.escape(w), folded_piece):
            marks.append((found.start() + len(prefix), found.end() + len(prefix)))
    marks.sort()
    merged: list[tuple[int, int]] = []
    for m in marks:  # overlapping marks ("pay", "payment") become one
        if merged and m[0] <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], m[1]))
        else:
            merged.append(m)
    return Snippet(where, language, prefix + piece + suffix, tuple(merged))


def rank(article: Article, words: list[str]) -> Hit | None:
    """The article's relevance to the query words, or None if a word is missing."""
    fields = _fields(article)
    folded = [(kind, where, code, text, text.casefold()) for kind, where, code, text in fields]
    hit = Hit(article)
    shown: set[tuple[str, str, str]] = set()
    for word in words:
        best: tuple[float, int] | None = None  # (score, field index)
        questions_with_word = fields_with_word = 0
        for i, (kind, _, _, _, low) in enumerate(folded):
            grade = _grade(word, low)
            if grade is None:
                continue
            questions_with_word += kind == "question"
            fields_with_word += 1
            score = WEIGHTS[kind][grade[0]]
            if best is None or score > best[0]:
                best = (score, i)
        if best is None:
            return None
        hit.score += (best[0]
                      + min(EXTRA_QUESTION * max(0, questions_with_word - 1), EXTRA_QUESTION_MAX)
                      + min(EXTRA_FIELD * (fields_with_word - 1), EXTRA_FIELD_MAX))
        kind, where, code, text, _ = folded[best[1]]
        if (where, code, text) not in shown and len(hit.why) < MAX_WHY:
            shown.add((where, code, text))
            hit.why.append(_snippet(where, code, text, words))
    return hit


def search(articles: list[Article], query: str) -> list[Hit]:
    """Articles holding every word of `query`, most relevant first (all of them,
    alphabetically, for an empty query)."""
    words = list(dict.fromkeys(query.casefold().split()))
    hits = []
    for article in articles:
        hit = rank(article, words) if words else Hit(article)
        if hit is not None:
            hits.append(hit)
    hits.sort(key=lambda h: (-h.score, h.article.title.casefold()))
    return hits
