"""What the knowledge editor needs in a gateway process, made once in the app's
lifespan and kept at `app.state.kb_editor`.

The embedding model is loaded lazily (on the first "try a question" or
unanswered-questions view, or when the editor page asks for a warm-up), once
per process: a gateway that nobody edits with never pays for it. The
KnowledgeService built on it follows the store's revision like the action
server's does, so a publish is seen by every process at once.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from redis.asyncio import Redis

from core.settings import KnowledgeSettings
from knowledge.answers.embedder import DEFAULT_ENCODERS, Embedder
from knowledge.answers.service import KnowledgeService
from knowledge.store import ArticleStore
from knowledge.unanswered import UnansweredQuestions

# Markdown -> a JSON preview of how one channel shows it (see bot/rendering/previews.py).
Previewer = Callable[[str], dict]

_embedders: dict[tuple[Path, tuple[str, ...]], Embedder] = {}
_embedders_lock = threading.Lock()


def shared_embedder(model_path: Path,
                    encoders: Sequence[str] = DEFAULT_ENCODERS) -> Embedder:
    """One model per process, path and encoders, however many apps (tests start several)."""
    key = (model_path, tuple(encoders))
    with _embedders_lock:
        if key not in _embedders:
            _embedders[key] = Embedder(model_path, encoders=encoders)
        return _embedders[key]


class EditorBackend:
    def __init__(self, redis: Redis, settings: KnowledgeSettings,
                 previews: dict[str, Previewer]) -> None:
        self.redis = redis
        self.settings = settings
        self.store = ArticleStore(redis, seed_folder=settings.articles_dir)
        self.unanswered = UnansweredQuestions(redis)
        self.previews = previews
        self.embedder: Embedder | None = None
        self._service: KnowledgeService | None = None
        self._loading: asyncio.Task | None = None

    @property
    def model_loaded(self) -> bool:
        return self._service is not None

    async def service(self) -> KnowledgeService:
        if self._service is None:
            if self._loading is None:
                self._loading = asyncio.create_task(self._load())
            try:
                await asyncio.shield(self._loading)
            except Exception:
                self._loading = None  # let the next request try again
                raise
        assert self._service is not None
        return self._service

    def warm_up(self) -> None:
        """Start loading the model in the background (the page calls this on open)."""
        if self._service is None and self._loading is None:
            self._loading = asyncio.create_task(self._load())

    async def _load(self) -> None:
        self.embedder = await asyncio.to_thread(shared_embedder, self.settings.model_path(),
                                               self.settings.embedding_encoders)
        self._service = KnowledgeService(self.redis, self.embedder, self.settings)

