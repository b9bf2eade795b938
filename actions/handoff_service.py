"""The one HandoffService of the action-server process."""

from __future__ import annotations

from redis.asyncio import Redis

from core.settings import get_settings
from handoff.service import HandoffService

_service: HandoffService | None = None


def handoff_service() -> HandoffService:
    global _service
    if _service is None:
        settings = get_settings()
        _service = HandoffService(Redis.from_url(settings.effective_redis_url), settings.handoff)
    return _service
