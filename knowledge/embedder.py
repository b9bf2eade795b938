"""Sentence embeddings, loaded from a local path only (never from a hub)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import numpy as np

_MEMO_LIMIT = 200_000


class Embedder:
    def __init__(self, model_path: Path) -> None:
        # Offline is not a preference: this machine cannot reach any model hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer  # heavy; load on first use

        self.model_path = Path(model_path)
        self.name = self.model_path.name
        self._model = SentenceTransformer(str(self.model_path), device="cpu")
        self._memo: dict[str, np.ndarray] = {}  # question variants seen by this process

    def encode_variants(self, texts: list[str]) -> np.ndarray:
        """Like encode, but remembers each variant: an index rebuild after a publish
        only encodes what changed."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._memo))
        if missing:
            if len(self._memo) > _MEMO_LIMIT:
                self._memo.clear()
            self._memo.update(zip(missing, self.encode(missing), strict=True))
        return np.vstack([self._memo[t] for t in texts]) if texts else self.encode([])

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length embeddings, one row per text (so a dot product is the cosine)."""
        return np.asarray(
            self._model.encode(
                texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False
            ),
            dtype=np.float32,
        )

    async def encode_async(self, texts: list[str]) -> np.ndarray:
        return await asyncio.to_thread(self.encode, texts)
