"""The one KnowledgeService of the action-server process."""

from __future__ import annotations

import asyncio

from core.redis import text_client
from core.settings import KnowledgeSettings, get_settings
from knowledge.answers.embedder import Embedder
from knowledge.answers.service import KnowledgeService

_embedder: Embedder | None = None
_service: KnowledgeService | None = None
_lock = asyncio.Lock()


def load_embedder(settings: KnowledgeSettings) -> Embedder:
    """Load the model when the action server registers its actions, so the first
    customer does not wait for it."""
    global _embedder
    if _embedder is None:
        _embedder = Embedder(settings.model_path(), encoders=settings.embedding_encoders)
    return _embedder


async def knowledge_service() -> KnowledgeService:
    global _service
    async with _lock:
        if _service is None:
            settings = get_settings()
            redis = text_client(settings.effective_redis_url)
            _service = KnowledgeService(redis, load_embedder(settings.knowledge),
                                        settings.knowledge)
    return _service
