"""The one KnowledgeService of the action-server process."""

from __future__ import annotations

import asyncio

from core.redis import text_client
from knowledge.answers.embedder import Embedder
from knowledge.answers.service import KnowledgeService
from knowledge.settings import KnowledgeSettings

_embedder: Embedder | None = None
_service: KnowledgeService | None = None
_lock = asyncio.Lock()


def load_embedder(settings: KnowledgeSettings) -> Embedder:
    """Load the model when the action server registers its actions, so the first
    customer does not wait for it."""
    global _embedder
    if _embedder is None:
        _embedder = Embedder(settings.model_path())
    return _embedder


async def knowledge_service() -> KnowledgeService:
    global _service
    async with _lock:
        if _service is None:
            settings = KnowledgeSettings()
            redis = text_client(settings.redis_url)
            _service = KnowledgeService(redis, load_embedder(settings), settings)
    return _service
