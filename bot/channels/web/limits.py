"""Per-address limits on anonymous web chat visitors: new sessions, WebSocket
connects and messages (the last shared by every socket from one address).

Each is a fixed-window counter in Redis (core/counters.py), counted atomically,
so concurrent requests (from any gateway replica) cannot slip past the limit. The
address comes from core/addresses.py (a trusted proxy's header, or the peer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from redis.asyncio import Redis

from bot.channels.web.keys import WEBCHAT_KEYS, WebChatKeys
from core.counters import FixedWindow
from core.settings import Settings

Kind = Literal["session", "connect", "message"]

@dataclass(frozen=True)
class VisitorLimits:
    sessions: int = 30
    connects: int = 60
    messages: int = 60
    window_s: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> VisitorLimits:
        return cls(sessions=settings.webchat_sessions_per_address,
                   connects=settings.webchat_connects_per_address,
                   messages=settings.webchat_messages_per_address,
                   window_s=settings.webchat_address_window_s)

    def of(self, kind: Kind) -> int:
        return {"session": self.sessions, "connect": self.connects,
                "message": self.messages}[kind]


class VisitorLimiter:
    def __init__(self, redis: Redis, limits: VisitorLimits = VisitorLimits(),
                 keys: WebChatKeys = WEBCHAT_KEYS) -> None:
        self._limits = limits
        self._keys = keys
        self._windows = FixedWindow(redis)

    async def count(self, kind: Kind, address: str) -> int:
        """Count one session, connect or message from the address: 0 if it may go
        ahead, else the whole seconds (at least 1) until it may."""
        hit = await self._windows.hit(self._keys.visitor_limit(kind, address),
                                      self._limits.window_s)
        if hit.count <= self._limits.of(kind):
            return 0
        return max(1, math.ceil(hit.window_left_ms / 1000))
