"""The one HandoffService of the action-server process."""

from __future__ import annotations

from core.redis import text_client
from handoff.service import HandoffService
from knowledge.settings import KnowledgeSettings

_service: HandoffService | None = None


def handoff_service() -> HandoffService:
    global _service
    if _service is None:
        _service = HandoffService(text_client(KnowledgeSettings().redis_url))
    return _service
