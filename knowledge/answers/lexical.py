"""How much of a question's spelling a question variant of the same language
shares: TF-IDF over character 3-5-grams within words (scikit-learn), the cosine
of the two.

Sentence encoders place a question by its meaning and can drift on the words a
shop's customers use for its things; shared word pieces ("Gutschein",
"Geschenkgutschein", "redelivered" / "redelivery") do not drift, and they catch
German compounds and typos alike. Only variants in the question's own language
count: a German question shares little spelling with any English variant, and
mixing that in blurred the encoders' cross-lingual match (German questions
against English-only articles: top-1 0.907 -> 0.886). The learned head mixes
this into the encoders' cosine (head.mixed_cosines; docs/knowledge.md)."""

from __future__ import annotations

import numpy as np
from scipy import sparse

NOT_SAME_LANGUAGE = -1.0  # below any cosine of TF-IDF rows (they are >= 0)


class LexicalIndex:
    def __init__(self, variants: list[str], english: np.ndarray | None = None) -> None:
        """`english`: per variant whether it is English (Embedder.english); None:
        one language, every variant counts for every question."""
        from sklearn.feature_extraction.text import TfidfVectorizer  # heavy: built in a thread

        self._vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5),
                                           sublinear_tf=True, lowercase=True)
        # rows are unit length (TF-IDF's l2 norm): a dot product is the cosine
        self.matrix: sparse.csr_matrix = (self._vectorizer.fit_transform(variants)
                                          if variants else sparse.csr_matrix((0, 0)))
        # (n-grams, variants): a question's few n-grams pick their rows, 0.6 ms
        # against 32 ms for multiplying by the transposed matrix (15,000 variants)
        self._by_ngram = self.matrix.T.tocsr()
        self.english = english

    def similarities(self, texts: list[str], english: np.ndarray | None = None) -> np.ndarray:
        """(texts, variants) cosines in [0, 1]; NOT_SAME_LANGUAGE where a text
        (`english` per text, as for the variants) and a variant differ."""
        if self.matrix.shape[0] == 0:
            return np.zeros((len(texts), 0), dtype=np.float32)
        shared = np.asarray((self._vectorizer.transform(texts) @ self._by_ngram).toarray(),
                            dtype=np.float32)
        return self._same_language_only(shared, english, self.english)

    def among(self, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """The same between variants `rows` (asked as questions) and `columns`
        (the knowledge base): the calibration's held-out questions."""
        shared = np.asarray((self.matrix[rows] @ self.matrix[columns].T.tocsr()).toarray(),
                            dtype=np.float32)
        if self.english is None:
            return shared
        return self._same_language_only(shared, self.english[rows], self.english[columns])

    @staticmethod
    def _same_language_only(shared: np.ndarray, asked: np.ndarray | None,
                            variants: np.ndarray | None) -> np.ndarray:
        if asked is None or variants is None:
            return shared
        shared[asked[:, None] != variants[None, :]] = NOT_SAME_LANGUAGE
        return shared
