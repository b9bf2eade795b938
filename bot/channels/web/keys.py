"""The web chat's Redis keys: per-address counters of anonymous visitors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from core.keys import KeySpace


@dataclass(frozen=True)
class WebChatKeys(KeySpace):
    not_personal: ClassVar[dict[str, str]] = {
        "visitor_limit": "a count of sessions, connects or messages from one client "
                         "address, named by the address, not a customer; expires with "
                         "its window",
    }

    def visitor_limit(self, kind: str, address: str) -> str:
        """Counter (INCR, expires with the window): bot/channels/web/limits.py."""
        return f"{self.prefix}:webchat:limit:{kind}:{address}"


WEBCHAT_KEYS = WebChatKeys()
