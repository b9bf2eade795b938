"""The one HandoffService of the action-server process."""

from __future__ import annotations

from core.redis import text_client
from core.settings import get_settings
from handoff.service import HandoffService

_service: HandoffService | None = None


def handoff_service() -> HandoffService:
    global _service
    if _service is None:
        settings = get_settings()
        _service = HandoffService(text_client(settings.effective_redis_url), settings.handoff)
    return _service
